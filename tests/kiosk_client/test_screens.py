"""Every screen in every language: no raw message key, no unformatted placeholder, every glyph in the font,
and every button at least 15 mm on the configured screen (normal and larger text)."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QAbstractButton, QLineEdit, QScrollArea

from devtools.kiosk_demo import STAGES, stage, view_stage
from kiosk_client.geometry import min_touch_px, pixels_per_mm
from kiosk_client.i18n import LANGUAGES, RUBY, catalogs
from kiosk_client.view.theme import FONT_FAMILIES

from .conftest import settle, visible_texts

KEY_LIKE = re.compile(r"\b[a-z_-]+(?:\.[a-z0-9_-]+)+\b")


def test_every_key_exists_in_every_language_with_the_same_placeholders():
    problems = catalogs().check()
    assert problems == []
    assert set(catalogs().messages) == set(LANGUAGES)
    for lang in LANGUAGES:
        for key, value in catalogs().messages[lang].items():
            assert value.strip(), f"{lang}: {key} is empty"
            assert value.count("{") == value.count("}"), f"{lang}: {key} has unbalanced braces"


def test_easy_japanese_carries_furigana_and_renders_it_both_ways():
    easy = catalogs().messages["ja-easy"]
    assert sum(bool(RUBY.search(v)) for v in easy.values()) >= 10
    assert catalogs().text("ja-easy", "consent.camera").startswith("カメラ：市役所（しやくしょ）の")
    html = catalogs().html("ja-easy", "consent.camera")
    assert "市役所<span style='font-size:60%'>（しやくしょ）</span>" in html


def test_the_touch_target_is_15_mm_on_the_configured_screen():
    # 21.5" 1920x1080: 102.5 px per inch, 4.04 px per mm → 61 px
    assert pixels_per_mm(21.5, 1920, 1080) == pytest.approx(4.035, abs=0.01)
    assert min_touch_px(21.5, 1920, 1080) == 61
    assert min_touch_px(15.6, 1366, 768) == 60
    with pytest.raises(ValueError, match="positive size"):
        pixels_per_mm(0, 1920, 1080)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_glyph_of_the_catalog_is_in_the_language_font(lang, qapp):
    font = QFont(FONT_FAMILIES[lang])
    metrics = QFontMetrics(font)
    missing = sorted(
        {
            ch
            for value in catalogs().messages[lang].values()
            for ch in value
            if not ch.isspace() and not metrics.inFontUcs4(ord(ch))
        }
    )
    assert missing == [], f"{lang}: no glyph in {FONT_FAMILIES[lang]} for {''.join(missing)!r} (tofu)"


def _in_scroll_area(widget) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def check_screen(window, controller, lang: str, name: str) -> list[str]:
    problems = []
    keys = catalogs().keys()
    texts = visible_texts(window)
    texts += [w.placeholderText() for w in window.findChildren(QLineEdit) if w.isVisible()]
    for text in texts:
        plain = re.sub(r"<[^>]+>", "", text)
        for token in KEY_LIKE.findall(plain):
            if token in keys:
                problems.append(f"{lang}/{name}: raw key {token!r} on screen")
        if "{" in plain or "}" in plain:
            problems.append(f"{lang}/{name}: unformatted placeholder in {plain!r}")
    floor = window.min_touch_px
    inside = QRect(0, 0, *window.screen_size)  # the configured screen, not the window (which can grow)
    if window.width() > inside.width() or window.height() > inside.height():
        problems.append(
            f"{lang}/{name}: the content needs {window.width()}x{window.height()} px, more than "
            f"the {inside.width()}x{inside.height()} screen"
        )
    for button in window.findChildren(QAbstractButton):
        if button.isVisible() and not _in_scroll_area(button):
            box = button.rect().translated(button.mapTo(window, button.rect().topLeft()))
            if not inside.contains(box):
                problems.append(f"{lang}/{name}: {button.objectName()} is (partly) off the screen at {box}")
    for button in window.findChildren(QAbstractButton):
        if button.isVisible() and (button.width() < floor or button.height() < floor):
            problems.append(
                f"{lang}/{name}: {button.objectName()} is {button.width()}x{button.height()} px, "
                f"under {floor} px (15 mm)"
            )
    for line in window.findChildren(QLineEdit):
        if line.isVisible() and line.height() < floor:
            problems.append(f"{lang}/{name}: {line.objectName()} is {line.height()} px high")
    return problems


async def render(window, controller, name: str, lang: str, *, large_text: bool = False) -> None:
    window.frozen = True
    await stage(controller, name, lang)
    controller.resident.large_text = large_text
    window.frozen = False
    view_stage(window, name)
    await settle(window)
    window.refresh()


async def test_every_screen_in_every_language_has_no_raw_key_and_big_enough_buttons(demo):
    controller, window = demo
    assert window.min_touch_px == 61
    problems: list[str] = []
    buttons_checked = 0
    for lang in LANGUAGES:
        for name in STAGES:
            await render(window, controller, name, lang)
            assert window.stack.currentWidget() is window.current_screen()
            problems += check_screen(window, controller, lang, name)
            buttons_checked += sum(b.isVisible() for b in window.findChildren(QAbstractButton))
    assert problems == []
    assert buttons_checked > 600  # every visible button of every screen, not a handful


@pytest.mark.parametrize("lang", ["ja-easy", "vi"])
async def test_larger_text_keeps_every_button_big_enough(demo, lang):
    controller, window = demo
    problems: list[str] = []
    for name in STAGES:
        await render(window, controller, name, lang, large_text=True)
        problems += check_screen(window, controller, lang, name)
    assert problems == []
    assert window.theme.font_px > 27  # the toggle really enlarges the text


async def test_high_contrast_theme_changes_the_colours(demo, qtbot):
    controller, window = demo
    from .conftest import click

    click(qtbot, window, "lang-ja")
    normal = window.theme.palette.background
    click(qtbot, window, "top-contrast")
    assert controller.resident.high_contrast and window.theme.palette.background != normal
    assert window.findChild(QAbstractButton, "top-contrast").isChecked()
