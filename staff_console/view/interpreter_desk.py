"""The interpreter window's desk: the call's chat (the resident's, the officer's and the interpreter's own
lines) with a line to type into, and the documents the officer shows and the resident scans, with a preview.
Over ``staff_console.interpreter_desk.InterpretingDesk`` (Qt-free)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from staff_console.i18n import Messages
from staff_console.interpreter_desk import InterpretingDesk, SharedDocument

PREVIEW_PX = 260
DOC_ROLE = 256  # Qt.ItemDataRole.UserRole: the item's doc_id


def document_label(t: Messages, shared: SharedDocument) -> str:
    key = "interpreter.shown_by_officer" if shared.peer == "officer" else "interpreter.scanned_by_resident"
    label = t(key, name=shared.offer.name)
    if not shared.ok:
        return t("interpreter.doc_failed", label=label)
    return t("interpreter.doc_withdrawn", label=label) if shared.withdrawn else label


class InterpreterDeskPanel(QWidget):
    def __init__(self, t: Messages, desk: InterpretingDesk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.t, self.desk = t, desk
        self.chat_title = QLabel(t("interpreter.chat_title"), self)
        self.chat = QListWidget(self)
        self.chat.setObjectName("interpreterChat")
        self.chat.setWordWrap(True)
        self.entry = QLineEdit(self)
        self.entry.setPlaceholderText(t("chat.placeholder"))
        self.send = QPushButton(t("chat.send"), self)
        self.shown_title = QLabel(t("interpreter.shown_title"), self)
        self.documents = QListWidget(self)
        self.documents.setObjectName("interpreterDocuments")
        self.preview = QLabel(self)
        self.preview.setObjectName("interpreterPreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumHeight(PREVIEW_PX // 2)
        self.preview.setWordWrap(True)
        line = QHBoxLayout()
        line.addWidget(self.entry, 1)
        line.addWidget(self.send)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.chat_title, self.chat):
            layout.addWidget(widget, 2 if widget is self.chat else 0)
        layout.addLayout(line)
        layout.addWidget(self.shown_title)
        layout.addWidget(self.documents, 1)
        layout.addWidget(self.preview, 2)
        self.send.clicked.connect(self.say)
        self.entry.returnPressed.connect(self.say)
        self.documents.currentItemChanged.connect(lambda *_: self._show_preview())
        self._shown: tuple[int, tuple[str, ...]] = (-1, ())

    def say(self) -> None:
        text = self.entry.text().strip()
        if not text:
            return
        try:
            self.desk.say(text)
        except RuntimeError as exc:  # its connections are gone (the call just ended): say so, keep the text
            self.preview.setText(self.t("error.action", detail=str(exc)))
            return
        self.entry.clear()

    def refresh(self, in_call: bool) -> None:
        self.entry.setEnabled(in_call)
        self.send.setEnabled(in_call)
        lines = [self.t(f"chat.{line.sender}", text=line.text) for line in self.desk.chat]
        if [self.chat.item(i).text() for i in range(self.chat.count())] != lines:
            self.chat.clear()
            self.chat.addItems(lines)
            self.chat.scrollToBottom()
        labels = tuple(document_label(self.t, d) for d in self.desk.documents.values())
        if (len(labels), labels) != self._shown:
            self._shown = (len(labels), labels)
            self.documents.clear()
            for doc_id, label in zip(self.desk.documents, labels, strict=True):
                item = QListWidgetItem(label)
                item.setData(DOC_ROLE, doc_id)
                self.documents.addItem(item)
            if labels:
                self.documents.setCurrentRow(len(labels) - 1)  # the newest one
        self._show_preview()

    def _show_preview(self) -> None:
        item = self.documents.currentItem()
        shared = self.desk.documents.get(item.data(DOC_ROLE)) if item is not None else None
        if shared is None or shared.data is None or shared.withdrawn:
            self.preview.clear()
            return
        pixmap = QPixmap()
        if shared.offer.mime.startswith("image/") and pixmap.loadFromData(shared.data):
            self.preview.setPixmap(
                pixmap.scaled(
                    PREVIEW_PX,
                    PREVIEW_PX,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        else:
            self.preview.setText(self.t("interpreter.no_preview", mime=shared.offer.mime))
