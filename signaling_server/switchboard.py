"""The switchboard: connected clients, live calls, and the edge between the pure queue router and the wire.

Every event (a message, a disconnect, a timer) goes to the router; the decisions it returns are applied
here: call states move, messages are sent, records are saved. Nothing in this module blocks.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from config.schema import AppConfig
from remote_call import protocol as p
from remote_call.protocol import CallState, EndReason, ErrorCode, ProtocolError, Role
from signaling_server.auth import Principal
from signaling_server.calls import Call
from signaling_server.routing import CallRequeued as RouterCallRequeued
from signaling_server.routing import (
    CallerRemoved,
    Connect,
    JoinRefused,
    OfficerStateChanged,
    QueuePosition,
    Ring,
    Router,
    RouterError,
    SkillLevel,
    WithdrawRing,
)
from signaling_server.store import CallRecord, Store

log = logging.getLogger(__name__)


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
        self._wake = asyncio.Event()
        self._queue_dirty = False
        self._closing = False
        self.listeners: list[Callable[[str, dict], None]] = []  # observers: metrics, tests

    # ------------------------------------------------------------------ lifecycle

    async def run_timers(self) -> None:
        """Tick the router at its next deadline, and persist the queue when it changed."""
        while not self._closing:
            deadline = self.router.next_deadline()
            timeout = 1.0 if deadline is None else min(1.0, max(0.0, deadline - self.clock()))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass
            self.apply(self.router.tick())
            if self._queue_dirty:
                self._queue_dirty = False
                self.store.save_queue(self.router.snapshot())

    def shutdown(self) -> None:
        self._closing = True
        self._wake.set()
        for handle in self._setup_timers.values():
            handle.cancel()
        self.store.save_queue(self.router.snapshot())

    # ------------------------------------------------------------------ connections

    def attach(self, client: Client) -> p.Welcome:
        """Register an authenticated client; a second connection of the same identity replaces the first."""
        principal = client.principal
        if principal.role is Role.KIOSK:
            old = self.kiosks.get(principal.identity)
            if old is not None and old is not client:
                self.detach(old)
                old.close()
            self.kiosks[principal.identity] = client
        elif principal.role is Role.OFFICER:
            old = self.officers.get(principal.identity)
            if old is not None and old is not client:
                self.detach(old)
                old.close()
            self.officers[principal.identity] = client
            skills = {d: SkillLevel(level) for d, level in principal.skills.items() if d in self.departments}
            self.apply(self.router.officer_online(principal.identity, skills))
        else:
            self.watchers.add(client)
        kiosk = self.kiosk_names.get(principal.identity) if principal.role is Role.KIOSK else None
        self._emit("attached", {"role": principal.role.value, "identity": principal.identity})
        return p.Welcome(
            role=principal.role,
            identity=principal.identity,
            display_name=kiosk.name if kiosk else principal.display_name,
            session_token=principal.session_token if principal.role is not Role.KIOSK else None,
            ice_servers=self.ice_servers(principal.identity),
            departments=self.department_infos(),
            kiosk=p.KioskInfo(id=kiosk.id, name=kiosk.name, location=kiosk.location) if kiosk else None,
        )

    def detach(self, client: Client) -> None:
        """The connection is gone: nobody may be left stuck because of it."""
        identity = client.identity
        if client.role is Role.KIOSK:
            if self.kiosks.get(identity) is not client:
                return
            del self.kiosks[identity]
            for call_id in list(client.calls):
                call = self.calls.get(call_id)
                if call is None:
                    continue
                if call.state in (CallState.QUEUED, CallState.RINGING):
                    self.apply(self.router.leave(call_id))
                    self._end(call, EndReason.KIOSK_DISCONNECTED)
                else:
                    self._end(call, EndReason.KIOSK_DISCONNECTED)
                    self.apply(self.router.call_finished(call_id))
        elif client.role is Role.OFFICER:
            if self.officers.get(identity) is not client:
                return
            del self.officers[identity]
            self.apply(self.router.officer_offline(identity))
        else:
            self.watchers.discard(client)
        self._emit("detached", {"role": client.role.value, "identity": identity})

    # ------------------------------------------------------------------ messages

    def handle(self, client: Client, message: p.Wire) -> None:
        """Act on one validated message from an authenticated client, or raise ProtocolError."""
        handler = self._handlers.get(type(message))
        if handler is None:
            raise ProtocolError(ErrorCode.FORBIDDEN, f"{message.type!r} is not a message a client sends here",
                                about=getattr(message, "type", None))
        allowed_roles, method = handler
        if client.role not in allowed_roles:
            raise ProtocolError(
                ErrorCode.FORBIDDEN, f"a {client.role.value} may not send {message.type!r}", about=message.type
            )
        method(self, client, message)

    def _request_call(self, client: Client, msg: p.RequestCall) -> None:
        if any(self.calls[c].state is not CallState.ENDED for c in client.calls if c in self.calls):
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

    def _relay(self, client: Client, msg: p.SessionDescription | p.IceCandidate) -> None:
        call = self._party_call(client, msg.call_id, msg.type)
        if call.state not in (CallState.CONNECTING, CallState.IN_CALL):
            raise ProtocolError(ErrorCode.CONFLICT, f"call {msg.call_id} is {call.state.value}", msg.type)
        peer = self._peer_of(call, client)
        if peer is not None:
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
            self._emit("call_started", {"call_id": call.call_id})

    def _end_call(self, client: Client, msg: p.EndCall) -> None:
        call = self._party_call(client, msg.call_id, msg.type)
        if call.state in (CallState.QUEUED, CallState.RINGING):
            self._cancel_call(client, p.CancelCall(call_id=msg.call_id))
            return
        if client.role is Role.OFFICER:
            call.record.outcome = msg.outcome
            call.record.notes = msg.notes or None
        self._finish(call, EndReason.COMPLETED)

    def _ping(self, client: Client, msg: p.Ping) -> None:
        client.send(p.Pong(nonce=msg.nonce))

    _handlers: ClassVar[dict[type, tuple[frozenset[Role], Callable]]] = {
        p.RequestCall: (frozenset({Role.KIOSK}), _request_call),
        p.CancelCall: (frozenset({Role.KIOSK}), _cancel_call),
        p.SetStatus: (frozenset({Role.OFFICER}), _set_status),
        p.AcceptCall: (frozenset({Role.OFFICER}), _accept_call),
        p.DeclineCall: (frozenset({Role.OFFICER}), _decline_call),
        p.SessionDescription: (frozenset({Role.KIOSK, Role.OFFICER}), _relay),
        p.IceCandidate: (frozenset({Role.KIOSK, Role.OFFICER}), _relay),
        p.MediaConnected: (frozenset({Role.KIOSK, Role.OFFICER}), _media_connected),
        p.EndCall: (frozenset({Role.KIOSK, Role.OFFICER}), _end_call),
        p.Ping: (frozenset(Role), _ping),
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
            elif isinstance(decision, RouterCallRequeued):
                self._on_requeued(decision)
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
        call.move(CallState.CONNECTING, now)
        call.record.officer = d.officer_id
        self.store.save_call(call.record)
        officer = self.officers.get(d.officer_id)
        kiosk = self.kiosks.get(call.record.kiosk_id)
        if officer is not None:
            officer.calls.add(d.call_id)
        kiosk_info = self.kiosk_names.get(call.record.kiosk_id)
        department = self.departments[call.record.department]
        if kiosk is not None:
            kiosk.send(
                p.CallConnecting(
                    call_id=d.call_id,
                    offerer=True,
                    department=call.record.department,
                    peer_name=department.name_ja,
                    ice_servers=self.ice_servers(call.record.kiosk_id),
                )
            )
        if officer is not None:
            officer.send(
                p.CallConnecting(
                    call_id=d.call_id,
                    offerer=False,
                    department=call.record.department,
                    peer_name=kiosk_info.name if kiosk_info else call.record.kiosk_id,
                    ice_servers=self.ice_servers(d.officer_id),
                )
            )
        loop = asyncio.get_running_loop()
        self._setup_timers[d.call_id] = loop.call_later(
            self.config.server.setup_timeout_s, self._setup_expired, d.call_id
        )
        self._emit("call_connecting", {"call_id": d.call_id, "officer": d.officer_id})

    def _on_requeued(self, d: RouterCallRequeued) -> None:
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

    def _on_position(self, d: QueuePosition) -> None:
        call = self.calls.get(d.call_id)
        if call is None or call.state is CallState.ENDED:
            return
        kiosk = self.kiosks.get(call.record.kiosk_id)
        if kiosk is not None:
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

    def _finish(self, call: Call, reason: EndReason) -> None:
        """End a call that had an officer: the officer goes to wrap-up."""
        self._end(call, reason)
        self.apply(self.router.call_finished(call.call_id))

    def _end(self, call: Call, reason: EndReason) -> None:
        if call.state is CallState.ENDED:
            return
        handle = self._setup_timers.pop(call.call_id, None)
        if handle:
            handle.cancel()
        self._rings.pop(call.call_id, None)
        call.move(CallState.ENDED, self.clock(), reason=reason)
        self.store.save_call(call.record)
        self._send_parties(call, p.CallEnded(call_id=call.call_id, reason=reason))
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
        servers = [
            p.IceServerInfo(urls=s.urls, username=s.username, credential=s.credential)
            for s in self.config.ice_servers
        ]
        return servers

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
