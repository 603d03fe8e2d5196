"""The phrase picker (定型文): the officer picks a library phrase, fills its parameters and sends it; the
resident reads it in their own language. Categories, a search over the Japanese and English wording, a
form for the chosen phrase's parameters (a department or procedure from the directory, a number, a time)
and a preview of both sides: what the officer's chat will show (Japanese) and what the resident will read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QTime, Signal, SignalInstance
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from config.phrasebook import PARAM_KINDS, Category, NameOf, Phrase, PhraseBook, PhraseError, ruby_plain
from remote_call.incall import PhraseRef
from staff_console.i18n import Messages

if TYPE_CHECKING:
    from staff_console.controller import ConsoleController

ParamWidget = QComboBox | QSpinBox | QTimeEdit
ID_ROLE = 256  # Qt.ItemDataRole.UserRole


class PhrasePicker(QWidget):
    phrase_sent = Signal(str, dict)  # phrase id, parameters
    slip_phrase_added = Signal(str, dict)
    scan_requested = Signal(str, dict)  # a scan phrase: ask for a scan with its wording

    def __init__(self, t: Messages, book: PhraseBook, parent: QWidget | None = None):
        super().__init__(parent)
        self.t = t
        self.book = book
        self.departments: list[tuple[str, str]] = []
        self.procedures: list[tuple[str, str]] = []
        self.resident_language = "ja"
        self.name_of: NameOf = lambda kind, item_id, lang: None
        self.fields: dict[str, ParamWidget] = {}
        self.category = QComboBox(self)
        self.category.setObjectName("phraseCategory")
        self.category.addItem(t("phrases.all"), "")
        for category in Category:
            self.category.addItem(t(f"phrases.category.{category.value}"), category.value)
        self.search = QLineEdit(self)
        self.search.setObjectName("phraseSearch")
        self.search.setPlaceholderText(t("phrases.search"))
        self.list = QListWidget(self)
        self.list.setObjectName("phraseList")
        self.list.setWordWrap(True)
        self.form_box = QWidget(self)
        self.form = QFormLayout(self.form_box)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.preview = QLabel("", self)
        self.preview.setObjectName("phrasePreview")
        self.preview.setWordWrap(True)
        self.send = QPushButton(t("phrases.send"), self)
        self.send.setObjectName("primary")
        self.add_to_slip = QPushButton(t("phrases.add_to_slip"), self)
        self.request_scan = QPushButton(t("phrases.request_scan"), self)
        self.request_scan.setObjectName("primary")
        self._layout()
        self.category.currentIndexChanged.connect(self._fill)
        self.search.textChanged.connect(self._fill)
        self.list.currentItemChanged.connect(self._chosen)
        self.send.clicked.connect(lambda: self._emit(self.phrase_sent))
        self.add_to_slip.clicked.connect(lambda: self._emit(self.slip_phrase_added))
        self.request_scan.clicked.connect(lambda: self._emit(self.scan_requested))
        self._fill()

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.category)
        top.addWidget(self.search, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_to_slip)
        buttons.addStretch(1)
        buttons.addWidget(self.request_scan)
        buttons.addWidget(self.send)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.form_box)
        layout.addWidget(self.preview)
        layout.addLayout(buttons)

    # ------------------------------------------------------------------ context of the call

    def set_context(
        self,
        departments: list[tuple[str, str]],
        procedures: list[tuple[str, str]],
        resident_language: str,
        name_of: NameOf,
    ) -> None:
        """The directory's departments and procedures (id, name) and the caller's language."""
        changed = (departments, procedures, resident_language) != (
            self.departments,
            self.procedures,
            self.resident_language,
        )
        self.departments, self.procedures = departments, procedures
        self.resident_language, self.name_of = resident_language, name_of
        if changed:
            self._chosen()

    # ------------------------------------------------------------------ the list

    def own_text(self, phrase: Phrase) -> str:
        """The phrase as the officer reads it: Japanese, or English on an English console."""
        text = phrase.text["en"] if self.t.language == "en" else phrase.text["ja"]
        for name in phrase.params:  # the parameter's label in place of its field name: 〔窓口番号〕
            text = text.replace(f"{{{name}}}", f"〔{self.t(f'phrases.param.{name}')}〕")
        return text

    def matches(self) -> list[Phrase]:
        category = self.category.currentData() or ""
        query = self.search.text().strip().lower()
        found = []
        for phrase in self.book.phrases:
            if category and phrase.category != category:
                continue
            haystack = " ".join(
                (phrase.id, phrase.text["ja"], ruby_plain(phrase.text["ja-easy"]), phrase.text["en"])
            )
            if query and query not in haystack.lower():
                continue
            found.append(phrase)
        return found

    def _fill(self) -> None:
        current = self.current_id()
        self.list.clear()
        for phrase in self.matches():
            item = QListWidgetItem(self.own_text(phrase))
            item.setData(ID_ROLE, phrase.id)
            self.list.addItem(item)
            if phrase.id == current:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        self._chosen()

    def current_id(self) -> str | None:
        item = self.list.currentItem()
        return item.data(ID_ROLE) if item is not None else None

    def choose(self, phrase_id: str) -> None:
        """Select ``phrase_id`` (clearing the filters if they hide it)."""
        if phrase_id not in [p.id for p in self.matches()]:
            self.category.setCurrentIndex(0)
            self.search.clear()
        for row in range(self.list.count()):
            if self.list.item(row).data(ID_ROLE) == phrase_id:
                self.list.setCurrentRow(row)
                return
        raise PhraseError(f"unknown phrase {phrase_id!r}")

    # ------------------------------------------------------------------ parameters and preview

    def _chosen(self, *_: object) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.fields = {}
        phrase_id = self.current_id()
        phrase = self.book.phrase(phrase_id) if phrase_id else None
        for name in phrase.params if phrase else []:
            widget = self._field(PARAM_KINDS[name], name)
            widget.setObjectName(f"param-{name}")
            self.fields[name] = widget
            self.form.addRow(self.t(f"phrases.param.{name}"), widget)
        self.form_box.setVisible(bool(self.fields))
        self.send.setEnabled(phrase is not None)
        self.add_to_slip.setEnabled(phrase is not None)
        self.request_scan.setVisible(phrase is not None and phrase.category == Category.SCAN)
        self._preview()

    def _field(self, kind: str, name: str) -> ParamWidget:
        if kind in ("department", "procedure"):
            box = QComboBox(self)
            for item_id, label in self.departments if kind == "department" else self.procedures:
                box.addItem(label, item_id)
            box.currentIndexChanged.connect(self._preview)
            return box
        if kind == "time":
            edit = QTimeEdit(QTime(13, 0), self)
            edit.setDisplayFormat("HH:mm")
            edit.timeChanged.connect(self._preview)
            return edit
        spin = QSpinBox(self)
        spin.setRange(0, 999_999 if name == "fee" else 999)
        spin.setSingleStep(10 if name == "fee" else 1)
        spin.setValue({"fee": 300, "minutes": 10}.get(name, 1))
        spin.valueChanged.connect(self._preview)
        return spin

    def params(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for name, widget in self.fields.items():
            if isinstance(widget, QComboBox):
                values[name] = str(widget.currentData() or "")
            elif isinstance(widget, QTimeEdit):
                values[name] = widget.time().toString("HH:mm")
            else:
                values[name] = str(widget.value())
        return values

    def rendered(self, lang: str) -> str | None:
        phrase_id = self.current_id()
        if phrase_id is None:
            return None
        try:
            return ruby_plain(self.book.render(phrase_id, lang, self.params(), self.name_of))
        except PhraseError:
            return None  # a parameter not filled in yet (e.g. no departments known)

    def _preview(self, *_: object) -> None:
        japanese = self.rendered("ja")
        if japanese is None:
            self.preview.setText("")
            return
        text = self.t("phrases.preview_officer", text=japanese)
        lang = self.resident_language
        if lang != "ja":
            resident = self.rendered(lang) or ""
            language = self.t(f"lang.{'easy_ja' if lang == 'ja-easy' else lang}")
            text += "\n" + self.t("phrases.preview_resident", language=language, text=resident)
        self.preview.setText(text)

    def _emit(self, signal: SignalInstance) -> None:
        phrase_id = self.current_id()
        if phrase_id is not None and self.rendered("ja") is not None:
            signal.emit(phrase_id, self.params())

    def refresh(self, c: ConsoleController, departments: list[tuple[str, str]]) -> None:
        """The call's context from the controller: the caller's language, the directory's names."""
        history = c.history.get(c.call_id) if c.call_id else None
        language = (
            c.current.caller.language if c.current is not None else history.language if history else "ja"
        )
        config = c.directory.config
        procedures = (
            [(p.id, p.name_ja if self.t.language == "ja" else p.name_en) for p in config.procedures]
            if config
            else []
        )
        self.set_context(
            departments, procedures, "ja-easy" if language == "easy_ja" else language, c.desk.name_of
        )
        self.setEnabled(not c.desk.business)  # a business's browser has no phrase library: it types Japanese


class SlipPhrases(QWidget):
    """The phrases the officer added to the next slip (printed in the resident's language and Japanese)."""

    def __init__(self, t: Messages, book: PhraseBook, parent: QWidget | None = None):
        super().__init__(parent)
        self.book = book
        self.items: list[PhraseRef] = []
        self.list = QListWidget(self)
        self.list.setObjectName("slipPhrases")
        self.list.setMaximumHeight(110)
        self.clear_button = QPushButton(t("slip.clear_phrases"), self)
        self.clear_button.clicked.connect(self.clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addWidget(self.clear_button)
        self.name_of: NameOf = lambda kind, item_id, lang: None

    def add(self, phrase_id: str, params: dict[str, str]) -> None:
        ref = PhraseRef(phrase_id=phrase_id, params=params)
        self.items.append(ref)
        self.list.addItem(ruby_plain(self.book.render(phrase_id, "ja", params, self.name_of)))

    def refs(self) -> list[PhraseRef]:
        return list(self.items)

    def clear(self) -> None:
        self.items.clear()
        self.list.clear()
