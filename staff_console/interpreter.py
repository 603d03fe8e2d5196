"""Interpreters in the console, free of Qt: the officer's request (``InterpreterDesk``) and the console in
interpreter mode (``InterpreterController``).

The officer asks for an interpreter of a language from the call (``request_interpreter``); the server queues
the request in the interpreters' pool and tells the officer and the caller where it stands
(``interpreter_status``: waiting with position and estimate, ringing, joined, left, unavailable...). When an
interpreter accepts, every party builds one more peer connection (``remote_call.conference``).

An interpreter signs in with the console like an officer (password, then a session token), sets
available/away, is offered requests (``interpretation_offer``), accepts one and joins the call as the offerer
of two peer connections (to the caller and to the officer), and leaves when done (``leave_call``): the
resident and the officer go on. On a transfer the interpreter follows the resident (docs/console.md).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from remote_call import protocol as p
from remote_call.conference import Conference
from remote_call.events import EventHub
from remote_call.party import MediaSources
from remote_call.signaling_client import ServerUrls, SignalingClient
from remote_call.telemetry import TelemetryReporter
from remote_call.wire import INTERPRETER_LANGUAGES
from staff_console.interpreter_desk import InterpretingDesk

log = logging.getLogger(__name__)

APP_VERSION = "0.1.0"
INTERPRETER_STATES = ("offline", "available", "ringing", "in_call", "wrap_up", "away")


class InterpreterDesk:
    """The officer's side: request or cancel an interpreter for the current call; the interpreter's
    connection lives in ``conference`` (shared with the call's other extra parties)."""

    def __init__(
        self, send: Callable[[p.Wire], Any], conference: Conference, call_id: Callable[[], str | None]
    ):
        self._send = send
        self.conference = conference
        self._call_id = call_id

    @property
    def status(self) -> p.InterpreterStatus | None:
        return self.conference.interpreter

    @property
    def joined(self) -> bool:
        return "interpreter" in self.conference.links

    async def request(self, language: str) -> None:
        call_id = self._call_id()
        if call_id is None:
            raise RuntimeError("no call in progress")
        if language not in INTERPRETER_LANGUAGES:
            raise ValueError(f"no interpreters for {language!r}; one of {', '.join(INTERPRETER_LANGUAGES)}")
        await self._send(p.RequestInterpreter(call_id=call_id, language=language))  # type: ignore[arg-type]

    async def cancel(self) -> None:
        """Withdraw the request, or remove the interpreter who joined."""
        call_id = self._call_id()
        if call_id is None:
            raise RuntimeError("no call in progress")
        await self._send(p.CancelInterpreter(call_id=call_id))


class InterpreterController:
    """The console signed in as an interpreter: offers, accept, two peer connections, leave."""

    def __init__(
        self,
        server_url: ServerUrls,
        username: str,
        password: str,
        media: MediaSources,
        *,
        telemetry: bool = True,
        heartbeat_s: float = 10.0,
        quality_s: float = 5.0,
        **client_options: Any,
    ):
        self.username = username
        self._password: str | None = password
        self._session_token: str | None = None
        self.events = EventHub()
        self.online = False
        self.display_name = username
        self.languages: list[str] = []
        self.departments: dict[str, p.DepartmentInfo] = {}
        self.state = "offline"
        self.offer: p.InterpretationOffer | None = None
        self.current: p.InterpretationOffer | None = None  # the offer of the call being interpreted
        self.call_id: str | None = None
        self.last_error: p.Error | None = None
        self.client = SignalingClient(
            server_url,
            self._hello,
            on_message=self._on_message,
            on_welcome=self._on_welcome,
            on_disconnect=self._on_disconnect,
            **client_options,
        )
        self.conference = Conference(self.client.send, media, self.events)
        self.desk = InterpretingDesk(self.conference, self.events)  # the call's chat and what is shown
        # Heartbeats like the officer's console (the IT dashboard sees the interpreter's PC alive, its CPU
        # and devices) and, in a call, the quality of the link to the resident.
        self.telemetry = (
            TelemetryReporter(
                self._send_telemetry,
                self.device_health,
                lambda: self.conference.session("caller"),
                lambda: self.call_id if self.conference.session("caller") is not None else None,
                heartbeat_s=heartbeat_s,
                quality_s=quality_s,
                app_version=APP_VERSION,
            )
            if telemetry
            else None
        )

    def _hello(self) -> p.Hello:
        credentials: p.SessionCredentials | p.PasswordCredentials
        if self._session_token is not None:
            credentials = p.SessionCredentials(token=self._session_token)
        else:
            credentials = p.PasswordCredentials(username=self.username, password=self._password or "")
        return p.Hello(
            v=p.PROTOCOL_VERSION, role=p.Role.INTERPRETER, credentials=credentials, app_version=APP_VERSION
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self, timeout: float = 10.0) -> None:
        self.client.start()
        await self.client.wait_connected(timeout)
        if self.telemetry is not None:
            self.telemetry.start()

    async def stop(self) -> None:
        if self.telemetry is not None:
            await self.telemetry.stop()
        await self.conference.close_all()
        self.desk.peers.close()
        self.desk.forget()
        await self.client.close()

    # ------------------------------------------------------------------ the interpreter's actions

    async def set_available(self) -> None:
        await self.client.send(p.SetStatus(status="available"))

    async def set_away(self, reason: str = "break") -> None:
        await self.client.send(p.SetStatus(status="away", reason=reason))  # type: ignore[arg-type]

    async def accept(self) -> None:
        if self.offer is None:
            raise RuntimeError("no interpretation is ringing")
        await self.client.send(p.AcceptInterpretation(call_id=self.offer.call_id))

    async def decline(self) -> None:
        if self.offer is None:
            raise RuntimeError("no interpretation is ringing")
        offer, self.offer = self.offer, None
        await self.client.send(p.DeclineInterpretation(call_id=offer.call_id))

    async def leave(self) -> None:
        """Leave the call: both connections close; the resident and the officer go on."""
        call_id = self.call_id
        if call_id is None:
            raise RuntimeError("not in a call")
        self.call_id, self.current = None, None  # at once: a new offer may arrive while we close
        with contextlib.suppress(ConnectionError):
            await self.client.send(p.LeaveCall(call_id=call_id))
        await self.conference.close_all()
        self.desk.forget()
        self.events.emit("call_ended", call_id=call_id, reason="left")

    async def _finish(self, call_id: str, reason: str) -> None:
        self.call_id, self.current = None, None
        await self.conference.close_all()
        self.desk.forget()
        self.events.emit("call_ended", call_id=call_id, reason=reason)

    def device_health(self) -> Mapping[str, Any]:
        """The interpreter's devices (name -> health), when its media sources report them."""
        health = getattr(self.conference.media, "health", None)
        return health() if callable(health) else {}

    async def _send_telemetry(self, message: p.Wire) -> None:
        await self.client.send(message)
        self.events.emit("telemetry", type=getattr(message, "type", type(message).__name__))

    async def ping(self, nonce: int) -> None:
        """A round trip to the server: the event ``pong`` (nonce) follows everything sent before it."""
        await self.client.send(p.Ping(nonce=nonce))

    @property
    def in_call(self) -> bool:
        return self.call_id is not None

    def frames_from(self, party: p.PartyId) -> int:
        return self.conference.frames_from(party)

    def department_name(self, department_id: str, language: str = "ja") -> str:
        info = self.departments.get(department_id)
        if info is None:
            return department_id
        return info.name_ja if language == "ja" else info.name_en

    # ------------------------------------------------------------------ server messages

    async def _on_welcome(self, welcome: p.Welcome) -> None:
        if welcome.session_token:
            self._session_token, self._password = welcome.session_token, None
        self.online = True
        self.display_name = welcome.display_name or self.username
        self.languages = sorted(welcome.skills)
        self.departments = {d.id: d for d in welcome.departments}
        self.events.emit("online")
        if self.call_id is not None:
            with contextlib.suppress(ConnectionError):
                await self.client.send(p.SyncCall(call_id=self.call_id))

    def _on_disconnect(self) -> None:
        self.online = False
        self.events.emit("offline")

    async def _on_message(self, message: p.Wire) -> None:
        if self.telemetry is not None:
            self.telemetry.on_message(message)
        if isinstance(message, p.Pong):
            self.events.emit("pong", nonce=message.nonce)
        elif isinstance(message, p.InterpretationOffer):
            self.offer = message
            self.events.emit(
                "ring", call_id=message.call_id, language=message.language, waited_s=message.waited_s
            )
        elif isinstance(message, p.OfferWithdrawn):
            if self.offer is not None and self.offer.call_id == message.call_id:
                self.offer = None
            self.events.emit("ring_withdrawn", call_id=message.call_id, reason=message.reason)
        elif isinstance(message, p.OfficerState):
            self.state = message.state
            self.events.emit("state", state=message.state, reason=message.reason)
        elif isinstance(message, p.CallConnecting) and message.peer is not None:
            if self.call_id != message.call_id:
                self.current = (
                    self.offer if self.offer and self.offer.call_id == message.call_id else self.current
                )
                self.offer = None
                self.call_id = message.call_id
            await self.conference.handle(message)
        elif isinstance(message, p.CallEnded):
            if message.call_id == self.call_id:
                await self._finish(message.call_id, message.reason.value)
        elif isinstance(message, p.Error):
            self.last_error = message
            log.warning("server error %s: %s", message.code.value, message.detail)
            self.events.emit("error", code=message.code.value, detail=message.detail, about=message.about)
        else:
            await self.conference.handle(message)
