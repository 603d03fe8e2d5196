"""What clients may ask: one table, message type → (roles allowed, handler).

``handle`` checks the sender's role against the table and is the one place where the router's refusal of a
request (``RouterError``) becomes the sender's ``conflict`` error.

Callers are kiosks and businesses (``roster.CALLERS``): a business may do what a kiosk does within its one
call and nothing else (no heartbeats, no remote-action results); it may request a call only for its
invitation's department, and once its call has ended ``completed`` its session is over.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from remote_call import protocol as p
from remote_call.protocol import CallState, EndReason, ErrorCode, ProtocolError, Role
from signaling_server.audit import AuditLog
from signaling_server.calls import Call
from signaling_server.db import DatabaseUnavailable
from signaling_server.routing import (
    AppointmentClaim,
    CheckInDesk,
    CheckInRefused,
    JoinRefused,
    Router,
    RouterError,
    SkillLevel,
)
from signaling_server.routing.interpreters_decisions import PoolError
from signaling_server.routing.states import AWAY_REASONS
from signaling_server.store import CallRecord, Store
from signaling_server.switchboard.conference import Conference
from signaling_server.switchboard.directory import Directory
from signaling_server.switchboard.effects import Effects
from signaling_server.switchboard.guests import GuestRoom
from signaling_server.switchboard.observers import Events, Monitor
from signaling_server.switchboard.presence import Presence
from signaling_server.switchboard.roster import CALLERS, Client, Roster, is_caller_of

log = logging.getLogger(__name__)

RESTART_DEBOUNCE_S = 3.0  # both parties usually notice a dead media path within a moment of each other
# A resident rates the call on the kiosk's closing screen, which resets after at most a few minutes: a
# rating later than this is not the resident's who was served (the next one may be at the kiosk).
RATING_WINDOW_S = 600.0
# The officer's outcome for a call the resident ended while the officer was still writing the note: taken
# for this long after the end (wrap-up pauses while the officer types; an hour covers a long note).
LATE_OUTCOME_S = 3600.0

KIOSK = frozenset({Role.KIOSK})
OFFICER = frozenset({Role.OFFICER})
PARTIES = CALLERS | OFFICER
INTERPRETER = frozenset({Role.INTERPRETER})  # a third party: its call messages go to the conference
GUEST = frozenset({Role.GUEST})  # a family member by link: its call's media only (guests.py)
MEDIA = PARTIES | INTERPRETER
DEVICES = KIOSK | OFFICER | INTERPRETER  # what reports its health: a kiosk PC or a console, not a browser
ANYONE = frozenset(Role)
MEDIA_STATES = frozenset({CallState.CONNECTING.value, CallState.IN_CALL.value})  # SDP and ICE relayed

# Every handler gets the message's original text too: relayed messages are forwarded as received.
Handler = Callable[[Client, Any, "str | None"], None]


class Commands:
    def __init__(
        self,
        *,
        router: Router,
        store: Store,
        audit: AuditLog,
        calls: dict[str, Call],
        roster: Roster,
        directory: Directory,
        effects: Effects,
        presence: Presence,
        events: Events,
        monitor: Monitor | None,
        appointments: CheckInDesk | None = None,
        conference: Conference,
        guests: GuestRoom,
    ) -> None:
        self._conference = conference
        self._guests = guests
        self._appointments = (
            appointments  # 予約: a kiosk checking in with a PIN (signaling_server.appointments)
        )
        self._router = router
        self._store = store
        self._audit = audit
        self._calls = calls
        self._roster = roster
        self._directory = directory
        self._effects = effects
        self._presence = presence
        self._events = events
        self._monitor = monitor
        self._clock = directory.clock
        self.table: dict[type[p.Wire], tuple[frozenset[Role], Handler]] = {
            p.RequestCall: (CALLERS, self._request_call),
            p.CancelCall: (CALLERS, self._cancel_call),
            p.SetStatus: (OFFICER | INTERPRETER, self._set_status),
            p.AcceptCall: (OFFICER, self._accept_call),
            p.DeclineCall: (OFFICER, self._decline_call),
            p.SessionDescription: (MEDIA | GUEST, self._relay),
            p.IceCandidate: (MEDIA | GUEST, self._relay),
            p.MediaConnected: (MEDIA | GUEST, self._media_connected),
            p.RestartMedia: (MEDIA | GUEST, self._restart_media),
            p.SyncCall: (MEDIA | GUEST, self._sync_call),
            p.EndCall: (PARTIES, self._end_call),
            p.Ping: (ANYONE, self._ping),
            p.SetShift: (OFFICER, self._set_shift),
            p.TransferCall: (OFFICER, self._transfer_call),
            p.CancelTransfer: (OFFICER, self._cancel_transfer),
            p.Heartbeat: (DEVICES, self._heartbeat),
            p.CallQuality: (MEDIA, self._call_quality),
            p.ActionResult: (KIOSK, self._action_result),
            p.CaseEvent: (OFFICER, self._case_event),
            p.RateCall: (CALLERS, self._rate_call),
            p.HoldWrapUp: (OFFICER, self._hold_wrap_up),
            **conference.table,  # request/cancel an interpreter, its accept, decline and leave
            p.LeaveCall: (INTERPRETER | GUEST, self._leave_call),
        }

    def handle(self, client: Client, message: p.Wire, raw: str | None = None) -> None:
        """Act on one validated message from an authenticated client, or raise ProtocolError. ``raw`` is the
        message's original text."""
        entry = self.table.get(type(message))
        if entry is None or client.role not in entry[0]:
            kind = getattr(message, "type", None)
            if entry is None:
                detail = f"{kind!r} is not a message a client sends here"
            else:
                detail = f"a {client.role.value} may not send {kind!r}"
            raise ProtocolError(ErrorCode.FORBIDDEN, detail, kind)
        try:
            entry[1](client, message, raw)
        except (RouterError, PoolError) as exc:
            raise ProtocolError(ErrorCode.CONFLICT, str(exc), getattr(message, "type", None)) from None
        except DatabaseUnavailable as exc:  # degraded mode (database_watch.py): named, retried later
            raise ProtocolError(ErrorCode.INTERNAL, str(exc), getattr(message, "type", None)) from None

    # ------------------------------------------------------------------ lookups

    def _own_call(self, client: Client, call_id: str, about: str) -> Call:
        call = self._calls.get(call_id)
        if call is None or not is_caller_of(client, call.record):
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {call_id!r} of yours is in progress", about)
        return call

    def _party_call(self, client: Client, call_id: str, about: str) -> Call:
        call = self._calls.get(call_id)
        if call is not None:
            if client.role in CALLERS and is_caller_of(client, call.record):
                return call
            if client.role is Role.OFFICER and call.record.officer == client.identity:
                return call
            if self._conference.is_in(call_id, client.identity) and client.role is Role.INTERPRETER:
                return call
        raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {call_id!r} of yours is in progress", about)

    # ------------------------------------------------------------------ the queue

    def _request_call(self, client: Client, msg: p.RequestCall, _raw: str | None) -> None:
        if not self._store.db.available:  # a call only in memory would be lost with this process
            raise DatabaseUnavailable(f"{self._store.db.unreachable()}: no new call can start now")
        if any(self._calls[c].state is not CallState.ENDED for c in client.calls if c in self._calls):
            self._presence.resume(client)  # where its existing call stands, so it can pick it up
            raise ProtocolError(
                ErrorCode.CONFLICT, f"this {client.role.value} already has a call in progress", msg.type
            )
        business = client.principal.business
        if client.role is Role.BUSINESS:
            self._business_may_call(client, msg)
        if msg.department is not None and msg.department not in self._directory.departments:
            client.send(p.CallRefused(department=msg.department, reason="unknown_department"))
            return
        call_id = uuid.uuid4().hex[:16]
        now = self._clock()
        claim = None
        department = msg.department
        if msg.appointment_pin is not None:
            claim = self._check_in(client, msg, call_id)
            if claim is None:
                return
            department = department or claim.department  # a PIN alone: the booking's department
        if department is None or department not in self._directory.departments:
            client.send(p.CallRefused(department=department, reason="unknown_department"))
            return
        try:
            decisions = self._router.join(
                call_id,
                department,
                kiosk_id=client.identity,
                info=msg.caller.model_dump(),
                appointment=claim,
            )
        except JoinRefused as refused:
            next_open = refused.next_open.isoformat(timespec="minutes") if refused.next_open else None
            refusal = {"department": department, "reason": refused.reason, "next_open": next_open}
            client.send(p.CallRefused.model_validate(refusal))  # the router's reason checked as the wire's
            return
        record = CallRecord(
            call_id=call_id,
            kiosk_id=client.identity,
            department=department,
            procedure=msg.caller.procedure,
            language=msg.caller.language,
            state=CallState.QUEUED.value,
            created_at=now,
            business=business.model_dump_json() if business is not None else None,
        )
        self._calls[call_id] = Call(record, caller=msg.caller)
        client.calls.add(call_id)
        self._roster.last_call[(client.role, client.identity)] = call_id
        self._store.save_call(record)
        self._conference.asked(call_id, msg.interpreter_language)
        self._effects.queue_dirty = True
        self._events.emit("call_queued", {"call_id": call_id, "department": department})
        if claim is not None:
            slot = self._local_time(claim.slot_start)
            early = claim.slot_start > now
            client.send(
                p.AppointmentCheckedIn(
                    call_id=call_id,
                    department=department,
                    slot_start=slot,
                    early=early,
                    procedure=claim.procedure,
                )
            )
        self._effects.apply(decisions)

    def _check_in(self, client: Client, msg: p.RequestCall, call_id: str) -> AppointmentClaim | None:
        """A kiosk checking in for a booking: its claim, or None once the kiosk is told why not."""
        if self._appointments is None or client.role is not Role.KIOSK or msg.appointment_pin is None:
            raise ProtocolError(ErrorCode.FORBIDDEN, "appointments are checked in at a kiosk", msg.type)
        try:
            return self._appointments.kiosk_check_in(
                msg.appointment_pin, kiosk_id=client.identity, department=msg.department, call_id=call_id
            )
        except CheckInRefused as refused:
            slot = None if refused.slot_start is None else self._local_time(refused.slot_start)
            refusal = {
                "department": refused.department or msg.department,
                "reason": refused.reason,
                "slot_start": slot,
                "retry_after_s": refused.retry_after_s,
            }
            client.send(p.CallRefused.model_validate(refusal))
            return None

    def _local_time(self, when: float) -> str:
        tz = ZoneInfo(self._directory.config.city.timezone)
        return dt.datetime.fromtimestamp(when, tz).isoformat(timespec="minutes")

    def _business_may_call(self, client: Client, msg: p.RequestCall) -> None:
        """A business joins its invitation's department only, and only until its call is done."""
        business = client.principal.business
        if business is None or msg.department != business.department:
            wanted = business.department if business is not None else "none"
            detail = f"this invitation is for department {wanted!r}, not {msg.department!r}"
            raise ProtocolError(ErrorCode.FORBIDDEN, detail, msg.type)
        done = any(
            r.state == "ended" and r.end_reason == EndReason.COMPLETED.value
            for r in self._store.business_calls(caller=client.identity)
        )
        if done:
            detail = (
                "this business session is over: its call has ended; ask the division for a new invitation"
            )
            raise ProtocolError(ErrorCode.FORBIDDEN, detail, msg.type)

    def _cancel_call(self, client: Client, msg: p.CancelCall, _raw: str | None) -> None:
        call = self._own_call(client, msg.call_id, msg.type)
        if call.state in (CallState.QUEUED, CallState.RINGING):
            self._effects.apply(self._router.leave(call.call_id))
            self._effects.end(call, EndReason.CANCELLED)
        else:
            self._effects.finish(call, EndReason.COMPLETED)
        self._ended_by(client, call)

    def _ended_by(self, client: Client, call: Call) -> None:
        """The party ended the call itself: it knows, and is not told again when it reconnects."""
        party = (client.role, client.identity)
        if call.call_id not in self._calls and self._roster.last_call.get(party) == call.call_id:
            del self._roster.last_call[party]

    def _set_status(self, client: Client, msg: p.SetStatus, _raw: str | None) -> None:
        if client.role is Role.INTERPRETER:
            return self._conference.set_status(client, msg)
        if msg.status == "available":
            decisions = self._router.set_available(client.identity)
        else:
            decisions = self._router.set_away(client.identity, msg.reason or "break")
        self._effects.apply(decisions)

    def _accept_call(self, client: Client, msg: p.AcceptCall, _raw: str | None) -> None:
        if msg.call_id not in self._calls or not self._effects.is_ringing(msg.call_id, client.identity):
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {msg.call_id!r} is ringing for you", msg.type)
        self._effects.apply(self._router.accept(client.identity, msg.call_id))

    def _decline_call(self, client: Client, msg: p.DeclineCall, _raw: str | None) -> None:
        if not self._effects.is_ringing(msg.call_id, client.identity):
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {msg.call_id!r} is ringing for you", msg.type)
        self._effects.apply(self._router.decline(client.identity, msg.call_id))

    def _set_shift(self, client: Client, msg: p.SetShift, _raw: str | None) -> None:
        skills = client.principal.skills
        unknown = [d for d in msg.departments if d not in skills or d not in self._directory.departments]
        if unknown:
            raise ProtocolError(ErrorCode.FORBIDDEN, f"you do not serve {', '.join(unknown)}", msg.type)
        state = self._router.officer_state(client.identity)
        if state.value in ("ringing", "in_call"):
            raise ProtocolError(ErrorCode.CONFLICT, "change the shift's departments between calls", msg.type)
        reason = self._router.officer_reason(client.identity)
        shift = {d: SkillLevel(skills[d]) for d in msg.departments}
        self._effects.apply(self._router.officer_offline(client.identity))
        self._effects.apply(self._router.officer_online(client.identity, shift))
        if state.value == "away":  # away for unanswered rings (no_answer, the router's own): a break
            kept = reason if reason in AWAY_REASONS else "break"
            self._effects.apply(self._router.set_away(client.identity, kept))

    def _transfer_call(self, client: Client, msg: p.TransferCall, _raw: str | None) -> None:
        call = self._party_call(client, msg.call_id, msg.type)
        if call.state is not CallState.IN_CALL:
            raise ProtocolError(ErrorCode.CONFLICT, "only a call in progress can be transferred", msg.type)
        decisions = self._router.transfer(msg.call_id, msg.to_department, msg.note, warm=msg.warm)
        self._audit.append(
            client.identity, "call_transferred", msg.call_id, {"to": msg.to_department, "warm": msg.warm}
        )
        self._effects.apply(decisions)

    def _cancel_transfer(self, client: Client, msg: p.CancelTransfer, _raw: str | None) -> None:
        self._party_call(client, msg.call_id, msg.type)
        self._effects.apply(self._router.cancel_transfer(msg.call_id))

    # ------------------------------------------------------------------ a call's media

    def _leave_call(self, client: Client, msg: p.LeaveCall, raw: str | None) -> None:
        if client.role is Role.GUEST:
            return self._guests.leave(client, msg)
        return self._conference.table[p.LeaveCall][1](client, msg, raw)

    def _relay(self, client: Client, msg: p.SessionDescription | p.IceCandidate, raw: str | None) -> None:
        if msg.peer == "guest" or client.role is Role.GUEST:
            return self._guests.relay(client, msg, raw)  # a pair with a family member
        if msg.peer is not None or client.role is Role.INTERPRETER:
            return self._conference.relay(client, msg, raw)  # a pair with a third party
        call = self._party_call(client, msg.call_id, msg.type)
        if call.record.state not in MEDIA_STATES:  # the record's text: no enum lookup per relayed message
            raise ProtocolError(ErrorCode.CONFLICT, f"call {msg.call_id} is {call.record.state}", msg.type)
        peer = self._roster.peer_of(call, client)
        if peer is not None:
            # Validated above (strict model, no unknown fields): the original text is exactly the message.
            peer.send_raw(raw if raw is not None else p.encode(msg))

    def _media_connected(self, client: Client, msg: p.MediaConnected, _raw: str | None) -> None:
        if msg.peer == "guest" or client.role is Role.GUEST:
            return self._guests.media_connected(client, msg)
        if msg.peer is not None or client.role is Role.INTERPRETER:
            return self._conference.media_connected(client, msg)
        self._effects.media_connected(self._party_call(client, msg.call_id, msg.type), client.identity)

    def _restart_media(self, client: Client, msg: p.RestartMedia, _raw: str | None) -> None:
        if msg.peer == "guest" or client.role is Role.GUEST:
            return self._guests.restart_media(client, msg)
        if msg.peer is not None or client.role is Role.INTERPRETER:
            return self._conference.restart_media(client, msg)
        call = self._party_call(client, msg.call_id, msg.type)
        if call.state not in (CallState.CONNECTING, CallState.IN_CALL):
            raise ProtocolError(ErrorCode.CONFLICT, f"call {msg.call_id} has no media to restart", msg.type)
        if call.state is CallState.CONNECTING and self._clock() - call.restarted_at < RESTART_DEBOUNCE_S:
            return  # the other party asked a moment ago: one restart serves both
        log.info("call %s: media restart asked by %s (%s)", call.call_id, client.identity, msg.reason)
        self._effects.restart(call)

    # ------------------------------------------------------------------ a call's end

    def _sync_call(self, client: Client, msg: p.SyncCall, _raw: str | None) -> None:
        if client.role is Role.GUEST:
            return self._guests.sync(client, msg)
        if client.role is Role.INTERPRETER:
            return self._conference.sync(client, msg)
        call = self._calls.get(msg.call_id)
        is_caller = client.role in CALLERS
        if call is not None:
            if is_caller_of(client, call.record) if is_caller else call.record.officer == client.identity:
                # The sync after a reconnection asks what the welcome's resume has just told: not again
                # (after a node's death the leader resumed each of ~10,000 returning clients twice, and a
                # waiting kiosk heard its place twice). Any later sync is answered.
                if msg.call_id in client.told:
                    client.told.discard(msg.call_id)
                else:
                    self._presence.resume(client)
            elif not is_caller:
                client.send(
                    p.CallEnded(call_id=msg.call_id, reason=EndReason.REQUEUED)
                )  # someone else has it
            else:
                raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {msg.call_id!r} of yours", msg.type)
            return
        record = self._store.call(msg.call_id)
        if record is None or (is_caller and not is_caller_of(client, record)) or record.state != "ended":
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {msg.call_id!r} of yours", msg.type)
        reason = (
            EndReason(record.end_reason or "")  # an ended record has its reason
            if is_caller or record.officer == client.identity
            else EndReason.REQUEUED
        )
        client.send(p.CallEnded(call_id=msg.call_id, reason=reason))

    def _end_call(self, client: Client, msg: p.EndCall, _raw: str | None) -> None:
        if msg.call_id not in self._calls and client.role is Role.OFFICER:
            self._late_outcome(client, msg)
            return
        call = self._party_call(client, msg.call_id, msg.type)
        if call.state in (CallState.QUEUED, CallState.RINGING):
            self._cancel_call(client, p.CancelCall(call_id=msg.call_id), None)
            return
        if client.role is Role.OFFICER:
            call.record.outcome = msg.outcome
            call.record.notes = msg.notes or None
        self._effects.finish(call, EndReason.COMPLETED, outcome=msg.outcome, note=msg.notes or None)
        self._ended_by(client, call)

    def _late_outcome(self, client: Client, msg: p.EndCall) -> None:
        """The call ended (the resident hung up) while its officer was writing the note: the outcome the
        officer then sends is stored on the ended call's record, once, within LATE_OUTCOME_S."""
        record = self._store.call(msg.call_id)
        if record is None or record.officer != client.identity or record.state != CallState.ENDED.value:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {msg.call_id!r} of yours", msg.type)
        if msg.outcome is None:
            return  # ending a call that has ended already: nothing to do
        if self._clock() - (record.ended_at or 0.0) > LATE_OUTCOME_S:
            detail = (
                f"call {msg.call_id} ended over {LATE_OUTCOME_S / 60:.0f} minutes ago: its outcome is closed"
            )
            raise ProtocolError(ErrorCode.CONFLICT, detail, msg.type)
        if not self._store.record_outcome(msg.call_id, msg.outcome, msg.notes or None):
            raise ProtocolError(ErrorCode.CONFLICT, f"call {msg.call_id} has its outcome already", msg.type)
        self._audit.append(client.identity, "call_outcome", msg.call_id, {"outcome": msg.outcome})

    def _hold_wrap_up(self, client: Client, msg: p.HoldWrapUp, _raw: str | None) -> None:
        self._effects.apply(self._router.hold_wrap_up(client.identity, msg.hold))

    def _rate_call(self, client: Client, msg: p.RateCall, _raw: str | None) -> None:
        """The resident's satisfaction with its own call, once, within RATING_WINDOW_S of the end."""
        live = self._calls.get(msg.call_id)
        if live is not None and is_caller_of(client, live.record):
            raise ProtocolError(ErrorCode.CONFLICT, f"call {msg.call_id} has not ended yet", msg.type)
        record = self._store.call(msg.call_id)
        if record is None or not is_caller_of(client, record):
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no call {msg.call_id!r} of yours", msg.type)
        if record.state != CallState.ENDED.value or record.officer is None:
            detail = f"call {msg.call_id} was never answered: there is nothing to rate"
            raise ProtocolError(ErrorCode.CONFLICT, detail, msg.type)
        if self._clock() - (record.ended_at or 0.0) > RATING_WINDOW_S:
            detail = f"call {msg.call_id} ended over {RATING_WINDOW_S / 60:.0f} minutes ago: too late to rate"
            raise ProtocolError(ErrorCode.CONFLICT, detail, msg.type)
        if not self._store.rate_call(msg.call_id, msg.rating):
            raise ProtocolError(ErrorCode.CONFLICT, f"call {msg.call_id} has been rated already", msg.type)
        self._router.record_rating(record.department, record.officer, msg.rating)
        self._effects.queue_dirty = True  # the day's counters are saved with the queue
        self._events.emit("call_rated", {"call_id": msg.call_id, "rating": msg.rating})

    # ------------------------------------------------------------------ everything else

    def _ping(self, client: Client, msg: p.Ping, _raw: str | None) -> None:
        client.send(p.Pong(nonce=msg.nonce))

    def _heartbeat(self, client: Client, msg: p.Heartbeat, _raw: str | None) -> None:
        if self._monitor is not None:
            self._monitor.heartbeat(client.identity, msg, self._clock())

    def _call_quality(self, client: Client, msg: p.CallQuality, _raw: str | None) -> None:
        self._party_call(client, msg.call_id, msg.type)
        if self._monitor is not None:
            self._monitor.call_quality(client.identity, client.role.value, msg, self._clock())

    def _action_result(self, client: Client, msg: p.ActionResult, _raw: str | None) -> None:
        if self._monitor is not None:
            self._monitor.action_result(client.identity, msg)

    def _case_event(self, client: Client, msg: p.CaseEvent, _raw: str | None) -> None:
        call = self._party_call(client, msg.call_id, msg.type)
        self._audit.append(
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
