"""The welcome screen's 「その他の言語（通訳つき）」: the interpreters' 14 languages, each named in Japanese
and in English (the kiosk's fonts cannot draw every script: Devanagari, Thai and Myanmar are not installed).
Choosing one asks for that interpreter with the call (``kiosk_client.interpreter``)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QGridLayout, QPushButton, QVBoxLayout, QWidget

from kiosk_client.controller import KioskController
from kiosk_client.interpreter import choose_with_interpreter
from kiosk_client.view.base import Ctx
from kiosk_client.view.widgets import button, label
from remote_call.wire import INTERPRETER_LANGUAGES

COLUMNS = 4


class OtherLanguages(QWidget):
    """Hidden until the resident touches 「その他の言語」; then one button per interpreter language, in place
    of ``replaces`` (the six screen languages' buttons: the welcome screen stays one page)."""

    def __init__(self, controller: KioskController, replaces: Sequence[QWidget] = ()) -> None:
        super().__init__()
        self._replaces = list(replaces)
        self.setObjectName("other-languages")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.prompt = label(role="subtitle", rich=True)
        layout.addWidget(self.prompt)
        grid = QGridLayout()
        grid.setSpacing(12)
        self.buttons: dict[str, QPushButton] = {}
        for i, code in enumerate(INTERPRETER_LANGUAGES):
            b = button(f"interpreter-lang-{code}")
            b.clicked.connect(lambda _=False, code=code: choose_with_interpreter(controller, code))
            self.buttons[code] = b
            grid.addWidget(b, i // COLUMNS, i % COLUMNS)
        layout.addLayout(grid)
        self.hide()

    def toggle(self) -> None:
        self._show(not self.isVisible())

    def _show(self, shown: bool) -> None:
        self.setVisible(shown)
        for widget in self._replaces:
            widget.setVisible(not shown)

    def refresh(self, ctx: Ctx) -> None:
        own = ctx.h("welcome.other_language_prompt")
        english = ctx.catalogs.html("en", "welcome.other_language_prompt")
        self.prompt.setText(own if ctx.lang == "en" else f"{own}<br>{english}")
        for code, b in self.buttons.items():
            ja = ctx.catalogs.text("ja", f"interpreter.lang.{code}")
            en = ctx.catalogs.text("en", f"interpreter.lang.{code}")
            b.setText(f"{ja} / {en}")

    def clear_resident(self) -> None:
        self._show(False)
