"""The call's written conversation (筆談) on the kiosk: the officer's text as it is typed, in large type; a
handwriting pad whose strokes the officer sees as they are drawn (and the officer's, in blue); the large
kana/alphanumeric keyboard (``view.keyboard``) whose text the officer sees character by character.

A thin view: every touch goes to the desk's ``Writing`` (``remote_call.rtt``), and ``refresh(ctx)`` draws what
the resident's session holds (``ResidentSession.writing``), so the privacy reset forgets it with the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from kiosk_client.controller import KioskController
from kiosk_client.view.base import Ctx, panel
from kiosk_client.view.keyboard import KanaKeyboard
from kiosk_client.view.widgets import button, label
from remote_call.incall import MAX_DRAFT_CHARS
from remote_call.rtt import InkError, InkPage, pad_box

OFFICER_INK = QColor("#1f5fbf")  # the officer's strokes: blue, the resident's in the text colour
PAD_MODE, KEYBOARD_MODE = 0, 1


class InkPad(QWidget):
    """Draws both sides' strokes on the shared page; a finger (or the mouse) draws the resident's."""

    def __init__(self, controller: KioskController, on_full: Any) -> None:
        super().__init__()
        self.setObjectName("ink-pad")
        self.controller = controller
        self._on_full = on_full
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(240)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)

    @property
    def page(self) -> InkPage:
        return self.controller.resident.writing.page

    def _normalised(self, event: QMouseEvent) -> tuple[float, float]:
        at, box = event.position(), QRectF(*pad_box(self.width(), self.height()))
        return (at.x() - box.x()) / box.width(), (at.y() - box.y()) / box.height()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        try:
            self.controller.desk.writing.pen_down(*self._normalised(event))
        except InkError:
            self._on_full()
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self.controller.desk.writing.pen_move(*self._normalised(event))
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self.controller.desk.writing.pen_up()
        self.update()

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        box = QRectF(*pad_box(self.width(), self.height())).adjusted(1, 1, -2, -2)
        painter.fillRect(box, palette.base())
        painter.setPen(QPen(palette.text().color(), 3))
        painter.drawRect(box)
        x0, y0, w, h = box.x(), box.y(), box.width(), box.height()
        width = max(4.0, min(w, h) / 90)
        for stroke in self.page.strokes.values():
            colour = OFFICER_INK if stroke.author == "officer" else palette.text().color()
            pen = QPen(
                colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin
            )
            painter.setPen(pen)
            points = [QPointF(x0 + x * w, y0 + y * h) for x, y in stroke.points]
            if len(points) == 1:
                painter.drawPoint(points[0])
            elif points:
                path = QPainterPath(points[0])
                for point in points[1:]:
                    path.lineTo(point)
                painter.drawPath(path)
        painter.end()


class WritingPanel(QWidget):
    """The officer's live text on top; the pad or the keyboard below, with the resident's own draft."""

    def __init__(self, controller: KioskController, on_close: Callable[[], None]) -> None:
        """``on_close``: back to the officer's video (the call screen's switch)."""
        super().__init__()
        self.setObjectName("writing-panel")
        self.controller = controller
        self._full = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self._build_live())
        modes = QHBoxLayout()
        self.mode_pad = button("writing-mode-pad", checkable=True, wrap=True)
        self.mode_keyboard = button("writing-mode-keyboard", checkable=True, wrap=True)
        self.mode_pad.clicked.connect(lambda: self._set_mode(PAD_MODE))
        self.mode_keyboard.clicked.connect(lambda: self._set_mode(KEYBOARD_MODE))
        self.clear = button("writing-clear", "danger", wrap=True)
        self.clear.clicked.connect(self._clear)
        self.back = button("writing-close", wrap=True)
        self.back.clicked.connect(on_close)
        for widget in (self.mode_pad, self.mode_keyboard, self.clear, self.back):
            modes.addWidget(widget, 1)
        layout.addLayout(modes)
        self.modes = QStackedWidget()
        self.pad = InkPad(controller, self._page_full)
        self.modes.addWidget(self._build_pad_page())
        self.modes.addWidget(self._build_keyboard_page())
        layout.addWidget(self.modes, 1)
        self._set_mode(PAD_MODE)

    def _build_live(self) -> QWidget:
        live = panel()
        live.setObjectName("officer-live")
        box = QHBoxLayout(live)  # the title beside the text: the keyboard below needs every line
        box.setContentsMargins(16, 8, 16, 8)
        self.officer_title = label(rich=True, wrap=False, align=Qt.AlignmentFlag.AlignTop)
        self.officer_text = label(role="big")
        self.officer_text.setObjectName("officer-live-text")
        self.officer_text.setMinimumHeight(60)
        box.addWidget(self.officer_title)
        box.addWidget(self.officer_text, 1)
        return live

    def _build_pad_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 0, 0, 0)
        self.pad_hint = label(rich=True)
        box.addWidget(self.pad_hint)
        box.addWidget(self.pad, 1)
        return page

    def _build_keyboard_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        box.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.own_title = label(rich=True, wrap=False)
        self.own_text = label(role="title")
        self.own_text.setObjectName("own-live-text")
        self.send = button("writing-send", "primary")
        self.send.clicked.connect(self._send)
        row.addWidget(self.own_title)
        row.addWidget(self.own_text, 1)
        row.addWidget(self.send)
        box.addLayout(row)
        self.keyboard = KanaKeyboard("writing-keyboard", max_length=MAX_DRAFT_CHARS)
        self.keyboard.text_changed.connect(self.controller.desk.writing.type)
        self.keyboard.enter_pressed.connect(lambda _text: self._send())
        box.addWidget(self.keyboard, 1)
        return page

    # ------------------------------------------------------------------ touches

    def _set_mode(self, mode: int) -> None:
        self.modes.setCurrentIndex(mode)
        self.mode_pad.setChecked(mode == PAD_MODE)
        self.mode_keyboard.setChecked(mode == KEYBOARD_MODE)

    def show_keyboard(self, keyboard: bool) -> None:
        self._set_mode(KEYBOARD_MODE if keyboard else PAD_MODE)

    def _send(self) -> None:
        self.controller.desk.write_line()
        self.keyboard.clear()

    def _clear(self) -> None:
        self._full = False
        self.controller.desk.writing.clear()

    def _page_full(self) -> None:
        self._full = True
        self.controller.events.emit("writing", kind="full")

    # ------------------------------------------------------------------ rendering

    def refresh(self, ctx: Ctx) -> None:
        notes = ctx.controller.resident.writing
        self.officer_title.setText(ctx.h("writing.officer_live"))
        self.officer_text.setText(notes.peer_draft)
        self.mode_pad.setText(ctx.t("writing.mode_pad"))
        self.mode_keyboard.setText(ctx.t("writing.mode_keyboard"))
        self.clear.setText(ctx.t("writing.clear"))
        self.back.setText(ctx.t("writing.close"))
        self._full = self._full and bool(notes.page.strokes)
        hint = ctx.h("writing.page_full") if self._full else ctx.h("writing.pad_hint")
        self.pad_hint.setText(f"<b>{hint}</b>" if self._full else hint)
        self.own_title.setText(ctx.h("writing.your_text"))
        self.own_text.setText(notes.own_draft)
        self.send.setText(ctx.t("writing.send"))
        self.keyboard.set_labels(ctx.t)
        if self.keyboard.text() != notes.own_draft:
            self.keyboard.set_text(notes.own_draft)
        self.pad.update()

    def clear_resident(self) -> None:
        self.keyboard.clear()
        self.officer_text.setText("")
        self.own_text.setText("")
        self._full = False
        self._set_mode(PAD_MODE)
        self.pad.update()
