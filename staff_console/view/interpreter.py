"""Interpreters in the console's views: the officer's 「通訳」 tab in the call page, and the window of the
console in interpreter mode (offers, accept or decline, the two parties' videos, leave).

Both only show the Qt-free state (``staff_console.interpreter``) and emit signals; the windows run the
controllers' coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from remote_call import protocol as p
from remote_call.signaling_client import ServerUrls, SignalingRefused
from remote_call.wire import INTERPRETER_LANGUAGES
from staff_console.controller import ConsoleController
from staff_console.i18n import Messages
from staff_console.interpreter import InterpreterController
from staff_console.view.interpreter_desk import InterpreterDeskPanel
from staff_console.view.sign_in import SignInPage
from staff_console.view.video import VideoView

ENDED_STATES = ("left", "unavailable", "cancelled", "no_answer")


def status_text(t: Messages, status: p.InterpreterStatus | None) -> str:
    """The request as the officer reads it: waiting with place and estimate, ringing, joined..."""
    if status is None:
        return t("interpreter.none")
    language = t(f"interpreter.lang.{status.language}")
    minutes = max(1, round((status.estimate_s or 0) / 60))
    return t(
        f"interpreter.state_{status.state}",
        language=language,
        position=status.position or 1,
        minutes=minutes,
        name=status.name or "",
    )


class InterpreterTab(QWidget):
    """「通訳」: pick a language, 「通訳を依頼」, where the request stands, the interpreter's video."""

    requested = Signal(str)
    cancelled = Signal()

    def __init__(self, t: Messages, parent: QWidget | None = None):
        super().__init__(parent)
        self.t = t
        self.language = QComboBox(self)
        self.language.setObjectName("interpreterLanguage")
        for code in INTERPRETER_LANGUAGES:
            self.language.addItem(t(f"interpreter.lang.{code}"), code)
        self.request = QPushButton(t("interpreter.request"), self)
        self.request.setObjectName("primary")
        self.cancel = QPushButton(t("interpreter.cancel"), self)
        self.status = QLabel(t("interpreter.none"), self)
        self.status.setObjectName("interpreterStatus")
        self.status.setWordWrap(True)
        self.video = VideoView(t("interpreter.video_waiting"), self, border=True)
        self.video.setObjectName("interpreterVideo")
        self.video.setMinimumHeight(220)
        row = QHBoxLayout()
        row.addWidget(self.language, 1)
        row.addWidget(self.request)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.cancel)
        layout.addWidget(self.video, 1)
        self.request.clicked.connect(lambda: self.requested.emit(self.language.currentData() or ""))
        self.cancel.clicked.connect(self.cancelled.emit)

    def reset(self) -> None:
        self.video.set_source(None)
        self.status.setText(self.t("interpreter.none"))

    def refresh(self, c: ConsoleController) -> None:
        status = c.interpreter.status
        joined = c.interpreter.joined
        pending = status is not None and status.state not in ENDED_STATES
        self.status.setText(status_text(self.t, status))
        self.request.setEnabled(c.in_call and not pending and not joined)
        self.language.setEnabled(c.in_call and not pending and not joined)
        self.cancel.setEnabled(pending or joined)
        self.cancel.setText(self.t("interpreter.remove" if joined else "interpreter.cancel"))
        session = c.conference.session("interpreter")
        source = session.remote_video if session is not None else None
        if self.video.source is not source:
            self.video.set_source(source)


class InterpreterWindow(QMainWindow):
    """The console in interpreter mode: available/away, the offer, and in a call the resident and the
    officer side by side with 「退出」."""

    closed = Signal()

    def __init__(self, t: Messages, controller: InterpreterController):
        super().__init__()
        self.t = t
        self.controller = controller
        self.setWindowTitle(t("interpreter.window_title"))
        self.state = QLabel("", self)
        self.state.setObjectName("interpreterState")
        self.available = QPushButton(t("interpreter.available"), self)
        self.away = QPushButton(t("interpreter.away"), self)
        self.offer = QLabel(t("interpreter.no_offer"), self)
        self.offer.setObjectName("interpretationOffer")
        self.offer.setWordWrap(True)
        self.accept = QPushButton(t("interpreter.accept"), self)
        self.accept.setObjectName("primary")
        self.decline = QPushButton(t("interpreter.decline"), self)
        self.resident = VideoView(t("interpreter.video_resident"), self, border=True)
        self.resident.setObjectName("residentVideo")
        self.officer = VideoView(t("interpreter.video_officer"), self, border=True)
        self.officer.setObjectName("officerVideo")
        self.leave = QPushButton(t("interpreter.leave"), self)
        top = QHBoxLayout()
        for widget in (self.state, self.available, self.away):
            top.addWidget(widget)
        top.addStretch(1)
        answer = QHBoxLayout()
        answer.addWidget(self.offer, 1)
        answer.addWidget(self.accept)
        answer.addWidget(self.decline)
        self.desk = InterpreterDeskPanel(t, controller.desk, self)  # the chat and what is shown
        videos = QHBoxLayout()
        videos.addWidget(self.resident, 1)
        videos.addWidget(self.officer, 1)
        videos.addWidget(self.desk, 1)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.addLayout(top)
        layout.addLayout(answer)
        layout.addLayout(videos, 1)
        layout.addWidget(self.leave)
        self.setCentralWidget(body)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.available.clicked.connect(lambda: self._run(controller.set_available()))
        self.away.clicked.connect(lambda: self._run(controller.set_away()))
        self.accept.clicked.connect(lambda: self._run(controller.accept()))
        self.decline.clicked.connect(lambda: self._run(controller.decline()))
        self.leave.clicked.connect(lambda: self._run(controller.leave()))
        self._unsubscribe = controller.events.subscribe(lambda _event, _data: self.refresh())
        self.refresh()

    def _run(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.statusBar().showMessage(self.t("error.action", detail=str(task.exception())), 15_000)

    def refresh(self) -> None:
        c, t = self.controller, self.t
        self.state.setText(t("interpreter.state_line", name=c.display_name, state=t(f"state.{c.state}")))
        offer = c.offer if c.offer is not None else c.current
        if offer is not None:
            text = t(
                "interpreter.offer",
                language=t(f"interpreter.lang.{offer.language}"),
                department=c.department_name(offer.department, t.language),
                waited=max(0, round(offer.waited_s)),
            )
        else:
            text = t("interpreter.no_offer")
        self.offer.setText(text)
        ringing = c.offer is not None and not c.in_call
        self.accept.setEnabled(ringing)
        self.decline.setEnabled(ringing)
        self.leave.setEnabled(c.in_call)
        self.available.setEnabled(not c.in_call and c.state != "available")
        self.away.setEnabled(not c.in_call and c.state != "away")
        self.desk.refresh(c.in_call)
        for view, party in ((self.resident, "caller"), (self.officer, "officer")):
            session = c.conference.session(party)  # type: ignore[arg-type]
            source = session.remote_video if session is not None else None
            if view.source is not source:
                view.set_source(source)

    def closeEvent(self, event: Any) -> None:
        self._unsubscribe()
        super().closeEvent(event)
        self.closed.emit()


class InterpreterSignIn(QMainWindow):
    """The sign-in page in interpreter mode (the console's own page, the role fixed): ``run()`` returns a
    started controller once the server accepts a user name and password, or None when the window is
    closed. A refusal is shown on the page, which stays for another try."""

    closed = Signal()

    def __init__(
        self, t: Messages, server: ServerUrls, media: Any, ssl_context: Any = None, username: str = ""
    ):
        super().__init__()
        self.t, self._server, self._media, self._ssl = t, server, media, ssl_context
        self.setWindowTitle(t("interpreter.window_title"))
        self.page = SignInPage(t, server, username, self)
        self.page.role.clear()
        self.page.role.addItem(t("signin.role_interpreter"), "interpreter")
        self.page.role.setEnabled(False)
        self.setCentralWidget(self.page)
        self._attempts: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.page.submitted.connect(lambda user, password, _role: self._attempts.put_nowait((user, password)))
        self.refused = asyncio.Event()  # set at each refusal shown on the page (tests wait on it)
        self._closed = False

    async def run(self) -> InterpreterController | None:
        closed = asyncio.get_running_loop().create_future()
        self.closed.connect(lambda: None if closed.done() else closed.set_result(None))
        if self._closed:
            return None
        while True:
            attempt = asyncio.ensure_future(self._attempts.get())
            await asyncio.wait({attempt, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not attempt.done():
                attempt.cancel()
                return None
            username, password = attempt.result()
            controller = InterpreterController(
                self._server, username, password, self._media, ssl_context=self._ssl
            )
            try:
                await controller.start()
            except (SignalingRefused, TimeoutError, ConnectionError, OSError) as exc:
                await controller.stop()
                self.page.show_error(self._refusal(exc))
                self.refused.set()
                continue
            self.close()
            return controller

    def _refusal(self, exc: BaseException) -> str:
        if isinstance(exc, SignalingRefused):
            return self.t("error.refused", detail=str(exc))
        return self.t("error.connection", detail=str(exc) or type(exc).__name__)

    def closeEvent(self, event: Any) -> None:
        super().closeEvent(event)
        self._closed = True
        self.closed.emit()


async def run_interpreter(
    server: ServerUrls, username: str, password: str | None, media: Any, t: Messages, ssl_context: Any = None
) -> int:
    """``madoguchi-console --role interpreter``: sign in (with --password-file, else on the sign-in page),
    show the window until it is closed."""
    if password is not None:
        controller = InterpreterController(server, username, password, media, ssl_context=ssl_context)
        await controller.start()
    else:
        sign_in = InterpreterSignIn(t, server, media, ssl_context, username)
        sign_in.show()
        signed_in = await sign_in.run()
        if signed_in is None:
            return 0  # the page was closed
        controller = signed_in
    window = InterpreterWindow(t, controller)
    closed = asyncio.get_running_loop().create_future()
    window.closed.connect(lambda: None if closed.done() else closed.set_result(None))
    window.show()
    try:
        await closed
    finally:
        await controller.stop()
    return 0
