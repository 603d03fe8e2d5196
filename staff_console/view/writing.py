"""The call's written conversation (筆談) on the console: the resident's handwriting drawn as it arrives
(the officer can draw back and clear), the resident's text as it is typed, the officer's own line sent
character by character, and a large caption strip of what the officer types (under the video).

A thin view over the desk's ``Writing`` (``remote_call.rtt``): ``refresh(c)`` draws what the desk holds and
keeps the desk for the officer's input; nothing is kept here past ``reset()``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from remote_call.incall import MAX_DRAFT_CHARS
from remote_call.rtt import InkError, WritingNotes, pad_box
from staff_console.desk import CallDesk
from staff_console.i18n import Messages

RESIDENT_INK = QColor("#111111")
OFFICER_INK = QColor("#1f5fbf")


class InkCanvas(QWidget):
    """The shared pad at the pad's aspect (landscape); the officer draws with the mouse."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inkCanvas")
        self.desk: CallDesk | None = None
        self.page_full = False
        self.setMinimumSize(320, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def _at(self, event: QMouseEvent) -> tuple[float, float]:
        at, box = event.position(), QRectF(*pad_box(self.width(), self.height()))
        return (at.x() - box.x()) / box.width(), (at.y() - box.y()) / box.height()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.desk is not None and self.desk.session is not None:
            try:
                self.desk.writing.pen_down(*self._at(event))
            except InkError:
                self.page_full = True
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.desk is not None:
            self.desk.writing.pen_move(*self._at(event))
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.desk is not None:
            self.desk.writing.pen_up()
            self.update()

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        box = QRectF(*pad_box(self.width(), self.height())).adjusted(1, 1, -2, -2)
        painter.fillRect(box, QColor("#ffffff"))
        painter.setPen(QPen(QColor("#5a6470"), 2))
        painter.drawRect(box)
        if self.desk is not None:
            self._draw(painter, self.desk.writing.notes, box)
        painter.end()

    def _draw(self, painter: QPainter, notes: WritingNotes, box: QRectF) -> None:
        x0, y0, w, h = box.x(), box.y(), box.width(), box.height()
        width = max(2.5, min(w, h) / 90)
        for stroke in notes.page.strokes.values():
            colour = OFFICER_INK if stroke.author == "officer" else RESIDENT_INK
            painter.setPen(
                QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
            )
            points = [QPointF(x0 + x * w, y0 + y * h) for x, y in stroke.points]
            if len(points) == 1:
                painter.drawPoint(points[0])
            elif points:
                path = QPainterPath(points[0])
                for point in points[1:]:
                    path.lineTo(point)
                painter.drawPath(path)


class WritingTab(QWidget):
    """The 筆談 tab: the pad, the resident's live text, the officer's live input and the caption switch."""

    def __init__(self, t: Messages, caption: QLabel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.t = t
        self.caption = caption  # the large strip under the video, shown while the switch is on
        self.desk: CallDesk | None = None
        self.heading = heading = QLabel(t("writing.canvas"), self)
        heading.setObjectName("heading")
        heading.setWordWrap(True)
        self.canvas = InkCanvas(self)
        self.clear = QPushButton(t("writing.clear"), self)
        self.clear.clicked.connect(self._clear)
        self.resident_title = QLabel(t("writing.resident_live"), self)
        self.resident_text = QLabel("", self)
        self.resident_text.setObjectName("residentLiveText")
        self.resident_text.setWordWrap(True)
        self.resident_text.setStyleSheet("font-size: 22px; font-weight: bold;")
        self.input = QLineEdit(self)
        self.input.setObjectName("writingInput")
        self.input.setMaxLength(MAX_DRAFT_CHARS)
        self.input.setPlaceholderText(t("writing.input"))
        self.send = QPushButton(t("writing.send"), self)
        self.send.setObjectName("primary")
        self.show_caption = QCheckBox(t("writing.caption"), self)
        self.input.textEdited.connect(self._typed)
        self.input.returnPressed.connect(self._send)
        self.send.clicked.connect(self._send)
        self.show_caption.toggled.connect(self._caption_toggled)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addWidget(self.send)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.clear)
        layout.addWidget(self.resident_title)
        layout.addWidget(self.resident_text)
        layout.addLayout(row)
        layout.addWidget(self.show_caption)

    # ------------------------------------------------------------------ the officer's input

    def _typed(self, text: str) -> None:
        if self.desk is not None and self.desk.session is not None:
            self.desk.writing.type(text)
        self._show_caption(text)

    def _send(self) -> None:
        if self.desk is not None and self.desk.session is not None:
            self.desk.write_line()
        self.input.clear()

    def _clear(self) -> None:
        self.canvas.page_full = False
        if self.desk is not None and self.desk.session is not None:
            self.desk.writing.clear()

    def _caption_toggled(self, on: bool) -> None:
        self.caption.setVisible(on)
        self._show_caption(self.input.text())

    def _show_caption(self, text: str) -> None:
        self.caption.setText(text)

    # ------------------------------------------------------------------ rendering

    def refresh(self, desk: CallDesk) -> None:
        self.desk = desk
        self.canvas.desk = desk
        notes = desk.writing.notes
        self.resident_text.setText(notes.peer_draft)
        if not notes.page.strokes:
            self.canvas.page_full = False
        self.heading.setText(self.t("writing.page_full" if self.canvas.page_full else "writing.canvas"))
        self.canvas.update()

    def reset(self) -> None:
        self.input.clear()
        self.resident_text.setText("")
        self.caption.setText("")
        self.canvas.page_full = False
        self.canvas.update()
