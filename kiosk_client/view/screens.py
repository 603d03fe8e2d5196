"""The kiosk's screens. Each builds its widgets once and ``render(ctx)`` fills them from the controller; every
button only forwards the touch to a controller method."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kiosk_client.controller import CANNED_REPLIES, RATINGS, KioskController
from kiosk_client.i18n import LANGUAGES, Catalogs
from kiosk_client.view.widgets import ImageView, TileButton, VideoView, button, label


@dataclass
class Ctx:
    controller: KioskController
    catalogs: Catalogs
    lang: str

    def t(self, key: str, **values: Any) -> str:
        return self.catalogs.text(self.lang, key, **values)

    def h(self, key: str, **values: Any) -> str:
        return self.catalogs.html(self.lang, key, **values)


_RUNNING: set[asyncio.Future] = set()


def run(coro: Any) -> None:
    """Forward a touch to a coroutine method of the controller without blocking Qt."""
    task = asyncio.ensure_future(coro)
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


def _panel() -> QFrame:
    frame = QFrame()
    frame.setProperty("role", "panel")
    return frame


def _clear_layout(layout: Any) -> None:
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget()
        if widget is not None:
            widget.setParent(None)
            widget.deleteLater()


class Screen(QWidget):
    def render(self, ctx: Ctx) -> None:
        raise NotImplementedError

    def clear_resident(self) -> None:
        """Privacy reset: drop anything of the resident this screen holds (text typed, images)."""


# ------------------------------------------------------------------------------------------ welcome


class WelcomeScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(80, 40, 80, 40)
        layout.setSpacing(24)
        self.title = label(role="big", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.subtitle = label(role="subtitle", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.prompt = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addSpacing(20)
        layout.addWidget(self.prompt)
        grid = QGridLayout()
        grid.setSpacing(24)
        self.languages: dict[str, QPushButton] = {}
        for i, lang in enumerate(LANGUAGES):
            b = button(f"lang-{lang}", "primary")
            b.setProperty("big", "true")
            b.clicked.connect(lambda _=False, lang=lang: controller.choose_language(lang))
            self.languages[lang] = b
            grid.addWidget(b, i // 3, i % 3)
        layout.addLayout(grid)
        layout.addStretch(2)

    def render(self, ctx: Ctx) -> None:
        city = ctx.controller.city.name_ja if ctx.lang in ("ja", "ja-easy") else ctx.controller.city.name_en
        self.title.setText(ctx.h("welcome.title", city=city))
        self.subtitle.setText(ctx.h("welcome.subtitle"))
        self.prompt.setText(ctx.h("welcome.choose_language"))
        for lang, b in self.languages.items():
            b.setText(ctx.catalogs.text(lang, "language.self_name"))


# ------------------------------------------------------------------------------------------ choose


class ChooseScreen(Screen):
    COLUMNS = 3

    def __init__(self, controller: KioskController):
        super().__init__()
        self.controller = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 16, 40, 16)
        layout.setSpacing(14)
        self.title = label(role="title", rich=True)
        layout.addWidget(self.title)
        modes = QHBoxLayout()
        self.by_procedure = button("mode-procedure", checkable=True)
        self.by_department = button("mode-department", checkable=True)
        self.by_procedure.clicked.connect(lambda: controller.set_choose_mode("procedure"))
        self.by_department.clicked.connect(lambda: controller.set_choose_mode("department"))
        modes.addWidget(self.by_procedure)
        modes.addWidget(self.by_department)
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.textEdited.connect(controller.set_search)
        modes.addWidget(self.search, 2)
        layout.addLayout(modes)
        body = QHBoxLayout()
        body.setSpacing(16)
        self.categories_box = QWidget()
        self.categories_layout = QVBoxLayout(self.categories_box)
        self.categories_layout.setContentsMargins(0, 0, 0, 0)
        self.categories_layout.setSpacing(10)
        categories_scroll = QScrollArea()
        categories_scroll.setWidgetResizable(True)
        categories_scroll.setWidget(self.categories_box)
        categories_scroll.setFixedWidth(380)
        self.categories_scroll = categories_scroll
        body.addWidget(categories_scroll)
        self.tiles_box = QWidget()
        self.tiles_layout = QGridLayout(self.tiles_box)
        self.tiles_layout.setSpacing(14)
        self.tiles_layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.tiles_box)
        body.addWidget(scroll, 1)
        layout.addLayout(body, 1)
        self.empty = label(rich=True)
        layout.addWidget(self.empty)
        self._signature: tuple | None = None

    def clear_resident(self) -> None:
        self.search.clear()
        self._signature = None

    def _status_lines(self, ctx: Ctx, dep: Any) -> list[tuple[str, str | None]]:
        if dep.open:
            text = (
                ctx.t("tile.open_wait", waiting=dep.waiting, minutes=dep.wait_minutes)
                if dep.waiting
                else ctx.t("tile.open_no_wait")
            )
            return [(text, "open")]
        return [
            (ctx.t("tile.closed"), "closed"),
            (ctx.t("tile.next_open", when=ctx.catalogs.when(ctx.lang, dep.next_open)), "closed"),
        ]

    def render(self, ctx: Ctx) -> None:
        c = ctx.controller
        r = c.resident
        self.title.setText(ctx.h("choose.title"))
        self.by_procedure.setText(ctx.t("choose.by_procedure"))
        self.by_department.setText(ctx.t("choose.by_department"))
        self.by_procedure.setChecked(r.choose_mode == "procedure")
        self.by_department.setChecked(r.choose_mode == "department")
        self.search.setPlaceholderText(ctx.t("choose.search_placeholder"))
        if self.search.text() != r.search:
            self.search.setText(r.search)
        by_procedure = r.choose_mode == "procedure"
        self.search.setVisible(by_procedure)
        self.categories_scroll.setVisible(by_procedure)
        departments = c.menu.departments()
        signature = (
            ctx.lang,
            r.choose_mode,
            r.category,
            r.search,
            tuple(departments),
            id(ctx.catalogs),
            c.resident.large_text,
        )
        if signature == self._signature:
            return
        self._signature = signature
        _clear_layout(self.categories_layout)
        _clear_layout(self.tiles_layout)
        if by_procedure:
            categories: list[str | None] = [None, *c.menu.categories()]
            for category in categories:
                b = TileButton(f"category-{category or 'all'}")
                b.setCheckable(True)
                b.set_content(
                    ctx.t("choose.all_categories")
                    if category is None
                    else ctx.catalogs.category(ctx.lang, category),
                    [],
                )
                b.setChecked(r.category == category)
                b.set_checked_look(r.category == category)
                b.clicked.connect(lambda _=False, cat=category: c.set_category(cat))
                self.categories_layout.addWidget(b)
            self.categories_layout.addStretch(1)
            items = c.visible_procedures()
            for i, proc in enumerate(items):
                tile = TileButton(f"tile-procedure-{proc.id}")
                name = proc.name_ja if ctx.lang in ("ja", "ja-easy") else proc.name_en
                lines = [
                    (
                        ctx.catalogs.category(ctx.lang, proc.category)
                        + " / "
                        + c.department_name(proc.department.id, ctx.lang),
                        "subtitle",
                    )
                ]
                lines += self._status_lines(ctx, proc.department)
                if proc.convenience_store:
                    lines.append((ctx.t("tile.convenience"), None))
                tile.set_content(name, lines[:4] if len(lines) <= 4 else lines[:3])
                tile.clicked.connect(lambda _=False, pid=proc.id: c.select_procedure(pid))
                self.tiles_layout.addWidget(tile, i // self.COLUMNS, i % self.COLUMNS)
            shown = len(items)
        else:
            for i, dep in enumerate(departments):
                tile = TileButton(f"tile-department-{dep.id}")
                tile.set_content(c.department_name(dep.id, ctx.lang), self._status_lines(ctx, dep))
                tile.clicked.connect(lambda _=False, did=dep.id: c.select_department(did))
                self.tiles_layout.addWidget(tile, i // self.COLUMNS, i % self.COLUMNS)
            shown = len(departments)
        self.empty.setText(ctx.h("choose.none_found") if shown == 0 else "")
        self.empty.setVisible(shown == 0)


# ------------------------------------------------------------------------------------------ consent


class ConsentScreen(Screen):
    KEYS = ("consent.camera", "consent.microphone", "consent.scanner", "consent.no_recording")

    def __init__(self, controller: KioskController):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(160, 30, 160, 30)
        layout.setSpacing(22)
        self.title = label(role="title", rich=True)
        layout.addWidget(self.title)
        panel = _panel()
        inner = QVBoxLayout(panel)
        inner.setContentsMargins(36, 28, 36, 28)
        inner.setSpacing(22)
        self.items = []
        for key in self.KEYS:
            item = label(rich=True)
            if key == "consent.no_recording":
                item.setStyleSheet("font-weight: bold;")
            self.items.append(item)
            inner.addWidget(item)
        scroll = QScrollArea()  # long languages with larger text scroll; the buttons stay on screen
        scroll.setWidgetResizable(True)
        scroll.setWidget(panel)
        layout.addWidget(scroll, 1)
        row = QHBoxLayout()
        self.decline = button("consent-decline")
        self.agree = button("consent-agree", "primary")
        self.decline.clicked.connect(controller.home)
        self.agree.clicked.connect(controller.accept_consent)
        row.addWidget(self.decline, 1)
        row.addWidget(self.agree, 2)
        layout.addLayout(row)

    def render(self, ctx: Ctx) -> None:
        self.title.setText(ctx.h("consent.title"))
        for item, key in zip(self.items, self.KEYS, strict=True):
            item.setText(ctx.h(key))
        self.decline.setText(ctx.t("consent.decline"))
        self.agree.setText(ctx.t("consent.agree"))


# ------------------------------------------------------------------------------------------ preflight


class PreflightScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        self.controller = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(60, 20, 60, 20)
        layout.setSpacing(16)
        self.title = label(role="title", rich=True)
        layout.addWidget(self.title)
        body = QHBoxLayout()
        body.setSpacing(30)
        left = QVBoxLayout()
        self.preview = VideoView("preflight-video", lambda: controller.media.preview.frame, mirror=True)
        self.preview.setMinimumSize(640, 400)
        self.camera_hint = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        left.addWidget(self.camera_hint)
        left.addWidget(self.preview, 1)
        body.addLayout(left, 3)
        right = QVBoxLayout()
        right.setSpacing(18)
        self.mic_hint = label(rich=True)
        self.meter = QProgressBar()
        self.meter.setObjectName("mic-meter")
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.device_notes = label(rich=True)
        right.addStretch(1)
        right.addWidget(self.mic_hint)
        right.addWidget(self.meter)
        right.addWidget(self.device_notes)
        right.addStretch(1)
        self.call = button("preflight-call", "primary")
        self.call.clicked.connect(lambda: run(controller.call_officer()))
        right.addWidget(self.call)
        body.addLayout(right, 2)
        layout.addLayout(body, 1)

    def tick(self) -> None:
        self.preview.tick()
        # The meter reads in dBFS-ish steps: speech at -30 dBFS fills about half.
        level = self.controller.media.mic_level
        self.meter.setValue(0 if level <= 0 else max(0, min(100, int(100 + 20 * 2.5 * _log10(level)))))

    def render(self, ctx: Ctx) -> None:
        self.title.setText(ctx.h("preflight.title"))
        self.camera_hint.setText(ctx.h("preflight.camera_hint"))
        self.mic_hint.setText(ctx.h("preflight.mic_hint"))
        notes = []
        if ctx.controller.device_unusable("camera"):
            notes.append(ctx.h("trouble.camera"))
        if ctx.controller.device_unusable("microphone"):
            notes.append(ctx.h("trouble.microphone"))
        self.device_notes.setText("<br>".join(notes))
        self.device_notes.setVisible(bool(notes))
        self.call.setText(ctx.t("preflight.call"))

    def clear_resident(self) -> None:
        self.preview.clear()
        self.meter.setValue(0)


def _log10(x: float) -> float:
    import math

    return math.log10(max(x, 1e-6))


# ------------------------------------------------------------------------------------------ waiting


class WaitingScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(120, 40, 120, 40)
        layout.setSpacing(28)
        self.title = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.department = label(role="subtitle", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.position = label(role="big", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.minutes = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)
        for widget in (self.title, self.department, self.position, self.minutes):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.cancel = button("waiting-cancel")
        self.cancel.clicked.connect(controller.cancel_wait)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.cancel, 2)
        row.addStretch(1)
        layout.addLayout(row)

    def render(self, ctx: Ctx) -> None:
        c = ctx.controller
        r = c.resident
        self.title.setText(ctx.h("waiting.title"))
        self.department.setText(c.department_name(r.department, ctx.lang))
        if r.position is None:
            self.position.setText(ctx.h("waiting.requested"))
            self.minutes.setText("")
        else:
            self.position.setText(ctx.h("waiting.position", position=r.position))
            minutes = c.wait_minutes()
            self.minutes.setText(
                ctx.h("waiting.minutes", minutes=minutes)
                if minutes and r.position > 1
                else ctx.h("waiting.soon")
            )
        self.cancel.setText(ctx.t("waiting.cancel"))


class ConnectingScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        layout = QVBoxLayout(self)
        self.title = label(role="big", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.officer = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.officer)
        layout.addStretch(1)

    def render(self, ctx: Ctx) -> None:
        self.title.setText(ctx.h("connecting.title"))
        name = ctx.controller.resident.officer_name
        self.officer.setText(ctx.h("call.officer", name=name) if name else "")


# ------------------------------------------------------------------------------------------ in call


class InCallScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        self.controller = controller
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 8, 16, 8)
        layout.setSpacing(16)

        # Left: the officer, large; the resident's self-view small below; or a document the officer shows.
        left = QVBoxLayout()
        self.officer_name = label(role="title", rich=True)
        left.addWidget(self.officer_name)
        self.main_stack = QStackedWidget()
        video_page = QWidget()
        video_layout = QVBoxLayout(video_page)
        video_layout.setContentsMargins(0, 0, 0, 0)
        self.officer_video = VideoView("officer-video", controller.officer_frame)
        video_layout.addWidget(self.officer_video, 1)
        self.main_stack.addWidget(video_page)
        doc_page = QWidget()
        doc_layout = QVBoxLayout(doc_page)
        doc_layout.setContentsMargins(0, 0, 0, 0)
        self.document_title = label(role="title", rich=True)
        self.document = ImageView("shown-document")
        self.document_close = button("document-close")
        self.document_close.clicked.connect(self._close_document)
        doc_layout.addWidget(self.document_title)
        doc_layout.addWidget(self.document, 1)
        doc_layout.addWidget(self.document_close)
        self.main_stack.addWidget(doc_page)
        left.addWidget(self.main_stack, 1)
        self_row = QHBoxLayout()
        self.muted_note = label(rich=True)
        self_row.addWidget(self.muted_note, 1)
        self.self_view = VideoView("self-video", lambda: controller.media.self_view.frame, mirror=True)
        self.self_view.setFixedSize(320, 200)
        self_row.addWidget(self.self_view)
        left.addLayout(self_row)
        layout.addLayout(left, 3)

        # Right: chat or the scan prompt; then the controls and the large end button.
        right = QVBoxLayout()
        right.setSpacing(12)
        self.side_stack = QStackedWidget()
        chat_page = _panel()
        chat_layout = QVBoxLayout(chat_page)
        chat_layout.setContentsMargins(16, 12, 16, 12)
        self.chat_title = label(role="title", rich=True)
        self.chat = label(rich=True)
        self.chat.setObjectName("chat")
        self.chat.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.chat_scroll = QScrollArea()
        self.chat_scroll.setWidgetResizable(True)
        self.chat_scroll.setWidget(self.chat)
        chat_layout.addWidget(self.chat_title)
        chat_layout.addWidget(self.chat_scroll, 1)
        replies = QGridLayout()
        self.replies: dict[str, QPushButton] = {}
        for i, key in enumerate(CANNED_REPLIES):
            b = button(f"reply-{key.split('.')[1]}", wrap=True)
            b.clicked.connect(lambda _=False, key=key: controller.send_reply(key))
            self.replies[key] = b
            replies.addWidget(b, i // 2, i % 2)
        chat_layout.addLayout(replies)
        self.side_stack.addWidget(chat_page)

        scan_page = _panel()
        scan_layout = QVBoxLayout(scan_page)
        scan_layout.setContentsMargins(16, 12, 16, 12)
        self.scan_title = label(role="title", rich=True)
        self.scan_prompt = label(rich=True)
        self.scan_stage = label(rich=True)
        self.scan_stage.setObjectName("scan-stage")
        self.scan_stage.setStyleSheet("font-weight: bold;")
        self.scan_thumbnail = ImageView("scan-thumbnail")
        self.scan_thumbnail.setMinimumHeight(120)
        self.scan_button = button("scan-button", "primary")
        self.scan_button.clicked.connect(controller.scan_now)
        self.scan_cancel = button("scan-cancel")
        self.scan_cancel.clicked.connect(controller.cancel_scan)
        # The guidance scrolls if it is long (larger text, long languages); the buttons always stay visible.
        guidance = QWidget()
        guidance_layout = QVBoxLayout(guidance)
        guidance_layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.scan_title, self.scan_prompt, self.scan_stage):
            guidance_layout.addWidget(widget)
        guidance_layout.addWidget(self.scan_thumbnail, 1)
        guidance_scroll = QScrollArea()
        guidance_scroll.setWidgetResizable(True)
        guidance_scroll.setWidget(guidance)
        scan_layout.addWidget(guidance_scroll, 1)
        scan_layout.addWidget(self.scan_button)
        scan_layout.addWidget(self.scan_cancel)
        self.side_stack.addWidget(scan_page)
        right.addWidget(self.side_stack, 1)

        self.controls_stack = QStackedWidget()
        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.mute = button("mute", checkable=True)
        self.mute.clicked.connect(controller.toggle_mute)
        self.volume_down = button("volume-down", wrap=True)
        self.volume_down.clicked.connect(lambda: controller.change_volume(-1))
        self.volume_up = button("volume-up", wrap=True)
        self.volume_up.clicked.connect(lambda: controller.change_volume(+1))
        controls_layout.addWidget(self.mute)
        row.addWidget(self.volume_down, 1)
        self.volume_label = label(align=Qt.AlignmentFlag.AlignCenter, wrap=False)
        row.addWidget(self.volume_label)
        row.addWidget(self.volume_up, 1)
        controls_layout.addLayout(row)
        self.end = button("end-call", "danger")
        controls_layout.addWidget(self.end)
        self.end.clicked.connect(controller.request_end)
        self.controls_stack.addWidget(controls)
        confirm = _panel()
        confirm_layout = QVBoxLayout(confirm)
        self.end_question = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        confirm_layout.addWidget(self.end_question)
        confirm_row = QHBoxLayout()
        self.end_no = button("end-no")
        self.end_yes = button("end-yes", "danger")
        self.end_no.clicked.connect(controller.dismiss_end)
        self.end_yes.clicked.connect(controller.confirm_end)
        confirm_row.addWidget(self.end_no)
        confirm_row.addWidget(self.end_yes)
        confirm_layout.addLayout(confirm_row)
        self.controls_stack.addWidget(confirm)
        right.addWidget(self.controls_stack)
        layout.addLayout(right, 2)
        self._document_id: str | None = None

    def _close_document(self) -> None:
        if self._document_id is not None:
            self.controller.close_document(self._document_id)

    def tick(self) -> None:
        self.officer_video.tick()
        self.self_view.tick()

    def render(self, ctx: Ctx) -> None:
        c = ctx.controller
        r = c.resident
        self.officer_name.setText(ctx.h("call.officer", name=r.officer_name) if r.officer_name else "")
        self.self_view.caption = ctx.t("call.self")
        # Chat: the officer's lines and the resident's replies, newest last.
        lines = []
        for line in r.chat[-50:]:
            text = html.escape(line.text)
            lines.append(
                f"<p><b>{text}</b></p>"
                if line.sender == "officer"
                else f"<p>{html.escape(ctx.t('call.you_said', text=line.text))}</p>"
            )
        self.chat_title.setText(ctx.h("call.chat_title"))
        self.chat.setText("".join(lines))
        self.chat_scroll.verticalScrollBar().setValue(self.chat_scroll.verticalScrollBar().maximum())
        for key, b in self.replies.items():
            b.setText(ctx.t(key))
        # Scan prompt with live guidance.
        scan = r.scan
        if scan is not None:
            self.side_stack.setCurrentIndex(1)
            self.scan_title.setText(ctx.h("scan.title"))
            prompt = ctx.h("scan.placing")
            if scan.prompt:
                prompt = f"<b>{html.escape(scan.prompt)}</b><br>{prompt}"
            self.scan_prompt.setText(prompt)
            stage_key = {
                "scanning": "scan.scanning",
                "sending": "scan.sending",
                "done": "scan.done",
                "cancelled": "scan.cancel",
            }.get(scan.stage)
            if scan.stage == "failed":
                stage_key = scan.error_key or "scan.failed"
            elif scan.stage == "done" and scan.error_key:
                stage_key = scan.error_key  # done, with a notice (e.g. a card was scanned)
            self.scan_stage.setText(ctx.h(stage_key) if stage_key else "")
            for wrapped in (self.scan_prompt, self.scan_stage):  # a stacked page ignores wrapped heights
                wrapped.setMinimumHeight(
                    max(0, wrapped.heightForWidth(max(200, self.side_stack.width() - 40)))
                )
            self.scan_thumbnail.set_bytes(scan.thumbnail)
            self.scan_button.setText(ctx.t("scan.button"))
            self.scan_button.setVisible(
                scan.stage in ("placing", "failed") and scan.error_key != "scan.unavailable"
            )
            self.scan_cancel.setText(
                ctx.t("show.close") if scan.stage in ("done", "failed") else ctx.t("scan.cancel")
            )
        else:
            self.side_stack.setCurrentIndex(0)
            self.scan_prompt.setText("")
            self.scan_stage.setText("")
            self.scan_thumbnail.set_bytes(None)
        # A document the officer shows (the newest one).
        if r.shown:
            doc = list(r.shown.values())[-1]
            self._document_id = doc.doc_id
            self.document_title.setText(ctx.h("show.title"))
            self.document.set_bytes(doc.data)
            self.document_close.setText(ctx.t("show.close"))
            self.main_stack.setCurrentIndex(1)
        else:
            self._document_id = None
            self.document.set_bytes(None)
            self.main_stack.setCurrentIndex(0)
        # Controls.
        self.mute.setChecked(c.media.muted)
        self.mute.setText(ctx.t("call.unmute") if c.media.muted else ctx.t("call.mute"))
        self.muted_note.setText(ctx.h("call.muted") if c.media.muted else "")
        self.volume_down.setText(ctx.t("call.volume_down"))
        self.volume_up.setText(ctx.t("call.volume_up"))
        self.volume_label.setText(ctx.t("call.volume_level", level=round(c.media.volume * 4)))
        self.end.setText(ctx.t("call.end"))
        self.end_question.setText(ctx.h("call.end_confirm"))
        self.end_no.setText(ctx.t("call.end_no"))
        self.end_yes.setText(ctx.t("call.end_yes"))
        self.controls_stack.setCurrentIndex(1 if r.end_confirm else 0)

    def clear_resident(self) -> None:
        self.chat.setText("")
        self.scan_prompt.setText("")
        self.scan_stage.setText("")
        self.officer_video.clear()
        self.self_view.clear()
        self.scan_thumbnail.set_bytes(None)
        self.document.set_bytes(None)
        self._document_id = None


# ------------------------------------------------------------------------------------------ after call


class AfterCallScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(160, 40, 160, 40)
        layout.setSpacing(24)
        self.title = label(role="big", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.slip = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.slip.setObjectName("slip-note")
        self.question = label(rich=True, align=Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.slip)
        layout.addSpacing(20)
        layout.addWidget(self.question)
        row = QHBoxLayout()
        self.ratings: dict[str, QPushButton] = {}
        for rating in RATINGS:
            b = button(f"rating-{rating}", checkable=True)
            b.clicked.connect(lambda _=False, rating=rating: controller.rate(rating))
            self.ratings[rating] = b
            row.addWidget(b)
        layout.addLayout(row)
        self.thanks = label(rich=True, align=Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.thanks)
        layout.addStretch(1)
        self.finish = button("finish", "primary")
        self.finish.clicked.connect(controller.finish)
        layout.addWidget(self.finish)

    def render(self, ctx: Ctx) -> None:
        c = ctx.controller
        r = c.resident
        cancelled = r.end_reason == "cancelled"
        self.title.setText(ctx.h("after.cancelled" if cancelled else "after.title"))
        if r.slip is None:
            self.slip.setText("")
        elif r.slip.ok:
            self.slip.setText(ctx.h("after.slip_printed"))
        else:
            self.slip.setText(ctx.h("after.slip_failed", phone=c.city.phone))
        self.question.setText("" if cancelled else ctx.h("after.rating_question"))
        for rating, b in self.ratings.items():
            b.setText(ctx.t(f"rating.{rating}"))
            b.setChecked(r.rating == rating)
            b.setVisible(not cancelled)
        self.thanks.setText(ctx.h("after.rating_thanks") if r.rating else "")
        self.finish.setText(ctx.t("after.finish"))


# ------------------------------------------------------------------------------------------ service


class ServiceScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        self.controller = controller
        self.entered = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(600, 30, 600, 30)
        layout.setSpacing(14)
        self.title = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.prompt = label(rich=True, align=Qt.AlignmentFlag.AlignCenter)
        self.display = label(role="big", align=Qt.AlignmentFlag.AlignCenter)
        self.message = label(rich=True, align=Qt.AlignmentFlag.AlignCenter)
        for widget in (self.title, self.prompt, self.display, self.message):
            layout.addWidget(widget)
        grid = QGridLayout()
        grid.setSpacing(12)
        for i, digit in enumerate("123456789"):
            b = button(f"pin-{digit}")
            b.setText(digit)
            b.clicked.connect(lambda _=False, d=digit: self._digit(d))
            grid.addWidget(b, i // 3, i % 3)
        self.clear_button = button("pin-clear")
        self.clear_button.clicked.connect(self._clear)
        zero = button("pin-0")
        zero.setText("0")
        zero.clicked.connect(lambda: self._digit("0"))
        self.exit_button = button("pin-exit", "danger")
        self.exit_button.clicked.connect(self._submit)
        grid.addWidget(self.clear_button, 3, 0)
        grid.addWidget(zero, 3, 1)
        grid.addWidget(self.exit_button, 3, 2)
        layout.addLayout(grid)
        self.cancel = button("service-cancel")
        self.cancel.clicked.connect(controller.leave_service)
        layout.addWidget(self.cancel)
        layout.addStretch(1)
        self._render_ctx: Ctx | None = None

    def _digit(self, digit: str) -> None:
        if len(self.entered) < 12:
            self.entered += digit
        self.display.setText("●" * len(self.entered))

    def _clear(self) -> None:
        self.entered = ""
        self.display.setText("")

    def _submit(self) -> None:
        entered, self.entered = self.entered, ""
        self.display.setText("")
        self.controller.enter_pin(entered)

    def clear_resident(self) -> None:
        self._clear()

    def render(self, ctx: Ctx) -> None:
        self.title.setText(ctx.h("service.title"))
        self.prompt.setText(ctx.h("service.pin"))
        message = ctx.controller.service_message
        self.message.setText(ctx.h(message) if message else "")
        self.clear_button.setText(ctx.t("service.clear"))
        self.exit_button.setText(ctx.t("service.exit"))
        self.cancel.setText(ctx.t("service.cancel"))


SCREEN_CLASSES: dict[str, Callable[[KioskController], Screen]] = {
    "welcome": WelcomeScreen,
    "choose": ChooseScreen,
    "consent": ConsentScreen,
    "preflight": PreflightScreen,
    "waiting": WaitingScreen,
    "connecting": ConnectingScreen,
    "in_call": InCallScreen,
    "after_call": AfterCallScreen,
    "service": ServiceScreen,
}

__all__ = ["SCREEN_CLASSES", "Ctx", "QLabel", "Screen"]
