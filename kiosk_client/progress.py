"""The resident's call from the request to its end, and how its progress moves the kiosk.

The request (``call_officer`` from preflight, or ``request_call`` through the API), cancelling and ending go
to the server; its answers (queued, refused, an error about the request) and the call party's events
(connecting, started, requeued, ended) set the call state and the screen (along ``kiosk_client.flow``'s
tables), the resident's notices and the desk's session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kiosk_client.desk import KioskDesk
from kiosk_client.flow import CALL_SCREENS, KioskFlow, KioskState, Screen
from kiosk_client.media import KioskMedia
from kiosk_client.resident import Notice, ResidentSession
from kiosk_client.sounds import CuePlayer
from remote_call import protocol as p
from remote_call.party import CallParty

log = logging.getLogger(__name__)

REFUSALS = {
    "closed": "trouble.closed",
    "last_join_passed": "trouble.last_join_passed",
    "queue_full": "trouble.queue_full",
}


class CallProgress:
    def __init__(
        self,
        flow: KioskFlow,
        party: CallParty,
        desk: KioskDesk,
        cues: CuePlayer,
        media: KioskMedia,
        *,
        send: Callable[[p.Wire], Awaitable[None]],
        online: Callable[[], bool],
        resident: Callable[[], ResidentSession],
        notify: Callable[[Notice | None], None],
        forget_call: Callable[[], None],
    ) -> None:
        """``notify`` shows (or clears) a trouble notice; ``forget_call`` is the in-call privacy reset."""
        self._flow = flow
        self._party = party
        self._desk = desk
        self._cues = cues
        self._media = media
        self._send = send
        self._online = online
        self._resident = resident
        self._notify = notify
        self._forget_call = forget_call
        self.last_error: p.Error | None = None
        self._events = {
            "call_connecting": self._on_connecting,
            "call_started": self._on_started,
            "call_requeued": self._on_requeued,
            "call_ended": self._on_ended,
            "online": self._on_online,
        }
        self._sync: asyncio.Future[None] | None = None  # the waiting call's sync_call after a reconnection

    def server_handlers(self) -> dict[type[Any], Callable[[Any], None]]:
        return {p.Queued: self._on_queued, p.CallRefused: self._on_refused, p.Error: self._on_error}

    def on_party_event(self, event: str, data: dict[str, Any]) -> None:
        handler = self._events.get(event)
        if handler is not None:
            handler(data)

    # ------------------------------------------------------------------ to the server

    async def call_officer(self) -> None:
        """Preflight's "職員を呼ぶ": join the department's queue."""
        department = self._resident().department
        if department is None:
            raise RuntimeError("no department chosen")
        if not self._online():
            self._notify(Notice("trouble.offline"))
            return
        resident = self._resident()
        accessibility = [
            a
            for a, on in (
                ("large_text", resident.large_text),
                ("high_contrast", resident.high_contrast),
                ("easy_japanese", resident.language == "ja-easy"),
                ("hearing", resident.hearing),
            )
            if on
        ]
        await self._media.stop_preview()
        self._notify(None)
        self._resident().requested = True
        self._flow.set_screen(Screen.WAITING)
        try:
            resident = self._resident()
            await self.request_call(
                department,
                procedure=resident.procedure,
                language=resident.language,
                accessibility=accessibility,
            )
        except (ConnectionError, RuntimeError) as exc:
            log.warning("call request failed: %s", exc)
            self._resident().requested = False
            self._flow.set_screen(Screen.CHOOSE)
            self._notify(Notice("trouble.offline"))

    async def request_call(
        self,
        department: str,
        *,
        procedure: str | None = None,
        language: str = "ja",
        accessibility: list[str] | None = None,
    ) -> None:
        if self._flow.state is not KioskState.IDLE:
            raise RuntimeError(f"cannot request a call while {self._flow.state.value}")
        resident = self._resident()
        resident.department = department
        resident.procedure = procedure
        resident.language = language
        resident.accessibility = list(accessibility or [])
        resident.refused = None
        caller = p.CallerInfo(procedure=procedure, language=language, accessibility=resident.accessibility)
        interpreter = resident.interpreter_language  # 通訳つき, chosen on the welcome screen
        await self._send(
            p.RequestCall(department=department, caller=caller, interpreter_language=interpreter)  # type: ignore[arg-type]
        )

    async def cancel(self) -> None:
        call_id = self._resident().call_id
        if call_id is not None:
            await self._send(p.CancelCall(call_id=call_id))

    async def end_call(self) -> None:
        call_id = self._resident().call_id
        if call_id is not None:
            await self._send(p.EndCall(call_id=call_id))

    # ------------------------------------------------------------------ the server's answers

    def _on_queued(self, message: p.Queued) -> None:
        resident = self._resident()
        resident.call_id = message.call_id
        resident.position = message.position
        resident.ewt_s = message.ewt_s
        self._flow.set_state(KioskState.WAITING)
        if self._flow.screen not in (Screen.CONNECTING, Screen.IN_CALL):
            self._flow.set_screen(Screen.WAITING)
        self._flow.events.emit("queue", position=message.position, ewt_s=message.ewt_s)

    def _on_refused(self, message: p.CallRefused) -> None:
        resident = self._resident()
        resident.refused = message
        resident.requested = False
        self._flow.events.emit("refused", reason=message.reason, next_open=message.next_open)
        if self._flow.screen is Screen.WAITING:
            self._flow.set_screen(Screen.CHOOSE)
        key = REFUSALS.get(message.reason, "trouble.unavailable")
        self._notify(Notice(key, message.department, message.next_open))

    def _on_error(self, message: p.Error) -> None:
        self.last_error = message
        log.warning("server error %s: %s", message.code.value, message.detail)
        self._flow.events.emit("error", code=message.code.value, detail=message.detail)
        resident = self._resident()
        if (
            self._flow.screen is Screen.WAITING
            and resident.call_id is None
            and message.about == "request_call"
        ):
            resident.requested = False
            self._flow.set_screen(Screen.CHOOSE)
            self._notify(Notice("trouble.call_failed"))
        elif self._waiting_call_unknown(message):
            # The server has no such call of ours: nothing will ever call the resident. They may call again.
            log.warning("the server no longer knows the waiting call; the resident may call again")
            resident.call_id, resident.requested = None, False
            self._flow.set_state(KioskState.IDLE)
            self._flow.set_screen(Screen.CHOOSE)
            self._notify(Notice("trouble.call_failed"))

    def _waiting_call_unknown(self, message: p.Error) -> bool:
        return (
            message.about == "sync_call"
            and message.code is p.ErrorCode.NOT_FOUND
            and self._flow.state is KioskState.WAITING
            and self._party.call_id is None
        )

    # ------------------------------------------------------------------ the call party's events

    def _on_online(self, _data: dict[str, Any]) -> None:
        """Back after a reconnection while waiting: ask where the waiting call stands. The server tells a
        returning caller of a call still queued, and of one that ended while it was away if it has kept that
        since; a call that ended across a restart of the server was heard of by nobody and the resident
        would wait for ever (the call party asks only about a call with media: ``CallParty``)."""
        call_id = self._resident().call_id
        if self._flow.state is KioskState.WAITING and call_id is not None and self._party.call_id is None:
            self._sync = asyncio.ensure_future(self._ask(p.SyncCall(call_id=call_id)))

    async def _ask(self, message: p.Wire) -> None:
        with contextlib.suppress(ConnectionError):
            await self._send(message)

    def _on_connecting(self, data: dict[str, Any]) -> None:
        if self._party.session is not None:
            self._desk.attach(self._party.session)
        self._resident().officer_name = data.get("peer_name")
        restarted = data.get("restart") and self._flow.screen is Screen.IN_CALL
        self._flow.set_state(KioskState.CONNECTING)
        if not restarted:  # a media restart keeps the call on screen, saying 再接続中 (view.in_call)
            self._flow.set_screen(Screen.CONNECTING)

    def _on_started(self, _data: dict[str, Any]) -> None:
        self._flow.set_state(KioskState.IN_CALL)
        self._flow.set_screen(Screen.IN_CALL)
        self._cues.play("connected")

    def _on_requeued(self, _data: dict[str, Any]) -> None:
        self._forget_call()
        self._flow.set_state(KioskState.WAITING)
        self._flow.set_screen(Screen.WAITING)
        self._notify(Notice("trouble.requeued"))

    def _on_ended(self, data: dict[str, Any]) -> None:
        resident = self._resident()
        if data.get("call_id") != resident.call_id:
            return
        resident.end_reason = data.get("reason")
        resident.call_id = None
        self._forget_call()
        self._flow.set_state(KioskState.FINISHED)
        if self._flow.screen in CALL_SCREENS or self._flow.screen is Screen.AFTER_CALL:
            self._cues.play("ended")
            self._flow.set_screen(Screen.AFTER_CALL)
