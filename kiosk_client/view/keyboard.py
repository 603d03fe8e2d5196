"""The kiosk's on-screen keyboard: a large gojūon kana board (with ゛ ゜ 小 ー) and an alphanumeric board.

It keeps the text typed so far (the ゛ ゜ 小 keys change the last character, see ``kiosk_client.search``)
and says what happens by signals: ``text_changed(text)`` after every key, ``backspace_pressed()``,
``enter_pressed(text)``. Used for the procedure search (``view.choose.ChooseScreen``) and reusable for
real-time text in a call. Every key is a touch button at least ``min_touch_px`` square (the theme's
stylesheet); the control keys' labels come from the message catalogs (``keyboard.*``).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk_client.search import ALPHANUMERIC, GOJUON, add_dakuten, add_handakuten, toggle_small
from kiosk_client.view.widgets import button

MARKS = (("゛", add_dakuten), ("゜", add_handakuten), ("小", toggle_small))
CONTROL_KEYS = ("mode", "space", "backspace", "enter")


class KanaKeyboard(QWidget):
    text_changed = Signal(str)
    backspace_pressed = Signal()
    enter_pressed = Signal(str)

    def __init__(self, name: str = "keyboard", *, max_length: int = 200) -> None:
        super().__init__()
        self.setObjectName(name)
        self.max_length = max_length
        self._text = ""
        self._mode = "kana"
        self._labels: Callable[[str], str] | None = None
        self.keys: dict[str, QPushButton] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.pages = QStackedWidget()
        self.pages.addWidget(self._kana_page())
        self.pages.addWidget(self._alnum_page())
        layout.addWidget(self.pages, 1)
        layout.addLayout(self._control_row())

    # ------------------------------------------------------------------ building

    def _key(self, char: str, on_press: Callable[..., None]) -> QPushButton:
        key = button(f"key-{char}", "key")
        # Keys share the room they get, down to the touch size (the stylesheet's min-height), never less.
        key.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        key.setText(char)
        key.clicked.connect(on_press)
        self.keys[char] = key
        return key

    def _grid(self) -> tuple[QWidget, QGridLayout]:
        page = QWidget()
        grid = QGridLayout(page)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        return page, grid

    def _kana_page(self) -> QWidget:
        page, grid = self._grid()
        for column, kana in enumerate(GOJUON):
            for row, char in enumerate(kana):
                if char:
                    grid.addWidget(self._key(char, lambda _=False, c=char: self.type(c)), row, column)
        extra = len(GOJUON)
        for row, (mark, change) in enumerate(MARKS):
            grid.addWidget(self._key(mark, lambda _=False, f=change: self._change_last(f)), row, extra)
        grid.addWidget(self._key("ー", lambda _=False: self.type("ー")), len(MARKS), extra)
        return page

    def _alnum_page(self) -> QWidget:
        page, grid = self._grid()
        for row, chars in enumerate(ALPHANUMERIC):
            for column, char in enumerate(chars):
                grid.addWidget(self._key(char, lambda _=False, c=char: self.type(c)), row, column)
        return page

    def _control_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(6)
        actions: dict[str, Callable[[], None]] = {
            "mode": self.toggle_mode,
            "space": lambda: self.type(" "),
            "backspace": self.backspace,
            "enter": lambda: self.enter_pressed.emit(self._text),
        }
        for name in CONTROL_KEYS:
            key = button(f"key-{name}", "primary" if name == "enter" else "key-control", wrap=True)
            key.clicked.connect(actions[name])
            self.keys[name] = key
            row.addWidget(key, 3 if name == "space" else 2)
        return row

    def set_labels(self, text: Callable[[str], str]) -> None:
        """Label the control keys in the resident's language: ``text(key)`` looks up a catalog message."""
        other = "keyboard.alphanumeric" if self._mode == "kana" else "keyboard.kana"
        self.keys["mode"].setText(text(other))
        for name in ("space", "backspace", "enter"):
            self.keys[name].setText(text(f"keyboard.{name}"))
        self._labels = text

    # ------------------------------------------------------------------ typing

    @property
    def mode(self) -> str:
        return self._mode

    def toggle_mode(self) -> None:
        self._mode = "alnum" if self._mode == "kana" else "kana"
        self.pages.setCurrentIndex(0 if self._mode == "kana" else 1)
        if self._labels is not None:
            self.set_labels(self._labels)

    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        """Set the text without emitting (the screen shows what the controller holds)."""
        self._text = text[: self.max_length]

    def clear(self) -> None:
        self._text = ""

    def type(self, chars: str) -> None:
        if len(self._text) + len(chars) > self.max_length:
            return
        self._set(self._text + chars)

    def backspace(self) -> None:
        self.backspace_pressed.emit()
        if self._text:
            self._set(self._text[:-1])

    def _change_last(self, change: Callable[[str], str]) -> None:
        self._set(change(self._text))

    def _set(self, text: str) -> None:
        if text == self._text:
            return
        self._text = text
        self.text_changed.emit(text)
