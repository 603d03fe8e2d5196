"""The switchboard: connected clients, live calls, and the edge between the pure queue router and the wire.

Every event (a message, a disconnect, a timer) goes to the router; the decisions it returns are applied
here: call states move, messages are sent, records are saved. Nothing in this module blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from config.schema import AppConfig
from remote_call import protocol as p
from remote_call.protocol import CallState, EndReason, ErrorCode, ProtocolError, Role
from signaling_server.audit import AuditLog
from signaling_server.auth import Principal
from signaling_server.calls import Call
from signaling_server.routing import (
    CallerRemoved,
    CaseAdvanced,
    Connect,
    JoinRefused,
    KeepWithOfficer,
    OfficerStateChanged,
    QueuePosition,
    RequeueCaller,
    Ring,
    Router,
    RouterError,
    SkillLevel,
    TransferCaller,
    WithdrawRing,
)
from signaling_server.routing.router import NORMAL, SNAPSHOT_VERSION
from signaling_server.store import CallRecord, Store
from signaling_server.turn import ice_servers_for_call

log = logging.getLogger(__name__)

STATS_PUSH_S = 2.0  # supervisors' live view
RESTART_DEBOUNCE_S = 3.0  # both parties usually notice a dead media path within a moment of each other
POSITION_BATCH_S = 0.2  # a waiting resident's place changes at most five times a second on screen
SESSION_CHECK_S = 30.0  # staff sessions are re-validated on long connections


class Monitor(Protocol):
    """What the health registry (signaling_server.health) receives from the switchboard."""

    def heartbeat(self, kiosk_id: str, msg: p.Heartbeat, now: float) -> None: ...
    def call_quality(self, identity: str, role: str, msg: p.CallQuality, now: float) -> None: ...
    def action_result(self, kiosk_id: str, msg: p.ActionResult) -> None: ...
    def client_attached(self, role: str, identity: str, now: float) -> None: ...
    def client_detached(self, role: str, identity: str, now: float) -> None: ...


@dataclass(eq=False)
class Client:
    """One authenticated websocket connection. ``send`` never blocks: messages go through a bounded queue
    drained by the connection's writer; a client that cannot keep up is cut off."""

    principal: Principal
    send_raw: Callable[[str], None]
    close: Callable[[], None]
    calls: set[str] = field(default_factory=set)

    @property
    def identity(self) -> str:
        return self.principal.identity

    @property
    def role(self) -> Role:
        return self.principal.role

    def send(self, message: p.Wire) -> None:
        self.send_raw(p.encode(message))


class Switchboard:
    def __init__(self, config: AppConfig, store: Store, *, clock: Callable[[], float] = time.time):
        self.config = config
        self.store = store
        self.clock = clock
        remote = [d for d in config.departments if d.remote]
        self.router = Router(
            remote,
            clock=clock,
            max_unanswered=config.server.max_unanswered_offers,
            rejoin_grace_s=config.server.rejoin_grace_s,
            position_push_s=config.server.position_push_s,
            default_handle_s=config.server.expected_handle_s,
            tz=config.city.timezone,
        )
        self.departments = {d.id: d for d in remote}
        self.kiosk_names = {k.id: k for k in config.kiosks}
        self.kiosks: dict[str, Client] = {}
        self.officers: dict[str, Client] = {}
        self.watchers: set[Client] = set()  # supervisors and IT: read-only views
        self.calls: dict[str, Call] = {}
        self._rings: dict[str, set[str]] = {}  # call id -> officers it is ringing
        self._setup_timers: dict[str, asyncio.TimerHandle] = {}
        self._absent: dict[tuple[Role, str], asyncio.TimerHandle] = {}  # parties inside the reconnect grace
        self._positions: dict[str, QueuePosition] = {}  # coalesced place updates waiting to go out
        self._positions_flush: asyncio.TimerHandle | None = None
        # What happened to a party's calls while it was gone too long, told when it comes back.
        self._missed: dict[tuple[Role, str], list[p.Wire]] = {}
        # Each party's latest call: if it ended while the party's connection was dying unnoticed, the
        # call_ended was lost with it; the party hears it again when it comes back.
        self._last_call: dict[tuple[Role, str], str] = {}
        self._wake = asyncio.Event()
        self._queue_dirty = False
        self._closing = False
        self.listeners: list[Callable[[str, dict], None]] = []  # observers: metrics, tests
        self.monitor: Monitor | None = None
        self.audit = AuditLog(
            store.conn, extra_actions=("document_opened", "documents_purged", "document_received")
        )
        self._next_stats_push = 0.0
        self._next_session_check = 0.0
        self.session_valid: Callable[[str], bool] | None = None  # set by the app: staff session check

    # ------------------------------------------------------------------ lifecycle

    async def run_timers(self) -> None:
        """Tick the router at its next deadline, and persist the queue when it changed."""
        while not self._closing:
            deadline = self.router.next_deadline()
            timeout = 1.0 if deadline is None else min(1.0, max(0.0, deadline - self.clock()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self.apply(self.router.tick())
            now = self.clock()
            if now >= self._next_stats_push:
                self._next_stats_push = now + STATS_PUSH_S
                self.push_stats()
            if now >= self._next_session_check:
                self._next_session_check = now + SESSION_CHECK_S
                self._revalidate_sessions()
            if self._queue_dirty:
                self._queue_dirty = False
                self.store.save_queue(self.router.snapshot())

    def restore(self) -> None:
        """After a restart (clean or kill -9): waiting callers get their places back with their original
        join times; calls that were connected are held for their officer (media is peer to peer and goes
        on) until the parties reconnect within the grace. The queue snapshot gives order and priorities;
        call records, saved at every change, say where each call stood."""
        active = {
            r.call_id: r
            for state in ("queued", "ringing", "connecting", "in_call")
            for r in self.store.calls(state=state)
        }
        snapshot = self._reconcile(self.store.load_queue() or {"version": SNAPSHOT_VERSION}, active)
        try:
            self.router.restore(snapshot)
        except RouterError as exc:
            log.error("the saved queue cannot be restored (%s); waiting callers rejoin by join time", exc)
            snapshot = self._reconcile({"version": SNAPSHOT_VERSION}, active)
            self.router.restore(snapshot)
        restored = {c["call_id"]: c for c in snapshot["callers"]}
        for record in active.values():
            caller = restored.get(record.call_id)
            if caller is None:  # its department is gone from the configuration
                record.state, record.end_reason, record.ended_at = "ended", "kiosk_disconnected", self.clock()
                self.store.save_call(record)
                continue
            if caller["queued"]:
                record.state, record.officer = "queued", None
            try:
                info = p.CallerInfo.model_validate(caller.get("info") or {})
            except ValueError:
                info = p.CallerInfo()
            self.calls[record.call_id] = Call(record, caller=info)
            self.store.save_call(record)
        if active:
            log.info("restored %d calls after a restart", len(self.calls))

    def _reconcile(self, snapshot: dict, active: dict[str, CallRecord]) -> dict:
        """The queue snapshot is saved at most once a tick, call records at every change: where they
        disagree the record wins (ended calls dropped, connected ones held for their officer, requeued
        ones waiting again, ones newer than the snapshot added by their join time); the snapshot keeps
        the order, priorities and join times it knows."""
        callers, seen = [], set()
        for caller in snapshot.get("callers", []):
            record = active.get(caller.get("call_id", ""))
            if record is None or record.department not in self.departments:
                continue
            seen.add(record.call_id)
            callers.append({**caller, **self._placement(record, caller.get("queued", True))})
        seq = max((int(c.get("seq", 0)) for c in callers), default=0)
        for record in sorted(active.values(), key=lambda r: r.created_at):
            if record.call_id in seen or record.department not in self.departments:
                continue
            seq += 1
            callers.append(
                {
                    "call_id": record.call_id,
                    "kiosk_id": record.kiosk_id,
                    "join_time": record.created_at,
                    "entered_at": record.created_at,
                    "priority": NORMAL,
                    "seq": seq,
                    "notes": [],
                    "case": None,
                    "info": {"procedure": record.procedure, "language": record.language or "ja"},
                    **self._placement(record, True),
                }
            )
        return {**snapshot, "callers": callers}

    @staticmethod
    def _placement(record: CallRecord, queued: bool) -> dict:
        if record.state in ("connecting", "in_call") and record.officer:
            return {
                "queued": False,
                "officer": record.officer,
                "officer_department": record.department,
                "department": record.department,
            }
        if record.state in ("queued", "ringing"):
            return {
                "queued": True,
                "officer": None,
                "officer_department": None,
                "department": record.department,
            }
        return {"queued": queued, "department": record.department}

    def shutdown(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        for handle in (*self._setup_timers.values(), *self._absent.values()):
            handle.cancel()
        if self._positions_flush is not None:
            self._positions_flush.cancel()
        self.store.save_queue(self.router.snapshot())

    # ------------------------------------------------------------------ connections

    def attach(self, client: Client) -> p.Welcome:
        """Register an authenticated client. A second connection of the same identity replaces the first;
        one that comes back within the reconnect grace resumes its calls and queue places."""
        principal = client.principal
        identity = principal.identity
        if principal.role in (Role.KIOSK, Role.OFFICER):
            registry = self.kiosks if principal.role is Role.KIOSK else self.officers
            old = registry.get(identity)
            if old is not None and old is not client:
                self.detach(old)
                old.close()
            registry[identity] = client
            returning = self._absent.pop((principal.role, identity), None)
            if returning is not None:
                returning.cancel()
            if principal.role is Role.OFFICER and self._router_state(identity) in (None, "offline"):
                skills = {
                    d: SkillLevel(level) for d, level in principal.skills.items() if d in self.departments
                }
                self.apply(self.router.officer_online(identity, skills))
            self._resume(client)
        else:
            self.watchers.add(client)
            self._next_stats_push = 0.0  # a new supervisor sees the numbers at once
            self._wake.set()
        kiosk = self.kiosk_names.get(identity) if principal.role is Role.KIOSK else None
        if self.monitor is not None:
            self.monitor.client_attached(principal.role.value, identity, self.clock())
        self._emit("attached", {"role": principal.role.value, "identity": identity})
        return p.Welcome(
            role=principal.role,
            identity=identity,
            display_name=kiosk.name if kiosk else principal.display_name,
            session_token=principal.session_token if principal.role is not Role.KIOSK else None,
            ice_servers=self.ice_servers(identity),
            departments=self.department_infos(),
            kiosk=p.KioskInfo(id=kiosk.id, name=kiosk.name, location=kiosk.location) if kiosk else None,
            skills={d: level for d, level in principal.skills.items() if d in self.departments}
            if principal.role is Role.OFFICER
            else {},
        )

    def _router_state(self, officer_id: str) -> str | None:
        try:
            return self.router.officer_state(officer_id).value
        except RouterError:
            return None

    def _resume(self, client: Client) -> None:
        """Give a (re)connected party its live calls back and tell it where each one stands, including
        what happened while it was away too long (its call ended or went back to the queue)."""
        is_kiosk = client.role is Role.KIOSK
        missed = self._missed.pop((client.role, client.identity), [])
        last = self._last_call.get((client.role, client.identity))
        if last is not None and last not in self.calls:
            del self._last_call[(client.role, client.identity)]
            record = self.store.call(last)
            if (
                record is not None
                and record.state == "ended"
                and record.end_reason
                and not any(m.call_id == last for m in missed)
            ):
                reason = EndReason(record.end_reason)
                if not is_kiosk and record.officer != client.identity:
                    reason = EndReason.REQUEUED
                missed.append(p.CallEnded(call_id=last, reason=reason))
        for message in missed:
            client.send(message)
        if not is_kiosk:
            state = self._router_state(client.identity)
            if state is not None:
                client.send(p.OfficerState(state=state, reason=self.router.officer_reason(client.identity)))
        for call in list(self.calls.values()):
            party = call.record.kiosk_id if is_kiosk else call.record.officer
            if party != client.identity:
                continue
            client.calls.add(call.call_id)
            if call.state in (CallState.QUEUED, CallState.RINGING) and is_kiosk:
                if call.record.answered_at is not None:
                    client.send(p.CallRequeued(call_id=call.call_id))  # drop any media it still holds
                position = self.router.position(call.call_id)
                if position is not None:
                    self._on_position(position, immediate=True)
            elif call.state is CallState.CONNECTING:
                self._restart(call)  # half-made media cannot be trusted: both sides start afresh
            elif call.state is CallState.IN_CALL:
                # Media is peer to peer and probably still flowing; a party that lost its session
                # (app restarted) answers with restart_media.
                client.send(p.CallStarted(call_id=call.call_id))

    def detach(self, client: Client) -> None:
        """The connection is gone. A party with a call in progress gets the reconnect grace to come back;
        after it (or at once when there is nothing to resume) nobody may be left stuck because of it."""
        identity = client.identity
        if client.role in (Role.KIOSK, Role.OFFICER):
            registry = self.kiosks if client.role is Role.KIOSK else self.officers
            if registry.get(identity) is not client:
                return
            del registry[identity]
            live = [c for c in client.calls if c in self.calls]
            if client.role is Role.OFFICER:
                live = [c for c in live if self.calls[c].state in (CallState.CONNECTING, CallState.IN_CALL)]
            grace = self.config.server.reconnect_grace_s
            if self._closing:
                pass  # shutting down: every call stays as saved, for the restarted server to resume
            elif live and grace > 0:
                loop = asyncio.get_running_loop()
                self._absent[(client.role, identity)] = loop.call_later(
                    grace, self._gone, client.role, identity
                )
            else:
                self._gone(client.role, identity)
        else:
            self.watchers.discard(client)
        if self.monitor is not None:
            self.monitor.client_detached(client.role.value, identity, self.clock())
        self._emit("detached", {"role": client.role.value, "identity": identity})

    def _gone(self, role: Role, identity: str) -> None:
        """A party did not come back: end or requeue what depended on it."""
        self._absent.pop((role, identity), None)
        if role is Role.OFFICER:
            if identity not in self.officers:
                held = [
                    c.call_id
                    for c in self.calls.values()
                    if c.record.officer == identity and c.state in (CallState.CONNECTING, CallState.IN_CALL)
                ]
                self.apply(self.router.officer_offline(identity))
                self._missed[(role, identity)] = [
                    p.CallEnded(call_id=c, reason=EndReason.REQUEUED) for c in held
                ]
            return
        if identity in self.kiosks:
            return
        self._missed[(role, identity)] = [
            p.CallEnded(call_id=c.call_id, reason=EndReason.KIOSK_DISCONNECTED)
            for c in self.calls.values()
            if c.record.kiosk_id == identity
        ]
        for call in [c for c in self.calls.values() if c.record.kiosk_id == identity]:
            if call.state in (CallState.QUEUED, CallState.RINGING):
                decisions = self.router.leave(call.call_id)
                self._end(call, EndReason.KIOSK_DISCONNECTED)  # before the router's "cancelled" applies
                self.apply(decisions)
            else:
                self._finish(call, EndReason.KIOSK_DISCONNECTED)

    # ------------------------------------------------------------------ messages

    def handle(self, client: Client, message: p.Wire, raw: str | None = None) -> None:
        """Act on one validated message from an authenticated client, or raise ProtocolError. ``raw`` is the
        message's original text: relayed messages are forwarded as received, not re-encoded."""
        handler = self._handlers.get(type(message))
        if handler is None:
            raise ProtocolError(
                ErrorCode.FORBIDDEN,
                f"{message.type!r} is not a message a client sends here",
                about=getattr(message, "type", None),
            )
        allowed_roles, method = handler
        if client.role not in allowed_roles:
            raise ProtocolError(
                ErrorCode.FORBIDDEN,
                f"a {client.role.value} may not send {message.type!r}",
                about=message.type,
            )
        if method is Switchboard._relay:
            self._relay(client, message, raw)  # type: ignore[arg-type]
        else:
            method(self, client, message)

    def _request_call(self, client: Client, msg: p.RequestCall) -> None:
        if any(self.calls[c].state is not CallState.ENDED for c in client.calls if c in self.calls):
            self._resume(client)  # tell the kiosk where its existing call stands, so it can pick it up
            raise ProtocolError(ErrorCode.CONFLICT, "this kiosk already has a call in progress", msg.type)
        if msg.department not in self.departments:
            client.send(p.CallRefused(department=msg.department, reason="unknown_department"))
            return
        call_id = uuid.uuid4().hex[:16]
        now = self.clock()
        try:
            decisions = self.router.join(
                call_id, msg.department, kiosk_id=client.identity, info=msg.caller.model_dump()
            )
        except JoinRefused as refused:
            next_open = refused.next_open.isoformat(timespec="minutes") if refused.next_open else None
            client.send(p.CallRefused(department=msg.department, reason=refused.reason, next_open=next_open))
            return
        record = CallRecord(
            call_id=call_id,
            kiosk_id=client.identity,
            department=msg.department,
            procedure=msg.caller.procedure,
            language=msg.caller.language,
            state=CallState.QUEUED.value,
            created_at=now,
        )
        call = Call(record, caller=msg.caller)
        self.calls[call_id] = call
        client.calls.add(call_id)
        self._last_call[(Role.KIOSK, client.identity)] = call_id
        self.store.save_call(record)
        self._queue_dirty = True
        self._emit("call_queued", {"call_id": call_id, "department": msg.department})
        self.apply(decisions)

    def _cancel_call(self, client: Client, msg: p.CancelCall) -> None:
        call = self._own_call(client, msg.call_id, msg.type)
        if call.state in (CallState.QUEUED, CallState.RINGING):
            self.apply(self.router.leave(call.call_id))
            self._end(call, EndReason.CANCELLED)
        else:
            self._finish(call, EndReason.COMPLETED)

    def _set_status(self, client: Client, msg: p.SetStatus) -> None:
        try:
            if msg.status == "available":
                decisions = self.router.set_available(client.identity)
            else:
                decisions = self.router.set_away(client.identity, msg.reason or "break")
        except RouterError as exc:
            raise ProtocolError(ErrorCode.CONFLICT, str(exc), msg.type) from None
        self.apply(decisions)

    def _accept_call(self, client: Client, msg: p.AcceptCall) -> None:
        call = self.calls.get(msg.call_id)
        if call is None or client.identity not in self._rings.get(msg.call_id, ()):
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {msg.call_id!r} is ringing for you", msg.type)
        try:
            decisions = self.router.accept(client.identity, msg.call_id)
        except RouterError as exc:
            raise ProtocolError(ErrorCode.CONFLICT, str(exc), msg.type) from None
        self.apply(decisions)

    def _decline_call(self, client: Client, msg: p.DeclineCall) -> None:
        if client.identity not in self._rings.get(msg.call_id, ()):
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {msg.call_id!r} is ringing for you", msg.type)
        try:
            decisions = self.router.decline(client.identity, msg.call_id)
        except RouterError as exc:
            raise ProtocolError(ErrorCode.CONFLICT, str(exc), msg.type) from None
        self.apply(decisions)

    def _relay(
        self, client: Client, msg: p.SessionDescription | p.IceCandidate, raw: str | None = None
    ) -> None:
        call = self._party_call(client, msg.call_id, msg.type)
        if call.state not in (CallState.CONNECTING, CallState.IN_CALL):
            raise ProtocolError(ErrorCode.CONFLICT, f"call {msg.call_id} is {call.state.value}", msg.type)
        peer = self._peer_of(call, client)
        if peer is not None:
            # Validated above (strict model, no unknown fields): the original text is exactly the message.
            if raw is not None:
                peer.send_raw(raw)
            else:
                peer.send(msg)

    def _media_connected(self, client: Client, msg: p.MediaConnected) -> None:
        call = self._party_call(client, msg.call_id, msg.type)
        if call.state is not CallState.CONNECTING:
            return  # a repeat after the call started: harmless
        call.media_up.add(client.identity)
        if len(call.media_up) >= 2:
            handle = self._setup_timers.pop(call.call_id, None)
            if handle:
                handle.cancel()
            call.move(CallState.IN_CALL, self.clock())
            self.store.save_call(call.record)
            self._send_parties(call, p.CallStarted(call_id=call.call_id))
            self.audit.append(
                call.record.officer or "?",
                "call_started",
                call.call_id,
                {"kiosk": call.record.kiosk_id, "department": call.record.department},
            )
            self._emit("call_started", {"call_id": call.call_id})

    def _restart_media(self, client: Client, msg: p.RestartMedia) -> None:
        call = self._party_call(client, msg.call_id, msg.type)
        if call.state not in (CallState.CONNECTING, CallState.IN_CALL):
            raise ProtocolError(ErrorCode.CONFLICT, f"call {msg.call_id} has no media to restart", msg.type)
        if call.state is CallState.CONNECTING and self.clock() - call.restarted_at < RESTART_DEBOUNCE_S:
            return  # the other party asked a moment ago: one restart serves both
        log.info("call %s: media restart asked by %s (%s)", call.call_id, client.identity, msg.reason)
        self._restart(call)

    def _restart(self, call: Call) -> None:
        """Rebuild the call's media: both parties get a fresh call_connecting for the same call."""
        if call.state is CallState.IN_CALL:
            call.move(CallState.CONNECTING, self.clock())
        call.media_up.clear()
        call.restarted_at = self.clock()
        self.store.save_call(call.record)
        self._send_connecting(call, restart=True)
        self._emit("media_restart", {"call_id": call.call_id})

    def _sync_call(self, client: Client, msg: p.SyncCall) -> None:
        call = self.calls.get(msg.call_id)
        is_kiosk = client.role is Role.KIOSK
        if call is not None:
            if (call.record.kiosk_id if is_kiosk else call.record.officer) == client.identity:
                self._resume(client)
            elif not is_kiosk:
                client.send(
                    p.CallEnded(call_id=msg.call_id, reason=EndReason.REQUEUED)
                )  # someone else has it
            else:
                raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {msg.call_id!r} of yours", msg.type)
            return
        record = self.store.call(msg.call_id)
        if record is None or (is_kiosk and record.kiosk_id != client.identity) or record.state != "ended":
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {msg.call_id!r} of yours", msg.type)
        reason = (
            EndReason(record.end_reason)
            if is_kiosk or record.officer == client.identity
            else EndReason.REQUEUED
        )
        client.send(p.CallEnded(call_id=msg.call_id, reason=reason))

    def _end_call(self, client: Client, msg: p.EndCall) -> None:
        call = self._party_call(client, msg.call_id, msg.type)
        if call.state in (CallState.QUEUED, CallState.RINGING):
            self._cancel_call(client, p.CancelCall(call_id=msg.call_id))
            return
        if client.role is Role.OFFICER:
            call.record.outcome = msg.outcome
            call.record.notes = msg.notes or None
        self._finish(call, EndReason.COMPLETED, outcome=msg.outcome, note=msg.notes or None)

    def _ping(self, client: Client, msg: p.Ping) -> None:
        client.send(p.Pong(nonce=msg.nonce))

    def _set_shift(self, client: Client, msg: p.SetShift) -> None:
        skills = client.principal.skills
        unknown = [d for d in msg.departments if d not in skills or d not in self.departments]
        if unknown:
            raise ProtocolError(ErrorCode.FORBIDDEN, f"you do not serve {', '.join(unknown)}", msg.type)
        state = self.router.officer_state(client.identity)
        if state.value in ("ringing", "in_call"):
            raise ProtocolError(ErrorCode.CONFLICT, "change the shift's departments between calls", msg.type)
        reason = self.router.officer_reason(client.identity)
        shift = {d: SkillLevel(skills[d]) for d in msg.departments}
        self.apply(self.router.officer_offline(client.identity))
        self.apply(self.router.officer_online(client.identity, shift))
        if state.value == "away":
            self.apply(self.router.set_away(client.identity, reason or "break"))

    def _transfer_call(self, client: Client, msg: p.TransferCall) -> None:
        call = self._party_call(client, msg.call_id, msg.type)
        if call.state is not CallState.IN_CALL:
            raise ProtocolError(ErrorCode.CONFLICT, "only a call in progress can be transferred", msg.type)
        try:
            decisions = self.router.transfer(msg.call_id, msg.to_department, msg.note, warm=msg.warm)
        except RouterError as exc:
            raise ProtocolError(ErrorCode.CONFLICT, str(exc), msg.type) from None
        self.audit.append(
            client.identity, "call_transferred", msg.call_id, {"to": msg.to_department, "warm": msg.warm}
        )
        self.apply(decisions)

    def _cancel_transfer(self, client: Client, msg: p.CancelTransfer) -> None:
        self._party_call(client, msg.call_id, msg.type)
        try:
            decisions = self.router.cancel_transfer(msg.call_id)
        except RouterError as exc:
            raise ProtocolError(ErrorCode.CONFLICT, str(exc), msg.type) from None
        self.apply(decisions)

    def _heartbeat(self, client: Client, msg: p.Heartbeat) -> None:
        if self.monitor is not None:
            self.monitor.heartbeat(client.identity, msg, self.clock())

    def _call_quality(self, client: Client, msg: p.CallQuality) -> None:
        self._party_call(client, msg.call_id, msg.type)
        if self.monitor is not None:
            self.monitor.call_quality(client.identity, client.role.value, msg, self.clock())

    def _action_result(self, client: Client, msg: p.ActionResult) -> None:
        if self.monitor is not None:
            self.monitor.action_result(client.identity, msg)

    def _case_event(self, client: Client, msg: p.CaseEvent) -> None:
        call = self._party_call(client, msg.call_id, msg.type)
        self.audit.append(
            client.identity,
            msg.action,
            msg.call_id,
            {
                "kiosk": call.record.kiosk_id,
                "doc_id": msg.doc_id,
                "sha256": msg.sha256,
                "size": msg.size,
                "label": msg.label,
            },
        )

    _handlers: ClassVar[dict[type, tuple[frozenset[Role], Callable]]] = {
        p.RequestCall: (frozenset({Role.KIOSK}), _request_call),
        p.CancelCall: (frozenset({Role.KIOSK}), _cancel_call),
        p.SetStatus: (frozenset({Role.OFFICER}), _set_status),
        p.AcceptCall: (frozenset({Role.OFFICER}), _accept_call),
        p.DeclineCall: (frozenset({Role.OFFICER}), _decline_call),
        p.SessionDescription: (frozenset({Role.KIOSK, Role.OFFICER}), _relay),
        p.IceCandidate: (frozenset({Role.KIOSK, Role.OFFICER}), _relay),
        p.MediaConnected: (frozenset({Role.KIOSK, Role.OFFICER}), _media_connected),
        p.RestartMedia: (frozenset({Role.KIOSK, Role.OFFICER}), _restart_media),
        p.SyncCall: (frozenset({Role.KIOSK, Role.OFFICER}), _sync_call),
        p.EndCall: (frozenset({Role.KIOSK, Role.OFFICER}), _end_call),
        p.Ping: (frozenset(Role), _ping),
        p.SetShift: (frozenset({Role.OFFICER}), _set_shift),
        p.TransferCall: (frozenset({Role.OFFICER}), _transfer_call),
        p.CancelTransfer: (frozenset({Role.OFFICER}), _cancel_transfer),
        p.Heartbeat: (frozenset({Role.KIOSK, Role.OFFICER}), _heartbeat),
        p.CallQuality: (frozenset({Role.KIOSK, Role.OFFICER}), _call_quality),
        p.ActionResult: (frozenset({Role.KIOSK}), _action_result),
        p.CaseEvent: (frozenset({Role.OFFICER}), _case_event),
    }

    # ------------------------------------------------------------------ decisions

    def apply(self, decisions: Iterable[object]) -> None:
        for decision in decisions:
            if isinstance(decision, Ring):
                self._on_ring(decision)
            elif isinstance(decision, WithdrawRing):
                self._on_withdraw(decision)
            elif isinstance(decision, Connect):
                self._on_connect(decision)
            elif isinstance(decision, QueuePosition):
                self._on_position(decision)
            elif isinstance(decision, RequeueCaller):
                self._on_requeued(decision)
            elif isinstance(decision, TransferCaller):
                self._on_transferred(decision)
            elif isinstance(decision, KeepWithOfficer):
                officer = self.officers.get(decision.officer_id)
                if officer is not None:
                    officer.send(p.TransferCancelled(call_id=decision.call_id))
                self._emit("transfer_cancelled", {"call_id": decision.call_id})
            elif isinstance(decision, OfficerStateChanged):
                officer = self.officers.get(decision.officer_id)
                if officer is not None:
                    officer.send(p.OfficerState(state=decision.state.value, reason=decision.reason))
                self._emit("officer_state", {"officer": decision.officer_id, "state": decision.state.value})
            elif isinstance(decision, CallerRemoved):
                call = self.calls.get(decision.call_id)
                if call is not None and call.state is not CallState.ENDED:
                    self._end(call, EndReason.CANCELLED)
            self._queue_dirty = True

    def _on_ring(self, d: Ring) -> None:
        call = self.calls.get(d.call_id)
        officer = self.officers.get(d.officer_id)
        if call is None:
            self._forget_in_router(d.call_id)  # a ring for a call that no longer exists
            return
        if call.state is CallState.QUEUED:
            call.move(CallState.RINGING, self.clock())
        self._rings.setdefault(d.call_id, set()).add(d.officer_id)
        kiosk = self.kiosk_names.get(call.record.kiosk_id)
        if officer is not None:
            officer.send(
                p.CallOffer(
                    call_id=d.call_id,
                    department=d.department,
                    kiosk=p.KioskInfo(
                        id=call.record.kiosk_id,
                        name=kiosk.name if kiosk else call.record.kiosk_id,
                        location=kiosk.location if kiosk else "",
                    ),
                    caller=call.caller,
                    waited_s=round(d.waited_s, 1),
                    ring_timeout_s=d.ring_timeout_s,
                    notes=self._notes(d.call_id),
                )
            )
        self._emit("ring", {"call_id": d.call_id, "officer": d.officer_id})

    def _on_withdraw(self, d: WithdrawRing) -> None:
        rings = self._rings.get(d.call_id, set())
        rings.discard(d.officer_id)
        officer = self.officers.get(d.officer_id)
        if officer is not None:
            officer.send(p.OfferWithdrawn(call_id=d.call_id, reason=d.reason))
        call = self.calls.get(d.call_id)
        if call is not None and call.state is CallState.RINGING and not rings:
            call.move(CallState.QUEUED, self.clock())

    def _on_connect(self, d: Connect) -> None:
        call = self.calls[d.call_id]
        self._rings.pop(d.call_id, None)
        now = self.clock()
        previous = call.record.officer
        if call.state is CallState.IN_CALL and previous and previous != d.officer_id:
            # Warm transfer: the next officer accepted; the first one hands over and leaves.
            self._release_officer(call, previous)
        call.move(CallState.CONNECTING, now)
        call.media_up.clear()
        call.record.officer = d.officer_id
        call.record.department = self.router.call_info(d.call_id)["department"]
        self.store.save_call(call.record)
        officer = self.officers.get(d.officer_id)
        if officer is not None:
            officer.calls.add(d.call_id)
        self._last_call[(Role.OFFICER, d.officer_id)] = d.call_id
        self._send_connecting(call, restart=False)
        self._emit("call_connecting", {"call_id": d.call_id, "officer": d.officer_id})

    def _send_connecting(self, call: Call, *, restart: bool) -> None:
        """Both parties: build the peer connection (the kiosk offers). Starts the setup timer."""
        kiosk = self.kiosks.get(call.record.kiosk_id)
        officer = self.officers.get(call.record.officer or "")
        kiosk_info = self.kiosk_names.get(call.record.kiosk_id)
        department = self.departments[call.record.department]
        common = {
            "call_id": call.call_id,
            "department": call.record.department,
            "restart": restart,
            "ice_transport_policy": self.config.ice_transport_policy,
        }
        if kiosk is not None:
            kiosk.send(
                p.CallConnecting(
                    offerer=True,
                    peer_name=department.name_ja,
                    ice_servers=self.ice_servers(call.record.kiosk_id),
                    **common,
                )
            )
        if officer is not None:
            officer.send(
                p.CallConnecting(
                    offerer=False,
                    peer_name=kiosk_info.name if kiosk_info else call.record.kiosk_id,
                    ice_servers=self.ice_servers(officer.identity),
                    **common,
                )
            )
        old = self._setup_timers.pop(call.call_id, None)
        if old is not None:
            old.cancel()
        self._setup_timers[call.call_id] = asyncio.get_running_loop().call_later(
            self.config.server.setup_timeout_s, self._setup_expired, call.call_id
        )

    def _on_requeued(self, d: RequeueCaller) -> None:
        """The officer is gone or media failed: the resident goes back to the head of the queue."""
        call = self.calls.get(d.call_id)
        if call is None or call.state not in (CallState.CONNECTING, CallState.IN_CALL):
            return
        handle = self._setup_timers.pop(call.call_id, None)
        if handle:
            handle.cancel()
        officer = self.officers.get(call.record.officer or "")
        if officer is not None:
            officer.calls.discard(call.call_id)
        call.move(CallState.QUEUED, self.clock())
        self.store.save_call(call.record)
        kiosk = self.kiosks.get(call.record.kiosk_id)
        if kiosk is not None:
            kiosk.send(p.CallRequeued(call_id=call.call_id))
        self._emit("call_requeued", {"call_id": call.call_id, "reason": d.reason})

    def _on_position(self, d: QueuePosition, *, immediate: bool = False) -> None:
        """A waiting resident's place. The first one goes out at once (the kiosk learns its call id from
        it); later changes are coalesced to at most one per POSITION_BATCH_S per resident: when someone
        leaves the head of a long queue everyone behind moves, and n residents would otherwise get ~n²/2
        messages in a burst (measured: 286,000 of 325,000 messages of the 2,000-call load test)."""
        call = self.calls.get(d.call_id)
        if call is None or call.state is CallState.ENDED:
            return
        if immediate or not call.position_sent:
            self._positions.pop(d.call_id, None)
            self._send_position(call, d)
            return
        self._positions[d.call_id] = d
        if self._positions_flush is None:
            self._positions_flush = asyncio.get_running_loop().call_later(
                POSITION_BATCH_S, self._flush_positions
            )

    def _flush_positions(self) -> None:
        self._positions_flush = None
        pending, self._positions = self._positions, {}
        for d in pending.values():
            call = self.calls.get(d.call_id)
            if call is not None and call.state in (CallState.QUEUED, CallState.RINGING):
                self._send_position(call, d)  # a call connected meanwhile needs no place any more

    def _send_position(self, call: Call, d: QueuePosition) -> None:
        kiosk = self.kiosks.get(call.record.kiosk_id)
        if kiosk is None:
            return
        call.position_sent = True
        kiosk.send(
            p.Queued(
                call_id=d.call_id,
                department=d.department,
                position=d.position,
                ewt_s=None if d.ewt_s is None else round(d.ewt_s, 1),
            )
        )

    def _setup_expired(self, call_id: str) -> None:
        self._setup_timers.pop(call_id, None)
        call = self.calls.get(call_id)
        if call is not None and call.state is CallState.CONNECTING:
            log.warning("call %s: media did not come up in time", call_id)
            self._finish(call, EndReason.SETUP_FAILED)

    # ------------------------------------------------------------------ helpers

    def _finish(
        self, call: Call, reason: EndReason, *, outcome: str | None = None, note: str | None = None
    ) -> None:
        """End a call that had an officer: the officer goes to wrap-up. A one-stop case (おくやみ) whose
        checklist has more departments does not end: the resident goes on to the next one."""
        try:
            decisions = self.router.call_finished(call.call_id, outcome=outcome, note=note)
        except RouterError as exc:
            log.warning("call %s: %s", call.call_id, exc)
            decisions = []
        advance = next((d for d in decisions if isinstance(d, CaseAdvanced) and d.to_department), None)
        if advance is not None and reason is EndReason.COMPLETED and call.state is CallState.IN_CALL:
            officer = call.record.officer
            call.move(CallState.QUEUED, self.clock())
            call.record.department = advance.to_department  # type: ignore[assignment]
            self.store.save_call(call.record)
            if officer:
                self._release_officer(call, officer)
            kiosk = self.kiosks.get(call.record.kiosk_id)
            if kiosk is not None:
                kiosk.send(
                    p.CallTransferred(
                        call_id=call.call_id, to_department=advance.to_department, note="", warm=False
                    )
                )
            self.apply(decisions)
            return
        self._end(call, reason)
        self.apply(decisions)
        self._forget_in_router(call.call_id)

    def _forget_in_router(self, call_id: str) -> None:
        """A call the switchboard ended for good must not live on in the router (e.g. a warm transfer
        still queued elsewhere when the kiosk left): it would ring officers for nobody."""
        try:
            self.router.call_info(call_id)
        except RouterError:
            return
        log.warning("call %s ended but the router still held it; removing it", call_id)
        with contextlib.suppress(RouterError):
            self.apply(self.router.leave(call_id))

    def _release_officer(self, call: Call, officer_id: str) -> None:
        """Tell an officer the resident went on elsewhere; the call itself continues."""
        officer = self.officers.get(officer_id)
        if officer is not None:
            officer.calls.discard(call.call_id)
            officer.send(p.CallEnded(call_id=call.call_id, reason=EndReason.TRANSFERRED))

    def _on_transferred(self, d: TransferCaller) -> None:
        call = self.calls.get(d.call_id)
        if call is None:
            return
        message = p.CallTransferred(
            call_id=d.call_id, to_department=d.to_department, note=d.note[:4000], warm=d.warm
        )
        self._send_parties(call, message)
        if not d.warm and call.state in (CallState.CONNECTING, CallState.IN_CALL):
            officer = call.record.officer
            call.move(CallState.QUEUED, self.clock())
            call.record.department = d.to_department
            self.store.save_call(call.record)
            if officer:
                self._release_officer(call, officer)
        self._emit("call_transferred", {"call_id": d.call_id, "to": d.to_department, "warm": d.warm})

    def _notes(self, call_id: str) -> list[str]:
        try:
            notes = self.router.call_info(call_id).get("notes", [])
        except RouterError:
            return []
        return [f"{n.get('from_department', '')}: {n.get('note', '')}"[:4000] for n in notes][-20:]

    def _end(self, call: Call, reason: EndReason) -> None:
        if call.state is CallState.ENDED:
            return
        handle = self._setup_timers.pop(call.call_id, None)
        if handle:
            handle.cancel()
        self._rings.pop(call.call_id, None)
        call.move(CallState.ENDED, self.clock(), reason=reason)
        self.store.save_call(call.record)
        ended = p.CallEnded(call_id=call.call_id, reason=reason)
        self._send_parties(call, ended)
        # A party inside its reconnect grace hears about the end when it comes back.
        if (Role.KIOSK, call.record.kiosk_id) in self._absent:
            self._missed.setdefault((Role.KIOSK, call.record.kiosk_id), []).append(ended)
        if call.record.officer and (Role.OFFICER, call.record.officer) in self._absent:
            self._missed.setdefault((Role.OFFICER, call.record.officer), []).append(ended)
        if call.record.officer:
            self.audit.append(
                call.record.officer,
                "call_ended",
                call.call_id,
                {"reason": reason.value, "outcome": call.record.outcome},
            )
        for client in (self.kiosks.get(call.record.kiosk_id), self.officers.get(call.record.officer or "")):
            if client is not None:
                client.calls.discard(call.call_id)
        del self.calls[call.call_id]
        self._queue_dirty = True
        self._emit("call_ended", {"call_id": call.call_id, "reason": reason.value})

    def _send_parties(self, call: Call, message: p.Wire) -> None:
        for client in (self.kiosks.get(call.record.kiosk_id), self.officers.get(call.record.officer or "")):
            if client is not None:
                client.send(message)

    def _own_call(self, client: Client, call_id: str, about: str) -> Call:
        call = self.calls.get(call_id)
        if call is None or call.record.kiosk_id != client.identity:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {call_id!r} of yours is in progress", about)
        return call

    def _party_call(self, client: Client, call_id: str, about: str) -> Call:
        call = self.calls.get(call_id)
        party = call is not None and (
            (client.role is Role.KIOSK and call.record.kiosk_id == client.identity)
            or (client.role is Role.OFFICER and call.record.officer == client.identity)
        )
        if not party:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {call_id!r} of yours is in progress", about)
        return call  # type: ignore[return-value]

    def _peer_of(self, call: Call, client: Client) -> Client | None:
        if client.role is Role.KIOSK:
            return self.officers.get(call.record.officer or "")
        return self.kiosks.get(call.record.kiosk_id)

    def ice_servers(self, user_id: str) -> list[p.IceServerInfo]:
        """The configured ICE servers plus time-limited TURN credentials for this user (coturn REST API)."""
        servers = ice_servers_for_call(self.config.turn, self.config.ice_servers, user_id, now=self.clock())
        return [p.IceServerInfo(**server) for server in servers]

    def send_to_kiosk(self, kiosk_id: str, message: p.Wire) -> bool:
        client = self.kiosks.get(kiosk_id)
        if client is None:
            return False
        client.send(message)
        return True

    def stats(self) -> dict:
        """Live statistics without the day-by-day history (that is read over REST)."""
        stats = self.router.stats()
        stats.pop("history", None)
        return stats

    def push_stats(self) -> None:
        """Supervisors get everything; officers the queues of the departments they serve."""
        supervisors = [c for c in self.watchers if c.role is Role.SUPERVISOR]
        if not supervisors and not self.officers:
            return
        stats = self.stats()
        if supervisors:
            message = p.SupervisorStats(stats=stats)
            for client in supervisors:
                client.send(message)
        for officer in self.officers.values():
            mine = {d: v for d, v in stats["departments"].items() if d in officer.principal.skills}
            officer.send(
                p.SupervisorStats(stats={"date": stats["date"], "at": stats["at"], "departments": mine})
            )

    def _revalidate_sessions(self) -> None:
        if self.session_valid is None:
            return
        staff = [*self.officers.values(), *self.watchers]
        for client in staff:
            token = client.principal.session_token
            if token and not self.session_valid(token):
                log.info("%s: session expired; disconnecting", client.identity)
                client.send(p.Error(code=ErrorCode.UNAUTHENTICATED, detail="your session has expired"))
                self.detach(client)
                client.close()

    def department_infos(self) -> list[p.DepartmentInfo]:
        infos = []
        for dep in self.departments.values():
            status = self.router.department_status(dep.id)
            infos.append(
                p.DepartmentInfo(
                    id=dep.id,
                    name_ja=dep.name_ja,
                    name_en=dep.name_en,
                    open=status.open,
                    waiting=status.waiting,
                    ewt_s=status.ewt_s,
                    next_open=status.next_open.isoformat(timespec="minutes") if status.next_open else None,
                )
            )
        return infos

    def _emit(self, event: str, data: dict) -> None:
        for listener in self.listeners:
            listener(event, data)
