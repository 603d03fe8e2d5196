"""The on-screen keyboard: real clicks on its keys type kana with ゛ ゜ 小, switch to letters, delete and
enter; every key is a touch target."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt

from kiosk_client.i18n import LANGUAGES, catalogs
from kiosk_client.view.keyboard import KanaKeyboard
from kiosk_client.view.theme import Theme


def _press(qtbot: Any, keyboard: KanaKeyboard, key: str) -> None:
    widget = keyboard.keys[key]
    assert widget.isVisible(), f"key {key!r} is not visible"
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(widget.width() // 2, widget.height() // 2))


def _keyboard(qtbot: Any, lang: str = "ja") -> KanaKeyboard:
    keyboard = KanaKeyboard()
    theme = Theme.make(high_contrast=False, large_text=False, min_touch_px=61, screen_height_px=1080)
    keyboard.setStyleSheet(theme.stylesheet())
    keyboard.set_labels(lambda key: catalogs().text(lang, key))
    qtbot.addWidget(keyboard)
    keyboard.resize(1100, 560)
    keyboard.show()
    qtbot.waitExposed(keyboard)
    return keyboard


def test_kana_with_marks_backspace_and_enter(qtbot):
    keyboard = _keyboard(qtbot)
    changes: list[str] = []
    keyboard.text_changed.connect(changes.append)
    for key in ("し", "゛", "ゆ", "小", "う", "み", "ん", "は", "゜", "よ", "小", "う"):
        _press(qtbot, keyboard, key)
    assert keyboard.text() == "じゅうみんぱょう"
    _press(qtbot, keyboard, "backspace")
    _press(qtbot, keyboard, "backspace")
    _press(qtbot, keyboard, "backspace")
    _press(qtbot, keyboard, "ひ")
    assert keyboard.text() == "じゅうみんひ"
    assert changes[0] == "し" and changes[1] == "じ" and changes[-1] == "じゅうみんひ"
    with qtbot.waitSignal(keyboard.enter_pressed, timeout=1000) as entered:
        _press(qtbot, keyboard, "enter")
    assert entered.args == ["じゅうみんひ"]


def test_alphanumeric_mode_and_length_limit(qtbot):
    keyboard = _keyboard(qtbot, "en")
    assert keyboard.keys["mode"].text() == "ABC 123"
    _press(qtbot, keyboard, "mode")
    assert keyboard.mode == "alnum" and keyboard.keys["mode"].text() == "Kana"
    assert not keyboard.keys["あ"].isVisible()
    for key in ("T", "A", "X", "space", "1"):
        _press(qtbot, keyboard, key)
    assert keyboard.text() == "TAX 1"
    keyboard.max_length = 5
    _press(qtbot, keyboard, "2")
    assert keyboard.text() == "TAX 1"


def test_every_key_is_a_touch_target_and_labelled_in_every_language(qtbot):
    for lang in LANGUAGES:
        keyboard = _keyboard(qtbot, lang)
        for mode in ("kana", "alnum"):
            if keyboard.mode != mode:
                keyboard.toggle_mode()
            for name, key in keyboard.keys.items():
                if key.isVisible():
                    assert key.width() >= 61 and key.height() >= 61, f"{lang} {name}: {key.size()}"
                    assert key.text().strip(), f"{lang}: key {name} has no label"


async def test_the_search_keyboard_finds_a_procedure_by_its_reading_on_the_kiosk(demo, qtbot):
    from PySide6.QtWidgets import QAbstractButton

    from .conftest import click, settle

    controller, window = demo
    click(qtbot, window, "lang-ja")
    await settle(window)
    click(qtbot, window, "keyboard-toggle")
    await settle(window)
    keyboard = window.findChild(KanaKeyboard, "search-keyboard")
    assert keyboard.isVisible() and keyboard.mode == "kana"
    assert not window.screens["choose"].categories_scroll.isVisible()  # the keyboard takes their place
    for key in ("し", "゛", "ゆ", "小", "う", "み", "ん"):
        _press(qtbot, keyboard, key)
    await settle(window)
    assert controller.resident.search == "じゅうみん"
    tiles = [
        b.objectName()
        for b in window.findChildren(QAbstractButton)
        if b.objectName().startswith("tile-procedure-") and b.isVisible()
    ]
    assert "tile-procedure-juminhyo" in tiles and len(tiles) < 10  # candidates, not the whole list
    click(qtbot, window, "tile-procedure-juminhyo")
    assert controller.resident.procedure == "juminhyo"
    await controller.reset()
    assert keyboard.text() == "" and not keyboard.isVisible()  # the privacy reset forgets the typing
