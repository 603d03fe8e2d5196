"""The call screen: the officer large (or a document the officer shows), an interpreter and a family member
who joined by link beside (``view.interpreter``, ``view.guest``), the resident's self-view small; on
the right the chat with canned replies or the scan prompt with live guidance, then mute, volume and the
large end button with its confirmation. Built once from its parts; ``refresh(ctx)`` fills them from the
controller."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from config.phrasebook import JAPANESE, ruby_html
from kiosk_client.controller import KioskController
from kiosk_client.desk import CANNED_REPLIES
from kiosk_client.flow import KioskState
from kiosk_client.guest import GuestTile
from kiosk_client.resident import ScanTask
from kiosk_client.view.base import Ctx, Screen, panel
from kiosk_client.view.guest import GuestVideo
from kiosk_client.view.interpreter import InterpreterVideo
from kiosk_client.view.paging import PagedScroll
from kiosk_client.view.scan_guide import ScanGuide
from kiosk_client.view.widgets import ImageView, VideoView, button, label
from kiosk_client.view.writing import WritingPanel

# How a third party's chat line is shown; the resident's own lines are "call.you_said".
THIRD_PARTY_SAID = {"interpreter": "call.interpreter_said", "guest": "call.guest_said"}
REPLY_COLUMNS = 2  # wide enough for ゆっくり話してください at larger text; the rows page
SCAN_STAGE_KEYS = {
    "scanning": "scan.scanning",
    "sending": "scan.sending",
    "done": "scan.done",
    "cancelled": "scan.cancel",
}


def officer_html(ctx: Ctx, text: str, phrase_id: str | None) -> str:
    """What the officer sent: a library phrase in the resident's language (readings for ja-easy), or free
    text as typed, marked untranslated for a resident who does not read Japanese."""
    if phrase_id is not None:
        return ruby_html(text)
    if ctx.lang in JAPANESE:
        return html.escape(text)
    mark = html.escape(ctx.t("call.untranslated"))
    return f"<span style='font-weight:normal'>［{mark}］</span> {html.escape(text)}"


class InCallScreen(Screen):
    def __init__(self, controller: KioskController):
        super().__init__()
        self.controller = controller
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 8, 16, 8)
        layout.setSpacing(16)
        layout.addLayout(self._build_stage(), 3)
        right = QVBoxLayout()
        right.setSpacing(12)
        self.side_stack = QStackedWidget()
        self.side_stack.addWidget(self._build_chat())
        self.side_stack.addWidget(self._build_scan())
        right.addWidget(self.side_stack, 1)
        self.controls_stack = QStackedWidget()
        self.controls_stack.addWidget(self._build_controls())
        self.controls_stack.addWidget(self._build_end_confirm())
        right.addWidget(self.controls_stack)
        layout.addLayout(right, 2)
        self._document_id: str | None = None
        self._writing_open: bool | None = None  # None: open when the resident asked for 筆談 (聴覚)

    # ------------------------------------------------------------------ building

    def _build_stage(self) -> QVBoxLayout:
        """The officer, large; the resident's self-view small below; or a document the officer shows."""
        c = self.controller
        left = QVBoxLayout()
        self.officer_name = label(role="title", rich=True)
        self.writing_toggle = button("writing-toggle", wrap=True)  # 筆談: the pad and keyboard, or the video
        self.writing_toggle.clicked.connect(self._toggle_writing)
        name_row = QHBoxLayout()
        name_row.addWidget(self.officer_name, 2)
        name_row.addWidget(self.writing_toggle, 1)
        left.addLayout(name_row)
        self.muted_banner = QFrame()  # while the microphone is off, above the officer: clear and red
        self.muted_banner.setObjectName("muted-banner")
        self.muted_banner.setProperty("role", "muted")
        banner_layout = QHBoxLayout(self.muted_banner)
        banner_layout.setContentsMargins(20, 10, 20, 10)
        self.muted_banner_text = label(rich=True, align=Qt.AlignmentFlag.AlignCenter)
        banner_layout.addWidget(self.muted_banner_text)
        self.muted_banner.hide()
        left.addWidget(self.muted_banner)
        self.main_stack = QStackedWidget()
        video_page = QWidget()
        video_layout = QHBoxLayout(video_page)  # the officer; an interpreter and a family member beside
        video_layout.setContentsMargins(0, 0, 0, 0)
        self.officer_video = VideoView("officer-video", c.officer_frame)
        video_layout.addWidget(self.officer_video, 1)
        self.interpreter = InterpreterVideo(c, video_layout, self.officer_video)
        self.guest = GuestVideo(GuestTile(c.conference), video_layout, self.officer_video, self.interpreter)
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
        self.main_stack.addWidget(QWidget())  # index 1 kept free: a shown document is beside the video
        self.document_page = doc_page
        doc_page.hide()
        self.writing = WritingPanel(c, self._toggle_writing)
        self.main_stack.addWidget(self.writing)
        stage_row = QHBoxLayout()  # the officer stays in sight while a document is shown beside
        # Half and half while a document is shown (the 筆談 page's own minimum must not squeeze it).
        self.main_stack.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)
        stage_row.addWidget(self.main_stack, 1)
        stage_row.addWidget(doc_page, 1)
        left.addLayout(stage_row, 1)
        self_row = QHBoxLayout()
        self.muted_note = label(rich=True)
        self_row.addWidget(self.muted_note, 1)
        self.self_view = VideoView("self-video", lambda: c.media.self_view.frame, mirror=True)
        self.self_view.setFixedSize(320, 200)
        self_row.addWidget(self.self_view)
        left.addLayout(self_row)
        return left

    def _build_chat(self) -> QWidget:
        chat_page = panel()
        chat_layout = QVBoxLayout(chat_page)
        chat_layout.setContentsMargins(16, 12, 16, 12)
        self.chat_title = label(rich=True)  # body size, bold: the lines and their page buttons need the room
        self.chat_title.setStyleSheet("font-weight: bold;")
        self.chat = label(rich=True)
        self.chat.setObjectName("chat")
        self.chat.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # The newest line, once laid out; the page buttons beside the lines, so they keep the height.
        self.chat_pages = PagedScroll("chat", self.chat, follow_end=True, beside=True)
        self.chat_scroll = self.chat_pages.area
        chat_layout.addWidget(self.chat_title)
        chat_layout.addWidget(self.chat_pages, 1)
        replies = QGridLayout()
        self.replies: dict[str, QPushButton] = {}
        for i, key in enumerate(CANNED_REPLIES):
            b = button(f"reply-{key.split('.')[1]}", wrap=True)
            b.clicked.connect(lambda _=False, key=key: self.controller.send_reply(key))
            self.replies[key] = b
            replies.addWidget(b, i // REPLY_COLUMNS, i % REPLY_COLUMNS)
        replies_box = QWidget()  # nine replies with larger text outgrow the column: they page (and flick)
        replies_box.setLayout(replies)
        self.replies_pages = PagedScroll("replies", replies_box)
        chat_layout.addWidget(self.replies_pages, 2)  # nine replies whole where they fit; the chat pages
        return chat_page

    def _build_scan(self) -> QWidget:
        scan_page = panel()
        scan_layout = QVBoxLayout(scan_page)
        scan_layout.setContentsMargins(16, 12, 16, 12)
        self.scan_title = label(role="title", rich=True)
        self.scan_prompt = label(rich=True)
        self.scan_stage = label(rich=True)
        self.scan_stage.setObjectName("scan-stage")
        self.scan_stage.setStyleSheet("font-weight: bold;")
        self.scan_guide = ScanGuide()  # where the scanner is, which side down: pictures, words beside
        self.scan_guide_where = self.scan_guide.where
        self.scan_guide_side = self.scan_guide.side
        self.scan_thumbnail = ImageView("scan-thumbnail")
        self.scan_thumbnail.setMinimumHeight(300)  # large enough to check the scan at a glance
        self.scan_button = button("scan-button", "primary")
        self.scan_button.clicked.connect(self.controller.scan_now)
        self.scan_cancel = button("scan-cancel")
        self.scan_cancel.clicked.connect(self.controller.cancel_scan)
        # The guidance scrolls if it is long (larger text, long languages); the buttons always stay visible.
        guidance = QWidget()
        guidance_layout = QVBoxLayout(guidance)
        guidance_layout.setContentsMargins(0, 0, 0, 0)
        guidance_layout.setSpacing(4)  # every pixel: the guide fits 1920x1080 without paging
        for widget in (self.scan_title, self.scan_prompt, self.scan_stage):
            guidance_layout.addWidget(widget)
        guidance_layout.addWidget(self.scan_guide)
        guidance_layout.addWidget(self.scan_thumbnail, 1)
        self.guidance_pages = PagedScroll("scan-guidance", guidance, scroll_bar=False)
        scan_layout.addWidget(self.guidance_pages, 1)
        scan_layout.addWidget(self.scan_button)
        scan_layout.addWidget(self.scan_cancel)
        return scan_page

    def _build_controls(self) -> QWidget:
        c = self.controller
        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.mute = button("mute", checkable=True)
        self.mute.clicked.connect(c.toggle_mute)
        self.volume_down = button("volume-down", wrap=True)
        self.volume_down.clicked.connect(lambda: c.change_volume(-1))
        self.volume_up = button("volume-up", wrap=True)
        self.volume_up.clicked.connect(lambda: c.change_volume(+1))
        controls_layout.addWidget(self.mute)
        row.addWidget(self.volume_down, 1)
        self.volume_label = label(align=Qt.AlignmentFlag.AlignCenter, wrap=False)
        row.addWidget(self.volume_label)
        row.addWidget(self.volume_up, 1)
        controls_layout.addLayout(row)
        self.end = button("end-call", "danger")
        controls_layout.addWidget(self.end)
        self.end.clicked.connect(c.request_end)
        return controls

    def _build_end_confirm(self) -> QWidget:
        confirm = panel()
        confirm_layout = QVBoxLayout(confirm)
        self.end_question = label(role="title", rich=True, align=Qt.AlignmentFlag.AlignCenter)
        confirm_layout.addWidget(self.end_question)
        confirm_row = QHBoxLayout()
        self.end_no = button("end-no")
        self.end_yes = button("end-yes", "danger")
        self.end_no.clicked.connect(self.controller.dismiss_end)
        self.end_yes.clicked.connect(self.controller.confirm_end)
        confirm_row.addWidget(self.end_no)
        confirm_row.addWidget(self.end_yes)
        confirm_layout.addLayout(confirm_row)
        return confirm

    # ------------------------------------------------------------------ touches and rendering

    def _toggle_writing(self) -> None:
        self._writing_open = not self._writing_is_open()
        self.controller.events.emit("writing", kind="panel")

    def _writing_is_open(self) -> bool:
        hearing = self.controller.resident.hearing
        return hearing if self._writing_open is None else self._writing_open

    def _close_document(self) -> None:
        if self._document_id is not None:
            self.controller.close_document(self._document_id)

    def tick(self) -> None:
        self.officer_video.tick()
        self.interpreter.tick()
        self.guest.tick()
        self.self_view.tick()

    def refresh(self, ctx: Ctx) -> None:
        r = ctx.controller.resident
        name = ctx.h("call.officer", name=r.officer_name) if r.officer_name else ""
        if ctx.controller.state is KioskState.CONNECTING:  # a media restart: the call stays on screen
            name = ctx.h("call.reconnecting")
        self.officer_name.setText(name)
        self.self_view.caption = ctx.t("call.self")
        self._refresh_chat(ctx)
        if r.scan is not None:
            self._refresh_scan(ctx, r.scan)
        else:
            self.side_stack.setCurrentIndex(0)
            self.scan_prompt.setText("")
            self.scan_stage.setText("")
            self.scan_thumbnail.set_bytes(None)
        self._refresh_document(ctx)
        self.interpreter.refresh(ctx)
        self.guest.refresh(ctx)
        self._refresh_controls(ctx)

    def _refresh_chat(self, ctx: Ctx) -> None:
        """The officer's lines and the resident's replies, newest last."""
        lines = []
        for line in ctx.controller.resident.chat[-50:]:
            said = THIRD_PARTY_SAID.get(line.sender, "call.you_said")
            lines.append(
                f"<p><b>{officer_html(ctx, line.text, line.phrase_id)}</b></p>"
                if line.sender == "officer"
                else f"<p>{html.escape(ctx.t(said, text=line.text))}</p>"
            )
        self.chat_title.setText(ctx.h("call.chat_title"))
        width = self.chat_title.width() if self.chat_title.width() > 100 else self.side_stack.width() - 40
        self.chat_title.setMinimumHeight(max(0, self.chat_title.heightForWidth(max(200, width))))
        text = "".join(lines)
        if text != self.chat.text():  # a new line: show it; otherwise stay on the page the resident chose
            self.chat.setText(text)
            self.chat_pages.to_end()
        for key, b in self.replies.items():
            b.setText(ctx.t(key))

    def _refresh_scan(self, ctx: Ctx, scan: ScanTask) -> None:
        """The scan prompt with live guidance."""
        self.side_stack.setCurrentIndex(1)
        self.scan_title.setText(ctx.h("scan.title"))
        prompt = ctx.h("scan.placing")
        if scan.prompt:
            prompt = f"<b>{officer_html(ctx, scan.prompt, scan.phrase_id)}</b><br>{prompt}"
        self.scan_prompt.setText(prompt)
        stage_key = SCAN_STAGE_KEYS.get(scan.stage)
        if scan.stage == "failed":
            stage_key = scan.error_key or "scan.failed"
        elif scan.stage == "done" and scan.error_key:
            stage_key = scan.error_key  # done, with a notice (e.g. a card was scanned)
        self.scan_stage.setText(ctx.h(stage_key) if stage_key else "")
        self.scan_thumbnail.set_bytes(scan.thumbnail)
        placing = scan.stage in ("placing", "failed") and scan.thumbnail is None
        self.scan_guide_where.setText(ctx.h("scan.guide_where"))
        self.scan_guide_side.setText(ctx.h("scan.guide_side"))
        wrapping = (self.scan_prompt, self.scan_stage, self.scan_guide_where, self.scan_guide_side)
        for wrapped in wrapping:  # a stacked page ignores wrapped heights
            wrapped.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)  # no gap above
            width = wrapped.width() if wrapped.width() > 100 else max(200, self.side_stack.width() - 40)
            wrapped.setMinimumHeight(0)  # what the last language's text needed must not stay
            wrapped.setMinimumHeight(max(0, wrapped.heightForWidth(width)))
        self.scan_guide.setVisible(placing)
        self.scan_stage.setVisible(bool(stage_key))  # no empty line above the guide
        self.scan_thumbnail.setVisible(scan.thumbnail is not None)
        self.scan_button.setText(ctx.t("scan.button"))
        self.scan_button.setVisible(
            scan.stage in ("placing", "failed") and scan.error_key != "scan.unavailable"
        )
        self.scan_cancel.setText(
            ctx.t("show.close") if scan.stage in ("done", "failed") else ctx.t("scan.cancel")
        )

    def _refresh_document(self, ctx: Ctx) -> None:
        """A document the officer shows (the newest one) takes the officer's place, or else the 筆談 panel."""
        shown = ctx.controller.resident.shown
        if shown:
            doc = list(shown.values())[-1]
            self._document_id = doc.doc_id
            caption = doc.offer.caption
            text = ctx.controller.desk.phrase_text(caption) if caption is not None else None
            self.document_title.setText(ruby_html(text) if text else ctx.h("show.title"))
            self.document.set_bytes(doc.data)
            self.document_close.setText(ctx.t("show.close"))
            self.document_page.show()
            self.main_stack.setCurrentIndex(2 if self._writing_is_open() else 0)
        else:
            self._document_id = None
            self.document.set_bytes(None)
            self.document_page.hide()
            self.main_stack.setCurrentIndex(2 if self._writing_is_open() else 0)
        writing = self._writing_is_open()
        self.writing_toggle.setText(ctx.t("writing.open"))
        for widget in (self.officer_name, self.writing_toggle, self.self_view):
            widget.setVisible(not writing)  # the keyboard needs the height; the panel has its own way back
        if writing:
            self.writing.refresh(ctx)

    def _refresh_controls(self, ctx: Ctx) -> None:
        c = ctx.controller
        self.mute.setChecked(c.media.muted)
        self.mute.setText(ctx.t("call.unmute") if c.media.muted else ctx.t("call.mute"))
        self.muted_note.setText(ctx.h("call.muted") if c.media.muted else "")
        self.muted_banner_text.setText(ctx.h("call.muted_banner") if c.media.muted else "")
        self.muted_banner.setVisible(c.media.muted)
        self.volume_down.setText(ctx.t("call.volume_down"))
        self.volume_up.setText(ctx.t("call.volume_up"))
        self.volume_label.setText(ctx.t("call.volume_level", level=round(c.media.volume * 4)))
        self.end.setText(ctx.t("call.end"))
        self.end_question.setText(ctx.h("call.end_confirm"))
        self.end_no.setText(ctx.t("call.end_no"))
        self.end_yes.setText(ctx.t("call.end_yes"))
        self.controls_stack.setCurrentIndex(1 if c.resident.end_confirm else 0)

    def clear_resident(self) -> None:
        self.chat.setText("")
        self.scan_prompt.setText("")
        self.scan_stage.setText("")
        self.officer_video.clear()
        self.interpreter.clear()
        self.guest.clear()
        self.self_view.clear()
        self.scan_thumbnail.set_bytes(None)
        self.document.set_bytes(None)
        self._document_id = None
        self._writing_open = None
        self.writing.clear_resident()
