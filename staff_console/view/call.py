"""The in-call page: the resident large, self-view small, mute and camera; tabs for chat, documents, slip,
transfer and ending the call. Every button emits a signal; the window runs the controller's coroutine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from config.phrasebook import shipped_phrasebook
from staff_console.controller import ConsoleController
from staff_console.directory import OUTCOMES
from staff_console.i18n import Messages
from staff_console.view import fmt
from staff_console.view.guests import GuestTab
from staff_console.view.interpreter import InterpreterTab
from staff_console.view.phrases import PhrasePicker, SlipPhrases
from staff_console.view.video import VideoView
from staff_console.view.writing import WritingTab

if TYPE_CHECKING:
    from remote_call.session import LatestFrame

SELF_VIEW = (200, 150)
END_OUTCOMES = (*tuple(o for o in OUTCOMES if o != "other"), "other")


class StageView(QWidget):
    """The remote video filling the area, the self-view in the bottom-right corner. While a business shares
    its screen, the shared screen fills the area and the business's camera is small in the top-left corner
    (``screen_big``; the officer can swap the two back)."""

    def __init__(self, t: Messages, parent: QWidget | None = None):
        super().__init__(parent)
        self.remote = VideoView(t("call.connecting_video"), self)
        self.remote.setObjectName("remoteVideo")
        self.shared_screen = VideoView(t("call.screen_waiting"), self, border=True)
        self.shared_screen.setObjectName("sharedScreen")
        self.shared_screen.hide()
        self.local = VideoView(t("call.camera_off"), self, border=True)
        self.local.setObjectName("selfView")
        self.sharing = False
        self.screen_big = True
        self.setMinimumSize(480, 360)

    def set_sharing(self, sharing: bool, source: LatestFrame | None = None) -> None:
        self.sharing = sharing
        self.screen_big = True
        self.shared_screen.set_source(source if sharing else None)
        self.shared_screen.setVisible(sharing)
        self._place()

    def swap(self) -> None:
        self.screen_big = not self.screen_big
        self._place()

    @property
    def big(self) -> VideoView:
        return self.shared_screen if self.sharing and self.screen_big else self.remote

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place()

    def _place(self) -> None:
        big = self.big
        small = self.remote if big is self.shared_screen else self.shared_screen
        big.setGeometry(0, 0, self.width(), self.height())
        big.border = False
        big.lower()
        w, h = SELF_VIEW
        if self.sharing:
            small.border = True
            small.setGeometry(12, 12, w, h)
            small.raise_()
        self.local.setGeometry(self.width() - w - 12, self.height() - h - 12, w, h)
        self.local.raise_()


class CallPage(QWidget):
    mute_toggled = Signal(bool)
    camera_toggled = Signal(bool)
    chat_sent = Signal(str)
    scan_requested = Signal(str)
    document_opened = Signal(str)
    sample_shown = Signal()
    file_show_clicked = Signal()
    withdraw_clicked = Signal()
    slip_submitted = Signal(dict)
    transfer_submitted = Signal(str, str, bool)
    transfer_cancelled = Signal()
    end_submitted = Signal(str, str)
    hang_up_clicked = Signal()  # the always-visible end button: the outcome follows in wrap-up

    def __init__(self, t: Messages, parent: QWidget | None = None):
        super().__init__(parent)
        self.t = t
        self.stage = StageView(t, self)
        self.kind = QLabel("", self)
        self.kind.setObjectName("businessBadge")
        self.kind.setVisible(False)
        self.info = QLabel("", self)
        self.info.setObjectName("callInfo")
        self.info.setWordWrap(True)
        self.business = False
        self.duration = QLabel("", self)
        self.duration.setObjectName("muted")
        self.mute = QPushButton(t("call.mute"), self)
        self.mute.setCheckable(True)
        self.camera = QPushButton(t("call.camera_stop"), self)
        self.camera.setCheckable(True)
        self.swap = QPushButton(t("call.show_camera"), self)
        self.swap.setObjectName("swapStage")
        self.swap.setVisible(False)
        self.swap.clicked.connect(self._swap)
        self.sharing = QLabel(t("call.screen_shared"), self)
        self.sharing.setObjectName("sharingBadge")
        self.sharing.setVisible(False)
        controls = QHBoxLayout()
        controls.addWidget(self.mute)
        controls.addWidget(self.camera)
        controls.addWidget(self.sharing)
        controls.addWidget(self.swap)
        controls.addStretch(1)
        controls.addWidget(self.duration)
        self.hang_up = QPushButton(t("call.hang_up"), self)
        self.hang_up.setObjectName("danger")
        self.hang_up.clicked.connect(self.hang_up_clicked.emit)
        controls.addWidget(self.hang_up)
        self.reconnecting = QLabel(t("call.reconnecting"), self)  # a media restart: the call goes on
        self.reconnecting.setObjectName("reconnectBanner")
        self.reconnecting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reconnecting.setStyleSheet("font-size: 20px; font-weight: bold; padding: 6px;")
        self.reconnecting.setVisible(False)
        left = QVBoxLayout()
        kind_row = QHBoxLayout()  # who is calling, above the video
        kind_row.addWidget(self.kind)
        kind_row.addWidget(self.info, 1)
        left.addLayout(kind_row)
        left.addWidget(self.reconnecting)
        left.addWidget(self.stage, 1)
        self.caption = QLabel("", self)  # 筆談: what the officer types, large, while the switch is on
        self.caption.setObjectName("captionStrip")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("font-size: 34px; font-weight: bold; background: #101418; color: #ffffff;")
        self.caption.setVisible(False)
        left.addWidget(self.caption)
        left.addLayout(controls)
        self.tabs = QTabWidget(self)
        self.tabs.setMinimumWidth(420)
        self.tabs.addTab(self._chat_tab(), t("call.tab_chat"))
        self.phrases = PhrasePicker(t, shipped_phrasebook(), self)  # 定型文, shown in the resident's language
        self.tabs.addTab(self.phrases, t("phrases.tab"))
        self.tabs.addTab(self._documents_tab(), t("call.tab_documents"))
        self.slip_tab = self._slip_tab()
        self.tabs.addTab(self.slip_tab, t("call.tab_slip"))
        self.tabs.addTab(self._transfer_tab(), t("call.tab_transfer"))
        self.tabs.addTab(self._end_tab(), t("call.tab_end"))
        self.writing = WritingTab(t, self.caption, self)
        self.tabs.addTab(self.writing, t("call.tab_writing"))
        self.interpreter = InterpreterTab(t, self)  # 通訳を依頼; the interpreter's video
        self.tabs.addTab(self.interpreter, t("call.tab_interpreter"))
        self.guests = GuestTab(t, self)  # ご家族を招待: a link for a family member to join
        self.tabs.addTab(self.guests, t("call.tab_guest"))
        self._writing_opened_for: str | None = None  # the call whose 聴覚 flag opened the 筆談 tab
        layout = QHBoxLayout(self)
        layout.addLayout(left, 3)
        layout.addWidget(self.tabs, 2)
        self.mute.toggled.connect(self._on_mute)
        self.camera.toggled.connect(self._on_camera)

    # ------------------------------------------------------------------ tabs

    def _chat_tab(self) -> QWidget:
        tab = QWidget(self)
        self.chat = QListWidget(tab)
        self.chat.setObjectName("chat")
        self.chat.setWordWrap(True)
        self.chat_input = QLineEdit(tab)
        self.chat_input.setPlaceholderText(self.t("chat.placeholder"))
        self.chat_send = QPushButton(self.t("chat.send"), tab)
        self.chat_send.setObjectName("primary")
        row = QHBoxLayout()
        row.addWidget(self.chat_input, 1)
        row.addWidget(self.chat_send)
        layout = QVBoxLayout(tab)
        layout.addWidget(self.chat, 1)
        layout.addLayout(row)

        def send() -> None:
            text = self.chat_input.text().strip()
            if text:
                self.chat_input.clear()
                self.chat_sent.emit(text)

        self.chat_send.clicked.connect(send)
        self.chat_input.returnPressed.connect(send)
        return tab

    def _documents_tab(self) -> QWidget:
        tab = QWidget(self)
        t = self.t
        self.scan_prompt = QLineEdit(t("documents.default_prompt"), tab)
        self.scan_button = QPushButton(t("documents.request_scan"), tab)
        self.scan_button.setObjectName("primary")
        self.scan_status = QLabel(t("documents.no_scan"), tab)
        self.scan_status.setWordWrap(True)
        self.received = QListWidget(tab)
        self.open_button = QPushButton(t("documents.open"), tab)
        self.show_sample = QPushButton(t("documents.show_sample"), tab)
        self.show_file = QPushButton(t("documents.show_file"), tab)
        self.withdraw = QPushButton(t("documents.withdraw"), tab)
        self.shown_status = QLabel("", tab)
        self.shown_status.setWordWrap(True)
        layout = QVBoxLayout(tab)
        self.scan_heading = QLabel(t("documents.scan_heading"), tab)
        self.scan_heading.setObjectName("heading")
        layout.addWidget(self.scan_heading)
        layout.addWidget(self.scan_prompt)
        layout.addWidget(self.scan_button)
        layout.addWidget(self.scan_status)
        self.received_label = QLabel(t("documents.received"), tab)
        layout.addWidget(self.received_label)
        layout.addWidget(self.received, 1)
        layout.addWidget(self.open_button)
        self.shown_heading = QLabel(t("documents.show_heading"), tab)
        self.shown_heading.setObjectName("heading")
        layout.addWidget(self.shown_heading)
        row = QHBoxLayout()
        row.addWidget(self.show_sample)
        row.addWidget(self.show_file)
        row.addWidget(self.withdraw)
        layout.addLayout(row)
        layout.addWidget(self.shown_status)
        self.scan_button.clicked.connect(lambda: self.scan_requested.emit(self.scan_prompt.text().strip()))
        self.open_button.clicked.connect(self._open_selected)
        self.received.itemDoubleClicked.connect(lambda item: self.document_opened.emit(item.data(256)))
        self.show_sample.clicked.connect(self.sample_shown.emit)
        self.show_file.clicked.connect(self.file_show_clicked.emit)
        self.withdraw.clicked.connect(self.withdraw_clicked.emit)
        return tab

    def _open_selected(self) -> None:
        item = self.received.currentItem() or (self.received.item(0) if self.received.count() else None)
        if item is not None and item.data(256):
            self.document_opened.emit(item.data(256))

    def _slip_tab(self) -> QWidget:
        tab = QWidget(self)
        t = self.t
        self.slip_message = QPlainTextEdit(tab)
        self.slip_items = QPlainTextEdit(tab)
        self.slip_items.setPlaceholderText(t("slip.items_hint"))
        self.slip_next = QPlainTextEdit(tab)
        self.slip_qr = QLineEdit(tab)
        self.slip_qr.setPlaceholderText("https://")
        self.slip_button = QPushButton(t("slip.print"), tab)
        self.slip_button.setObjectName("primary")
        self.slip_status = QLabel("", tab)
        self.slip_status.setWordWrap(True)
        form = QFormLayout(tab)
        form.addRow(t("slip.message"), self.slip_message)
        form.addRow(t("slip.items"), self.slip_items)
        form.addRow(t("slip.next_steps"), self.slip_next)
        form.addRow(t("slip.qr"), self.slip_qr)
        self.slip_phrases = SlipPhrases(t, shipped_phrasebook(), tab)
        self.phrases.slip_phrase_added.connect(self.slip_phrases.add)
        form.addRow(t("slip.phrases"), self.slip_phrases)
        form.addRow(self.slip_button)
        form.addRow(self.slip_status)
        self.slip_button.clicked.connect(
            lambda: self.slip_submitted.emit(
                {
                    "message": self.slip_message.toPlainText().strip(),
                    "items_to_bring": [i for i in self.slip_items.toPlainText().splitlines() if i.strip()],
                    "next_steps": self.slip_next.toPlainText().strip(),
                    "qr_url": self.slip_qr.text().strip() or None,
                    "phrases": self.slip_phrases.refs(),
                }
            )
        )
        return tab

    def _transfer_tab(self) -> QWidget:
        tab = QWidget(self)
        t = self.t
        self.transfer_to = QComboBox(tab)
        self.transfer_note = QPlainTextEdit(tab)
        self.transfer_note.setPlaceholderText(t("transfer.note_hint"))
        self.transfer_blind = QRadioButton(t("transfer.blind"), tab)
        self.transfer_warm = QRadioButton(t("transfer.warm"), tab)
        self.transfer_warm.setChecked(True)
        mode = QButtonGroup(tab)
        mode.addButton(self.transfer_blind)
        mode.addButton(self.transfer_warm)
        self.transfer_button = QPushButton(t("transfer.button"), tab)
        self.transfer_button.setObjectName("primary")
        self.transfer_cancel = QPushButton(t("transfer.cancel"), tab)
        self.transfer_status = QLabel("", tab)
        self.transfer_status.setWordWrap(True)
        form = QFormLayout(tab)
        form.addRow(t("transfer.to"), self.transfer_to)
        form.addRow(t("transfer.note"), self.transfer_note)
        form.addRow(self.transfer_warm)
        form.addRow(self.transfer_blind)
        form.addRow(self.transfer_button)
        form.addRow(self.transfer_cancel)
        form.addRow(self.transfer_status)
        self.transfer_button.clicked.connect(
            lambda: self.transfer_submitted.emit(
                self.transfer_to.currentData() or "",
                self.transfer_note.toPlainText().strip(),
                self.transfer_warm.isChecked(),
            )
        )
        self.transfer_cancel.clicked.connect(self.transfer_cancelled.emit)
        return tab

    def _end_tab(self) -> QWidget:
        tab = QWidget(self)
        t = self.t
        self.outcome_buttons: dict[str, QRadioButton] = {}
        group = QButtonGroup(tab)
        layout = QVBoxLayout(tab)
        heading = QLabel(t("end.outcome"), tab)
        heading.setObjectName("heading")
        layout.addWidget(heading)
        for outcome in END_OUTCOMES:
            button = QRadioButton(t(f"outcome.{outcome}"), tab)
            button.setObjectName(f"outcome-{outcome}")
            group.addButton(button)
            layout.addWidget(button)
            self.outcome_buttons[outcome] = button
        self.outcome_buttons["resolved"].setChecked(True)
        layout.addWidget(QLabel(t("end.notes"), tab))
        self.end_notes = QPlainTextEdit(tab)
        layout.addWidget(self.end_notes, 1)
        self.end_button = QPushButton(t("end.button"), tab)
        self.end_button.setObjectName("danger")
        layout.addWidget(self.end_button)
        self.end_button.clicked.connect(
            lambda: self.end_submitted.emit(
                next(o for o, b in self.outcome_buttons.items() if b.isChecked()),
                self.end_notes.toPlainText().strip(),
            )
        )
        return tab

    # ------------------------------------------------------------------ rendering

    def _on_mute(self, muted: bool) -> None:
        self.mute.setText(self.t("call.unmute") if muted else self.t("call.mute"))
        self.mute_toggled.emit(muted)

    def set_screen_share(self, active: bool, source: LatestFrame | None) -> None:
        """The business started or stopped sharing its screen: shown full size while it shares."""
        self.stage.set_sharing(active, source)
        self.sharing.setVisible(active)
        self.swap.setVisible(active)
        self.swap.setText(self.t("call.show_camera"))

    def _swap(self) -> None:
        self.stage.swap()
        self.swap.setText(self.t("call.show_camera") if self.stage.screen_big else self.t("call.show_screen"))

    def set_document_status(self, text: str, *, problem: bool = False) -> None:
        """The line under the scan / upload heading; a refused or damaged document is shown as a problem."""
        self.scan_status.setObjectName("problem" if problem else "")
        self.scan_status.style().unpolish(self.scan_status)
        self.scan_status.style().polish(self.scan_status)
        self.scan_status.setText(text)

    def set_business(self, business: bool) -> None:
        """A business has no scanner and no printer: those actions are disabled, and the tooltip says why."""
        t = self.t
        self.business = business
        why = t("business.no_scanner") if business else ""
        self.scan_button.setEnabled(not business)
        self.scan_button.setToolTip(why)
        self.scan_prompt.setVisible(not business)  # nothing to prompt for: the button says why it is off
        self.show_sample.setVisible(not business)  # the sample is a resident's form (住民票の請求書)
        self.scan_heading.setText(t("documents.upload_heading") if business else t("documents.scan_heading"))
        self.scan_status.setText(t("documents.no_upload") if business else t("documents.no_scan"))
        self.received_label.setText(t("documents.uploads") if business else t("documents.received"))
        slip = self.tabs.indexOf(self.slip_tab)
        self.tabs.setTabEnabled(slip, not business)
        self.tabs.setTabToolTip(slip, t("business.no_printer") if business else "")
        self.slip_button.setEnabled(not business)
        self.slip_button.setToolTip(t("business.no_printer") if business else "")
        self.shown_heading.setText(
            t("documents.show_heading_business") if business else t("documents.show_heading")
        )

    def _on_camera(self, off: bool) -> None:
        self.camera.setText(self.t("call.camera_start") if off else self.t("call.camera_stop"))
        self.camera_toggled.emit(not off)

    def reset(self) -> None:
        """A new call: clear every field of the previous resident."""
        for widget in (self.chat, self.received):
            widget.clear()
        for edit in (self.slip_message, self.slip_items, self.slip_next, self.transfer_note, self.end_notes):
            edit.clear()
        self.slip_qr.clear()
        self.slip_phrases.clear()
        self.chat_input.clear()
        self.scan_prompt.setText(self.t("documents.default_prompt"))
        self.set_document_status(self.t("documents.no_scan"))
        for label in (self.shown_status, self.slip_status, self.transfer_status):
            label.setText("")
        self.outcome_buttons["resolved"].setChecked(True)
        self.tabs.setCurrentIndex(0)
        self.writing.reset()
        self.interpreter.reset()
        self.guests.reset()
        self.stage.remote.set_source(None)
        self.stage.remote.set_placeholder(self.t("call.connecting_video"))
        self.set_screen_share(False, None)

    def refresh(self, c: ConsoleController, departments: list[tuple[str, str]]) -> None:
        t = self.t
        offer = c.current
        history = c.history.get(c.call_id) if c.call_id else None
        business = offer.business if offer is not None else None
        self.kind.setVisible(business is not None)
        if offer is not None and business is not None:
            self.kind.setText(fmt.business_badge(t, business))
            self.info.setText(
                t(
                    "call.info_business",
                    company=business.company,
                    contact=business.contact_name,
                    department=c.directory.department_name(offer.department, t.language),
                    purpose=business.purpose or t("ring.no_purpose"),
                )
                + (
                    "\n" + t("call.appointment", appointment=business.appointment_id)
                    if business.appointment_id
                    else ""
                )
            )
        elif offer is not None:
            procedure = c.directory.procedure_name(offer.caller.procedure, t.language) or t(
                "ring.no_procedure"
            )
            self.info.setText(
                t(
                    "call.info",
                    kiosk=offer.kiosk.name,
                    department=c.directory.department_name(offer.department, t.language),
                    procedure=procedure,
                    language=fmt.language(t, offer.caller.language),
                    accessibility=fmt.accessibility(t, offer.caller.accessibility),
                )
                + "".join(
                    "\n" + t("call.note", note=c.directory.transfer_note(n, t.language)) for n in offer.notes
                )
            )
        elif history is not None:
            self.info.setText(
                t(
                    "call.info_short",
                    kiosk=history.kiosk_name,
                    department=c.directory.department_name(history.department, t.language),
                )
            )
        if history is not None:
            self.duration.setText(t("call.duration", elapsed=fmt.duration(t, c.clock() - history.started_at)))
        self.writing.refresh(c.desk)
        self.phrases.refresh(c, departments)
        self.slip_phrases.name_of = c.desk.name_of
        self.interpreter.refresh(c)
        self.guests.refresh(c)
        hearing = offer is not None and "hearing" in offer.caller.accessibility
        if hearing and self._writing_opened_for != c.call_id:
            self._writing_opened_for = c.call_id
            self.tabs.setCurrentWidget(self.writing)  # 聴覚: the call opens on the written conversation
        self.reconnecting.setVisible(c.reconnecting)
        self.hang_up.setEnabled(c.call_id is not None)
        current = history.department if history else None
        wanted = [(d, n) for d, n in departments if d != current]
        if [self.transfer_to.itemData(i) for i in range(self.transfer_to.count())] != [d for d, _ in wanted]:
            self.transfer_to.clear()
            for dep, name in wanted:
                self.transfer_to.addItem(name, dep)
        for i, (dep, name) in enumerate(wanted):  # officers free / busy there, from the pushed statistics
            self.transfer_to.setItemText(i, fmt.availability(t, name, (c.stats or {}), dep))
        pending = c.transfer
        self.transfer_cancel.setEnabled(pending is not None)
        self.transfer_button.setEnabled(pending is None and c.in_call)
        if pending is not None:
            self.transfer_status.setText(
                t(
                    "transfer.waiting",
                    department=c.directory.department_name(pending.to_department, t.language),
                )
            )

    def add_chat(self, sender: str, text: str, *, untranslated: bool = False) -> None:
        """A chat line; the officer's free text to a resident who does not read Japanese is marked."""
        item = QListWidgetItem(
            self.t(f"chat.{sender}", text=self.t("chat.untranslated", text=text) if untranslated else text)
        )
        if sender == "officer":
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight)
        self.chat.addItem(item)
        self.chat.scrollToBottom()

    def mark_saved(self, doc_id: str, suffix: str) -> None:
        for row in range(self.received.count()):
            item = self.received.item(row)
            if item.data(256) == doc_id and not item.text().endswith(suffix):
                item.setText(item.text() + suffix)

    def add_document(self, doc_id: str, label: str) -> None:
        item = QListWidgetItem(label)
        item.setData(256, doc_id)
        self.received.addItem(item)
        self.received.setCurrentItem(item)
