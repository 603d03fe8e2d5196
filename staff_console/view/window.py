"""The console's main window: sign-in, then the desk (shift / ring / call), today's history and, for
supervisors, the live board. A thin view: it renders the controller's state on every controller event and
turns button presses into the controller's coroutines (run on the qasync loop by TaskRunner)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMainWindow,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from remote_call.incall import MAX_DOCUMENT_BYTES, PhraseRef
from remote_call.signaling_client import ServerUrls, SignalingRefused
from staff_console.controller import ConsoleController
from staff_console.desk import ReceivedDocument
from staff_console.directory import Directory
from staff_console.i18n import Messages
from staff_console.media import ConsoleMedia
from staff_console.samples import sample_form_png
from staff_console.view.appointments import AppointmentsTab
from staff_console.view.boards import HistoryBoard, SupervisorBoard
from staff_console.view.call import CallPage
from staff_console.view.header import Header
from staff_console.view.invitations import InvitationDialog
from staff_console.view.ring import RingPanel
from staff_console.view.ringer import Ringer
from staff_console.view.shift import ShiftPage
from staff_console.view.sign_in import SignInPage
from staff_console.view.tasks import TaskRunner
from staff_console.view.viewer import DocumentViewer
from staff_console.view.wrap_up import WrapUpPage

log = logging.getLogger(__name__)

SHOWABLE = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}  # what a kiosk can display
ControllerFactory = Callable[[str, str, str], ConsoleController]  # username, password, role
EventHandler = Callable[[ConsoleController, dict[str, Any]], None]


class ConsoleWindow(QMainWindow):
    changed = Signal(str)  # emitted after each controller event has been rendered (the event's name)
    closed = Signal()

    def __init__(
        self,
        t: Messages,
        *,
        server_url: ServerUrls,
        directory: Directory,
        make_controller: ControllerFactory | None = None,
        username: str = "",
        ringer: Ringer | None = None,
    ):
        super().__init__()
        self.t = t
        self.directory = directory
        self.make_controller = make_controller
        self.controller: ConsoleController | None = None
        self.ringer = ringer or Ringer(self)
        self.runner = TaskRunner(self.show_error)
        self.viewers: dict[str, DocumentViewer] = {}
        self.file_dialog: QFileDialog | None = None
        self.invitation_dialog: InvitationDialog | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.setWindowTitle(t("app.title"))
        self.resize(1400, 860)

        self.sign_in = SignInPage(t, server_url, username, self)
        self.header = Header(t, self)
        self.shift = ShiftPage(t, self)
        self.ring = RingPanel(t, directory, self)
        self.call = CallPage(t, self)
        self.wrap_up = WrapUpPage(t, self)  # an ended call's outcome form, until it is recorded
        self.desk = QStackedWidget(self)
        for page in (self.shift, self.ring, self.call, self.wrap_up):
            self.desk.addWidget(page)
        self.history = HistoryBoard(t, directory, self)
        self.board = SupervisorBoard(t, directory, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.desk, t("tab.desk"))
        self.tabs.addTab(self.history, t("tab.history"))
        self.tabs.addTab(self.board, t("tab.board"))
        self.appointments = AppointmentsTab(t, self.runner, self)
        self.tabs.addTab(self.appointments, t("tab.appointments"))
        self.tabs.currentChanged.connect(self._on_tab)
        main = QWidget(self)
        layout = QVBoxLayout(main)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.tabs, 1)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.sign_in)
        self.pages.addWidget(main)
        self.main_page = main
        self.setCentralWidget(self.pages)
        self._connect()
        self._handlers = self._event_handlers()
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)
        self._ticker.start()

    # ------------------------------------------------------------------ wiring

    def _connect(self) -> None:
        self.sign_in.submitted.connect(lambda u, p, r: self.runner.run(self._sign_in(u, p, r)))
        self.header.available_clicked.connect(lambda: self._act(lambda c: c.set_available()))
        self.header.away_clicked.connect(lambda reason: self._act(lambda c: c.set_away(reason)))
        self.header.invite_clicked.connect(self.open_invitations)
        self.header.sign_out_clicked.connect(lambda: self._act(lambda c: c.sign_out()))
        self.shift.shift_chosen.connect(lambda deps: self._act(lambda c: c.set_shift(deps)))
        self.ring.accept_clicked.connect(self._accept)
        self.ring.decline_clicked.connect(self._decline)
        call = self.call
        call.mute_toggled.connect(lambda muted: self._media(lambda m: m.set_muted(muted)))
        call.camera_toggled.connect(lambda on: self._media(lambda m: m.set_camera(on)))
        call.chat_sent.connect(lambda text: self._act(lambda c: c.desk.send_chat(text)))
        call.phrases.scan_requested.connect(
            lambda pid, params: self._act(
                lambda c: c.desk.request_scan(phrase=PhraseRef(phrase_id=pid, params=params))
            )
        )
        call.phrases.phrase_sent.connect(
            lambda pid, params: self._act(lambda c: c.desk.send_phrase(pid, params))
        )
        call.scan_requested.connect(lambda prompt: self._act(lambda c: c.desk.request_scan(prompt)))
        call.document_opened.connect(self.open_document)
        call.sample_shown.connect(self._show_sample)
        call.file_show_clicked.connect(self._choose_file)
        call.withdraw_clicked.connect(self._withdraw)
        call.slip_submitted.connect(self._print_slip)
        call.transfer_submitted.connect(
            lambda dep, note, warm: self._act(lambda c: c.transfer_call(dep, note, warm=warm))
        )
        call.transfer_cancelled.connect(lambda: self._act(lambda c: c.cancel_transfer()))
        call.end_submitted.connect(lambda outcome, notes: self._act(lambda c: c.end_call(outcome, notes)))
        call.hang_up_clicked.connect(lambda: self._act(lambda c: c.end_call(None)))
        self.wrap_up.recorded.connect(lambda outcome, notes: self._act(lambda c: c.end_call(outcome, notes)))
        self.wrap_up.writing.connect(lambda: self._act(lambda c: c.write_outcome()))
        call.interpreter.requested.connect(lambda lang: self._act(lambda c: c.interpreter.request(lang)))
        call.interpreter.cancelled.connect(lambda: self._act(lambda c: c.interpreter.cancel()))
        call.guests.create_clicked.connect(
            lambda e: self._act(lambda c: call.guests.show_link(c.guests.create(email=e)))
        )

    def _act(self, action: Callable[[ConsoleController], Any]) -> None:
        if self.controller is None:
            return
        self.runner.run(action(self.controller))

    def _media(self, change: Callable[[ConsoleMedia], None]) -> None:
        media = self.controller.party.media if self.controller else None
        if isinstance(media, ConsoleMedia):
            change(media)
            self.call.stage.local.set_source(media.self_view if media.camera_on else None)

    def show_error(self, exc: BaseException) -> None:
        if isinstance(exc, SignalingRefused):
            text = self.t("error.refused", detail=str(exc))
        elif isinstance(exc, TimeoutError | ConnectionError | OSError):
            text = self.t("error.connection", detail=str(exc) or type(exc).__name__)
        else:
            text = self.t("error.action", detail=str(exc) or type(exc).__name__)
        if self.pages.currentWidget() is self.sign_in:
            self.sign_in.show_error(text)
        self.statusBar().showMessage(text, 15_000)

    # ------------------------------------------------------------------ sign in

    async def _sign_in(self, username: str, password: str, role: str) -> None:
        if self.make_controller is None:
            raise RuntimeError("no server to sign in to")
        controller = self.make_controller(username, password, role)
        try:
            await controller.start()
        except BaseException:
            await controller.stop()
            raise
        self.attach(controller)

    def attach(self, controller: ConsoleController) -> None:
        """Show the console for a started controller."""
        self.controller = controller
        self._unsubscribe = controller.events.subscribe(self._on_event)
        self.pages.setCurrentWidget(self.main_page)
        supervisor = controller.role.value == "supervisor"
        self.tabs.setTabVisible(0, not supervisor)
        self.tabs.setTabVisible(1, not supervisor)
        self.tabs.setTabVisible(2, supervisor or controller.stats is not None)
        self.tabs.setTabText(2, self.t("tab.board") if supervisor else self.t("tab.queues"))
        self.appointments.attach(controller, self._departments())
        self.tabs.setCurrentWidget(self.board if supervisor else self.desk)
        self.refresh()
        self.board.refresh(controller.stats)
        self.changed.emit("attached")

    def _on_tab(self, index: int) -> None:
        if self.tabs.widget(index) is self.appointments:
            self.appointments.reload()  # bookings change on the server: fresh each time the tab is shown

    def open_invitations(self) -> InvitationDialog | None:
        """The non-modal invitation dialog (never exec()ed under qasync); one per window."""
        c = self.controller
        if c is None:
            return None
        if self.invitation_dialog is None:
            self.invitation_dialog = InvitationDialog(self.t, c, self.runner, self._departments(), self)
        self.invitation_dialog.show()
        self.invitation_dialog.raise_()
        self.invitation_dialog.reload()
        return self.invitation_dialog

    async def shutdown(self) -> None:
        self.ringer.stop()
        dialog, self.invitation_dialog = self.invitation_dialog, None
        if dialog is not None and shiboken6.isValid(dialog):  # a child: gone once the window was deleted
            dialog.close()
        for viewer in list(self.viewers.values()):
            viewer.release()
            viewer.close()
        self.runner.cancel_all()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.controller is not None:
            await self.controller.stop()

    def closeEvent(self, event: Any) -> None:
        self.closed.emit()
        super().closeEvent(event)

    # ------------------------------------------------------------------ calls

    def _accept(self) -> None:
        self.ring.accept.setEnabled(False)
        self.ringer.stop()
        self._act(lambda c: c.accept())

    def _decline(self) -> None:
        self.ring.decline.setEnabled(False)
        self.ringer.stop()
        self._act(lambda c: c.decline())

    def _show_sample(self) -> None:
        self._act(
            lambda c: c.desk.show_document(
                sample_form_png(),
                name=self.t("documents.sample_name"),
                width=1000,
                height=1414,
                caption=PhraseRef(phrase_id="document.sample"),  # the title the resident reads
            )
        )

    def _choose_file(self) -> QFileDialog:
        """A non-modal file dialog (never exec() under qasync); the chosen file is shown to the resident."""
        dialog = QFileDialog(self, self.t("documents.choose_file"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilter(self.t("documents.file_filter"))
        dialog.fileSelected.connect(self.show_file)
        dialog.open()
        self.file_dialog = dialog
        return dialog

    def show_file(self, path: str) -> None:
        """Show a PNG or JPEG image from the officer's computer to the resident."""
        mime = SHOWABLE.get(Path(path).suffix.lower())
        if mime is None:
            self.show_error(ValueError(self.t("documents.unsupported", name=Path(path).name)))
            return
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            self.show_error(exc)
            return
        if not data or len(data) > MAX_DOCUMENT_BYTES:
            self.show_error(ValueError(self.t("documents.too_large", name=Path(path).name)))
            return
        self._act(lambda c: c.desk.show_document(data, name=Path(path).name, mime=mime))

    def _withdraw(self) -> None:
        c = self.controller
        if c is None:
            return
        live = [doc_id for doc_id, shown in c.desk.shown.items() if not shown.withdrawn]
        if live:
            self._act(lambda ctl: ctl.desk.withdraw_document(live[-1]))

    def _print_slip(self, fields: dict) -> None:
        c = self.controller
        if c is None or c.call_id is None:
            return
        entry = c.history.get(c.call_id)
        department = self.directory.department_name(entry.department if entry else "", "ja")
        department_id = entry.department if entry else None  # the kiosk prints its name in both languages
        self._act(
            lambda ctl: ctl.desk.print_slip(department=department, department_id=department_id, **fields)
        )

    def open_document(self, doc_id: str) -> DocumentViewer | None:
        c = self.controller
        document: ReceivedDocument | None = c.desk.documents.get(doc_id) if c else None
        if document is None:
            return None
        viewer = self.viewers.get(doc_id)
        if viewer is None:
            t, offer = self.t, document.offer
            note = t("viewer.verified", size=f"{offer.size / 1024:.0f}", sha=offer.sha256[:16])
            if offer.warning == "mynumber_back":
                note += "\n" + t("viewer.mynumber_warning")
            name = offer.name or doc_id
            title = t("viewer.title_upload" if document.upload else "viewer.title", name=name)
            try:
                viewer = DocumentViewer(
                    t,
                    doc_id,
                    document.data,
                    title=title,
                    verified_note=note,
                    dpi=offer.dpi,
                    saved=document.saved,
                    mime=offer.mime,
                    badge=t("viewer.upload_badge", name=name) if document.upload else "",
                )
            except ValueError as exc:  # checked on arrival; a page PDFium cannot render after all
                self.show_error(ValueError(t("upload.unreadable", name=name)))
                log.warning("document %s could not be shown: %s", doc_id, type(exc).__name__)
                return None
            viewer.save_requested.connect(self._save_document)
            self.viewers[doc_id] = viewer
        viewer.show()
        viewer.raise_()
        return viewer

    def _save_document(self, doc_id: str) -> None:
        async def save(c: ConsoleController) -> None:
            await c.desk.save_to_case(doc_id)
            if doc_id in self.viewers:
                self.viewers[doc_id].set_saved(True)
            self.call.mark_saved(doc_id, self.t("documents.saved_suffix"))

        self._act(save)

    def _close_viewers(self) -> None:
        for viewer in self.viewers.values():
            viewer.release()
            viewer.close()
            viewer.deleteLater()
        self.viewers.clear()

    # ------------------------------------------------------------------ controller events

    def _event_handlers(self) -> dict[str, EventHandler]:
        """What each controller event changes beyond the re-render that follows every event."""
        t = self.t
        call = self.call
        return {
            "ring": self._on_ring,
            "ring_withdrawn": self._on_ring_withdrawn,
            "call_connecting": self._on_call_connecting,
            "call_ended": self._on_call_over,
            "call_requeued": self._on_call_over,
            "chat": lambda c, data: call.add_chat(
                "business" if data["sender"] == "resident" and c.desk.business else data["sender"],
                data["text"],
                untranslated=data.get("untranslated", False),
            ),
            "scan_status": lambda c, data: call.scan_status.setText(t(f"scan.{data['stage']}")),
            "document_received": self._on_document_received,
            "document_shown": lambda c, data: call.shown_status.setText(t("documents.sent")),
            "document_delivered": lambda c, data: call.shown_status.setText(
                t("documents.delivered")
                if data.get("ok")
                else t("documents.not_delivered", detail=data.get("detail", ""))
            ),
            "document_withdrawn": lambda c, data: call.shown_status.setText(t("documents.withdrawn")),
            "slip_sent": lambda c, data: call.slip_status.setText(t("slip.sent")),
            "print_result": lambda c, data: call.slip_status.setText(
                t("slip.printed")
                if data.get("ok")
                else t("slip.failed", status=data.get("printer_status", ""), detail=data.get("detail", ""))
            ),
            "transfer_cancelled": lambda c, data: call.transfer_status.setText(t("transfer.cancelled")),
            "outcome_recorded": self._on_outcome_recorded,
            "screen_share": self._on_screen_share,
            "transferred": self._on_transferred,
            "stats": self._on_stats,
            "error": lambda c, data: self.statusBar().showMessage(
                t("error.server", detail=data.get("detail", "")), 15_000
            ),
            "offline": lambda c, data: self.statusBar().showMessage(t("error.offline"), 15_000),
        }

    def _on_event(self, event: str, data: dict[str, Any]) -> None:
        c = self.controller
        if c is None:
            return
        handler = self._handlers.get(event)
        if handler is not None:
            handler(c, data)
        self.refresh()
        self.changed.emit(event)

    def _on_ring(self, c: ConsoleController, data: dict[str, Any]) -> None:
        if c.offer is None:
            return
        self.ring.show_offer(c.offer)
        self.tabs.setCurrentWidget(self.desk)
        self.desk.setCurrentWidget(self.ring)
        self.ringer.start()
        self.ring.accept.setFocus()  # Enter or Space answers
        self.showNormal()
        self.raise_()
        self.activateWindow()
        QApplication.alert(self, 0)

    def _on_ring_withdrawn(self, c: ConsoleController, data: dict[str, Any]) -> None:
        if self.ring.offer is not None and self.ring.offer.call_id == data.get("call_id"):
            self.ringer.stop()
            self.ring.stop()
            self.desk.setCurrentWidget(self.wrap_up if c.wrap.owed else self.shift)
            self.statusBar().showMessage(self.t(f"ring.withdrawn_{data.get('reason')}"), 10_000)

    def _on_call_connecting(self, c: ConsoleController, data: dict[str, Any]) -> None:
        session = c.party.session
        if c.reconnecting:  # the same call's media rebuilt: every detail stays, the new video shows
            self.call.stage.remote.set_source(session.remote_video if session is not None else None)
            return
        self.ringer.stop()
        self.ring.stop()
        self.call.reset()
        self.call.set_business(c.current is not None and c.current.business is not None)
        if session is not None:
            self.call.stage.remote.set_source(session.remote_video)
        media = c.party.media
        if isinstance(media, ConsoleMedia):
            self.call.stage.local.set_source(media.self_view if media.camera_on else None)
        self.desk.setCurrentWidget(self.call)
        self.tabs.setCurrentWidget(self.desk)

    def _on_call_over(self, c: ConsoleController, data: dict[str, Any]) -> None:
        if c.call_id is not None:
            return
        t = self.t
        self._close_viewers()
        self.call.stage.remote.set_source(None)
        self.call.stage.local.set_source(None)
        if c.wrap.owed is not None:  # the form stays, with what the officer had chosen and written
            call = self.call
            chosen = next(o for o, b in call.outcome_buttons.items() if b.isChecked())
            self.wrap_up.start(c, chosen, call.end_notes.toPlainText())
        self.desk.setCurrentWidget(self.wrap_up if c.wrap.owed else self.shift)
        reason = data.get("reason", "requeued")
        self.statusBar().showMessage(
            t("call.ended", reason=t(f"end_reason.{reason}") if t.has(f"end_reason.{reason}") else reason),
            10_000,
        )

    def _on_screen_share(self, c: ConsoleController, data: dict[str, Any]) -> None:
        session = c.party.session
        # remote_screen: the session's LatestFrame of the second remote video track (the shared screen)
        source = getattr(session, "remote_screen", None) if session is not None else None
        self.call.set_screen_share(bool(data.get("active")), source)
        if data.get("active"):
            self.tabs.setCurrentWidget(self.desk)

    def _on_document_received(self, c: ConsoleController, data: dict[str, Any]) -> None:
        t = self.t
        if not data.get("ok"):
            if data.get("purpose") == "upload":
                text = upload_problem(t, data.get("name") or "", data.get("detail", ""))
            else:
                text = t("scan.damaged", detail=data.get("detail", ""))
            self.call.set_document_status(text, problem=True)
            return
        doc = c.desk.documents.get(data["doc_id"])
        if doc is not None:
            label = t(
                "documents.item_upload" if doc.upload else "documents.item",
                name=doc.offer.name or data["doc_id"],
                size=f"{doc.offer.size / 1024:.0f}",
                pages=doc.pages,
            )
            self.call.add_document(data["doc_id"], label)
            self.call.set_document_status(t("upload.verified" if doc.upload else "scan.verified"))
            self.open_document(data["doc_id"])

    def _on_transferred(self, c: ConsoleController, data: dict[str, Any]) -> None:
        t = self.t
        name = self.directory.department_name(data["to_department"], t.language)
        self.call.transfer_status.setText(
            t("transfer.warm_pending", department=name)
            if data.get("warm")
            else t("transfer.done", department=name)
        )

    def _on_outcome_recorded(self, c: ConsoleController, data: dict[str, Any]) -> None:
        if self.desk.currentWidget() is self.wrap_up and c.wrap.owed is None:
            self.desk.setCurrentWidget(self.shift)
            self.statusBar().showMessage(self.t("wrap.recorded"), 10_000)

    def _on_stats(self, c: ConsoleController, data: dict[str, Any]) -> None:
        self.board.refresh(c.stats)
        self.tabs.setTabVisible(2, True)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        """Wait until ``predicate()`` holds, re-checked after each rendered controller event."""
        if predicate():
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def check(_event: str) -> None:
            if not done.done() and predicate():
                done.set_result(None)

        self.changed.connect(check)
        try:
            await asyncio.wait_for(done, timeout)
        finally:
            self.changed.disconnect(check)

    def refresh(self) -> None:
        c = self.controller
        if c is None:
            return
        self.header.refresh(c)
        self.shift.refresh(c)
        self.call.refresh(c, self._departments())
        self.history.refresh(c.history)

    def _tick(self) -> None:
        if self.controller is None:
            return
        self.header.refresh(self.controller)
        if self.desk.currentWidget() is self.ring:
            self.ring.tick()
        elif self.desk.currentWidget() is self.wrap_up:
            self.wrap_up.refresh(self.controller)
        if self.controller.call_id is not None:
            self.call.refresh(self.controller, self._departments())

    def _departments(self) -> list[tuple[str, str]]:
        c = self.controller
        if c is None:
            return []
        return [(d.id, d.name_ja if self.t.language == "ja" else d.name_en) for d in c.departments.values()]


UPLOAD_PROBLEMS = ("too_large", "wrong_type", "unreadable", "damaged")


def upload_problem(t: Messages, name: str, detail: str) -> str:
    """The officer's sentence for a refused upload, from the reason code that starts ``detail``."""
    code = detail.split(":", 1)[0].strip()
    key = f"upload.{code}" if code in UPLOAD_PROBLEMS else "upload.refused"
    return t(key, name=name or "—", detail=detail)
