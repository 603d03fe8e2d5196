"""The officer console's headless controller: sign in, take calls, talk, end with an outcome; free of Qt.

The officer signs in with a password once; the server returns a session token that the client uses to
reconnect, so the password is not kept after the first welcome. Besides the call itself the controller keeps
the shift (departments served), the wrap-up clock, the supervisor statistics pushed by the server, the in-call
desk (``desk``: chat, scans, documents, slips) and the history of the officer's calls today.
The Qt view (staff_console.view) and the tests drive this class; it never imports Qt.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from config.phrasebook import config_names
from config.schema import AppConfig
from remote_call import protocol as p
from remote_call.conference import call_parties
from remote_call.events import EventHub
from remote_call.party import MediaSources
from remote_call.signaling_client import ServerUrls, SignalingClient
from remote_call.telemetry import TelemetryReporter
from staff_console.desk import AuditRecord, CallDesk
from staff_console.directory import AWAY_REASONS, OUTCOMES, Directory
from staff_console.guests import GuestLinkClient
from staff_console.history import CallHistory, HistoryEntry
from staff_console.interpreter import InterpreterDesk
from staff_console.invitations import InvitationClient
from staff_console.wrap_up import WrapUpClock

log = logging.getLogger(__name__)

APP_VERSION = "0.1.0"


class ConsoleController:
    def __init__(
        self,
        server_url: ServerUrls,  # several: a cluster's nodes, tried in rotation
        username: str,
        password: str,
        media: MediaSources,
        *,
        role: str = "officer",
        config: AppConfig | None = None,
        clock: Callable[[], float] = time.time,
        telemetry: bool = True,
        heartbeat_s: float = 10.0,
        quality_s: float = 5.0,
        **client_options: Any,
    ):
        if role not in ("officer", "supervisor"):
            raise ValueError(f"the console signs in as 'officer' or 'supervisor', not {role!r}")
        self.username = username
        self.role = p.Role(role)
        self._password: str | None = password
        self._session_token: str | None = None
        self.clock = clock
        self.directory = Directory(config)
        self.events = EventHub()
        self.online = False
        self.officer_state = "offline"
        self.state_reason: str | None = None
        self.state_since: float = clock()
        self.offer: p.CallOffer | None = None
        self.call_id: str | None = None
        self.current: p.CallOffer | None = None  # the offer of the call in progress (kiosk, caller, notes)
        self.in_call = False
        self.reconnecting = False  # the call's media is being rebuilt (restart): the call goes on, 再接続中
        self.wrap = WrapUpClock(clock)  # the outcome owed for an ended call; the clock pauses while writing
        self.transfer: p.CallTransferred | None = None  # a warm transfer waiting for the other department
        self.display_name = username
        self.departments: dict[str, p.DepartmentInfo] = {}
        self.welcome_skills: dict[str, str] = {}
        self.shift: list[str] = []
        self.stats: dict[str, Any] | None = None
        self.wrap_up_department: str | None = None
        self.last_error: p.Error | None = None
        self.history = CallHistory()
        self._pongs: dict[int, asyncio.Future[None]] = {}
        self._nonce = 0
        self.desk = CallDesk(
            self.events,
            audit_sender=self._send_audit,
            case_uploader=self._upload_to_case,
            names=config_names(config),
        )
        self.invitations = InvitationClient(self.rest_base, lambda: self._session_token, self._rest_ssl)
        self.client = SignalingClient(
            server_url,
            self._hello,
            on_message=self._on_message,
            on_welcome=self._on_welcome,
            on_disconnect=self._on_disconnect,
            **client_options,
        )
        # The caller<->officer pair, and the interpreter's connection (sharing the desk's chat and documents).
        self.party, self.conference = call_parties(self.client.send, media, self.events, desk=self.desk)
        self.interpreter = InterpreterDesk(self.client.send, self.conference, lambda: self.call_id)
        self.events.subscribe(self._on_party_event)
        # Heartbeats (devices' health, server round trip) and, during calls, CallQuality from getStats().
        self.telemetry = (
            TelemetryReporter(
                self._send_telemetry,
                self.device_health,
                lambda: self.party.session,
                lambda: self.party.call_id,
                heartbeat_s=heartbeat_s,
                quality_s=quality_s,
                app_version=APP_VERSION,
            )
            # A supervisor takes no calls and its PC is not a call party the health registry follows: the
            # server refuses its heartbeats (the status bar showed "a supervisor may not send 'heartbeat'").
            if telemetry and self.role is p.Role.OFFICER
            else None
        )

    def _hello(self) -> p.Hello:
        if self._session_token is not None:
            credentials: p.SessionCredentials | p.PasswordCredentials = p.SessionCredentials(
                token=self._session_token
            )
        else:
            credentials = p.PasswordCredentials(username=self.username, password=self._password or "")
        return p.Hello(v=p.PROTOCOL_VERSION, role=self.role, credentials=credentials, app_version=APP_VERSION)

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
        await self.party.hang_up()
        self.desk.detach()
        await self.client.close()

    async def sign_out(self) -> None:
        """End this console's session on the server (``DELETE /api/sessions/current``: the token stops
        working everywhere and the server closes its connections), then stop. Signing in again needs the
        password."""
        import aiohttp

        token, self._session_token, self._password = self._session_token, None, None
        if token is not None:
            url = f"{self.rest_base()}/api/sessions/current"
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.delete(
                        url, headers={"Authorization": f"Bearer {token}"}, ssl=self._rest_ssl() or True
                    ) as response,
                ):
                    if response.status != 204:
                        log.warning(
                            "sign-out refused (%s); the session ends when it expires", response.status
                        )
            except (aiohttp.ClientError, OSError) as exc:
                log.warning("sign-out: server unreachable (%s); the session ends when it expires", exc)
        await self.stop()

    # ------------------------------------------------------------------ queries

    @property
    def skills(self) -> list[str]:
        """Departments this officer may serve, in the welcome's order: the welcome's skills; from an older
        server without them, the departments of the statistics pushed to officers."""
        if self.welcome_skills:
            return [d for d in self.departments if d in self.welcome_skills] or list(self.welcome_skills)
        stats = self.stats or {}
        mine = stats.get("departments")
        if self.role is p.Role.OFFICER and "officers" not in stats and isinstance(mine, dict) and mine:
            return [d for d in self.departments if d in mine] or list(mine)
        return list(self.departments)

    def wrap_up_remaining(self) -> float | None:
        """Seconds of wrap-up left (negative: overdue), or None when not in wrap-up."""
        if self.officer_state != "wrap_up":
            return None
        limit = self.directory.wrap_up_s(self.wrap_up_department)
        return (limit if limit is not None else 0.0) - self.wrap.used(self.state_since)

    @functools.cached_property
    def guests(self) -> GuestLinkClient:
        """A family member by link into the call in progress (staff_console.guests, docs/guests.md)."""
        return GuestLinkClient(
            self.rest_base, lambda: self._session_token, lambda: self.call_id, self._rest_ssl
        )

    def rest_base(self) -> str:
        """The server's http(s) origin, from its websocket URL (``wss://host/ws`` → ``https://host``)."""
        base = self.client.url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
        return base.removesuffix("/ws")

    def _rest_ssl(self) -> Any:
        return self.client._ssl or None

    @property
    def business(self) -> p.BusinessInfo | None:
        """The business of the ringing call, else of the call in progress (None for a kiosk)."""
        offer = self.offer or self.current
        return offer.business if offer is not None else None

    def state_elapsed(self) -> float:
        return max(0.0, self.clock() - self.state_since)

    async def round_trip(self, timeout: float = 10.0) -> float:
        """Ping the server and wait for its pong: the round-trip time in seconds. The server handles one
        connection's messages in order, so everything sent before has been handled when this returns."""
        self._nonce += 1
        nonce = self._nonce
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs[nonce] = waiter
        start = time.perf_counter()
        try:
            await self.client.send(p.Ping(nonce=nonce))
            await asyncio.wait_for(waiter, timeout)
        finally:
            self._pongs.pop(nonce, None)
        return time.perf_counter() - start

    def device_health(self) -> Mapping[str, Any]:
        """The console's devices (name -> health), when its media sources report them."""
        health = getattr(self.party.media, "health", None)
        return health() if callable(health) else {}

    async def _send_telemetry(self, message: p.Wire) -> None:
        await self.client.send(message)
        self.events.emit("telemetry", type=getattr(message, "type", type(message).__name__))

    # ------------------------------------------------------------------ officer actions

    async def set_available(self) -> None:
        await self.client.send(p.SetStatus(status="available"))

    async def set_away(self, reason: str) -> None:
        if reason not in AWAY_REASONS:
            raise ValueError(f"away reason must be one of {', '.join(AWAY_REASONS)}, not {reason!r}")
        await self.client.send(
            p.SetStatus(
                status="away",
                reason=reason,  # type: ignore[arg-type]  # one of AWAY_REASONS, checked above
            )
        )

    async def set_shift(self, departments: list[str]) -> None:
        """Serve these departments this shift (a subset of the officer's skills)."""
        if not departments:
            raise ValueError("choose at least one department for the shift")
        unknown = [d for d in departments if self.departments and d not in self.departments]
        if unknown:
            raise ValueError(f"unknown department(s) for the shift: {', '.join(unknown)}")
        await self.client.send(p.SetShift(departments=departments))
        self.shift = list(departments)
        self.events.emit("shift", departments=list(departments))

    async def accept(self) -> None:
        if self.offer is None:
            raise RuntimeError("no call is ringing")
        await self.client.send(p.AcceptCall(call_id=self.offer.call_id))

    async def decline(self) -> None:
        if self.offer is None:
            raise RuntimeError("no call is ringing")
        await self.client.send(p.DeclineCall(call_id=self.offer.call_id))

    async def transfer_call(self, to_department: str, note: str = "", *, warm: bool = False) -> None:
        if self.call_id is None:
            raise RuntimeError("no call in progress")
        if self.departments and to_department not in self.departments:
            raise ValueError(f"cannot transfer to unknown department {to_department!r}")
        await self.client.send(
            p.TransferCall(call_id=self.call_id, to_department=to_department, note=note, warm=warm)
        )

    async def cancel_transfer(self) -> None:
        if self.call_id is None:
            raise RuntimeError("no call in progress")
        await self.client.send(p.CancelTransfer(call_id=self.call_id))
        # The server answers a refused cancel with an error and a successful one with nothing: the resident
        # simply stays in this call, so the pending transfer is forgotten here.
        self.transfer = None
        self.events.emit("transfer_cancelled", call_id=self.call_id)

    async def end_call(self, outcome: str | None = "resolved", notes: str = "") -> None:
        """End the call in progress with its outcome (None: end now, give the outcome in wrap-up); with no
        call in progress, give the outcome still owed for the call that ended (``wrap.owed``)."""
        owed = self.wrap.owed
        call_id = self.call_id or (owed.call_id if owed is not None else None)
        if call_id is None:
            raise RuntimeError("no call in progress and no outcome owed")
        if outcome is None and self.call_id is None:
            raise ValueError("the call has ended: choose its outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        entry = self.history.get(call_id)
        if entry is not None and outcome is not None:
            entry.outcome = outcome
            entry.notes = notes
        await self.client.send(
            p.EndCall(
                call_id=call_id,
                outcome=outcome,  # type: ignore[arg-type]  # one of OUTCOMES, checked above
                notes=notes,
            )
        )
        if outcome is not None:
            held = self.wrap.paused
            self.wrap.settled(call_id)
            if held:  # wrap-up runs on, here and on the server, with the time that was left
                await self.client.send(p.HoldWrapUp(hold=False))
            self.events.emit("outcome_recorded", call_id=call_id, outcome=outcome)

    async def write_outcome(self) -> None:
        """The officer writes the owed outcome: wrap-up stands still, here and on the server (hold_wrap_up),
        until the outcome is recorded."""
        if self.wrap.paused or self.officer_state != "wrap_up":
            return
        self.wrap.pause()
        await self.client.send(p.HoldWrapUp(hold=True))

    async def _upload_to_case(self, call_id: str, document) -> bool:
        """PUT a saved document to the server's case store; False when the server keeps none (or is
        unreachable), in which case it stays on this console for the call's case only."""
        import urllib.parse

        import aiohttp

        if self._session_token is None:
            return False
        offer = document.offer
        url = f"{self.rest_base()}/api/cases/{call_id}/documents/{offer.doc_id}"
        headers = {
            "Authorization": f"Bearer {self._session_token}",
            "Content-Type": offer.mime,
            "X-Content-SHA256": offer.sha256,
            "X-Document-Name": urllib.parse.quote(offer.name or ""),
        }
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.put(
                    url,
                    data=document.data,
                    headers=headers,
                    ssl=self.client._ssl if self.client._ssl else True,
                ) as response,
            ):
                if response.status == 201:
                    return True
                log.warning(
                    "case store refused %s (%s): %s",
                    offer.doc_id,
                    response.status,
                    (await response.text())[:200],
                )
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("case store unreachable for %s: %s", offer.doc_id, exc)
        return False

    async def _send_audit(self, record: AuditRecord) -> None:
        await self.client.send(
            p.CaseEvent(
                call_id=record.call_id,
                action=record.action,
                doc_id=record.doc_id,
                sha256=record.sha256,
                size=record.size,
                label=record.label,
            )
        )

    # ------------------------------------------------------------------ server messages

    async def _on_welcome(self, welcome: p.Welcome) -> None:
        if welcome.session_token:
            self._session_token = welcome.session_token
            self._password = None  # from now on reconnect with the session token only
        self.online = True
        self.display_name = welcome.display_name or self.username
        self.departments = {d.id: d for d in welcome.departments}
        self.welcome_skills = dict(welcome.skills)
        self.events.emit("online")
        if self.shift and self.role is p.Role.OFFICER:  # a reconnect: the server forgot our shift
            with contextlib.suppress(ConnectionError):
                await self.client.send(p.SetShift(departments=self.shift))

    def _on_disconnect(self) -> None:
        self.online = False
        self.events.emit("offline")

    async def _on_message(self, message: p.Wire) -> None:
        if isinstance(message, p.CallOffer):
            self.offer = message
            self.events.emit(
                "ring",
                call_id=message.call_id,
                department=message.department,
                kiosk=message.kiosk.name,
                waited_s=message.waited_s,
                business=message.business.company if message.business else None,
            )
        elif isinstance(message, p.OfferWithdrawn):
            if self.offer is not None and self.offer.call_id == message.call_id:
                self.offer = None
            self.events.emit("ring_withdrawn", call_id=message.call_id, reason=message.reason)
        elif isinstance(message, p.OfficerState):
            previous = self.officer_state
            self.officer_state = message.state
            self.state_reason = message.reason
            if message.state != previous or message.state == "away":
                self.state_since = self.clock()
                if message.state == "wrap_up":
                    self.wrap.restart()
            self.events.emit("officer_state", state=message.state, reason=message.reason)
        elif isinstance(message, p.SupervisorStats):
            self.stats = message.stats
            self.events.emit("stats")
        elif isinstance(message, p.CallTransferred):
            self._on_transferred(message)
        elif isinstance(message, p.Error):
            self.last_error = message
            log.warning("server error %s: %s", message.code.value, message.detail)
            self.events.emit("error", code=message.code.value, detail=message.detail, about=message.about)
        elif isinstance(message, p.Pong):
            if self.telemetry is not None:
                self.telemetry.on_message(message)
            waiter = self._pongs.pop(message.nonce, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        else:
            if isinstance(message, p.CallConnecting) and message.peer is None:
                # A media restart of the call in progress keeps everything known of it (caller, history).
                self.reconnecting = message.restart and message.call_id == self.call_id
                if not self.reconnecting:
                    offer = self.offer
                    self.current = offer if offer and offer.call_id == message.call_id else None
                    self.transfer = None
                    self._open_history(message)
                self.offer = None
                self.call_id = message.call_id
            if not await self.conference.handle(message):
                await self.party.handle(message)

    def _on_transferred(self, message: p.CallTransferred) -> None:
        if message.call_id == self.call_id:
            entry = self.history.get(message.call_id)
            if entry is not None:
                entry.transferred_to = message.to_department
                entry.outcome = "transferred"
                entry.notes = message.note
            self.transfer = message if message.warm else None
        self.events.emit(
            "transferred",
            call_id=message.call_id,
            to_department=message.to_department,
            warm=message.warm,
            note=message.note,
        )

    def _open_history(self, message: p.CallConnecting) -> None:
        offer = self.current
        business = offer.business if offer else None
        self.history.open(
            HistoryEntry(
                call_id=message.call_id,
                department=message.department,
                kiosk_name=business.company if business else offer.kiosk.name if offer else message.peer_name,
                business=business is not None,
                procedure=offer.caller.procedure if offer else None,
                language=offer.caller.language if offer else "ja",
                started_at=self.clock(),
            )
        )

    def _on_party_event(self, event: str, data: dict) -> None:
        if event == "call_connecting":
            if self.party.session is not None:
                self.desk.business = self.current is not None and self.current.business is not None
                self.desk.resident_language = self.current.caller.language if self.current else "ja"
                self.desk.attach(self.party.session)
        elif event == "call_started":
            self.in_call = True
            self.reconnecting = False
        elif event in ("call_ended", "call_requeued") and data.get("call_id") == self.call_id:
            entry = self.history.get(data["call_id"])
            if entry is not None and event == "call_ended":
                entry.ended_at = self.clock()
                entry.end_reason = data.get("reason")
                entry.documents_saved = len(self.desk.case_documents.get(data["call_id"], []))
                self.wrap.call_ended(entry.call_id, entry.end_reason or "", entry.outcome is not None)
            self.reconnecting = False
            self.wrap_up_department = entry.department if entry is not None else None
            self.desk.detach()
            self.in_call = False
            self.call_id = None
            self.current = None
            self.transfer = None
