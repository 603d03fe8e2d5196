"""The effects of the router's decisions, and the steps that connect, restart and end a call.

Each decision type has one effect, looked up in a table: call states move, messages go to the parties,
records are saved. Ending a call may advance a one-stop case or leave the router with decisions of its own,
so ending lives here too.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from remote_call import protocol as p
from remote_call.protocol import CallState, EndReason, Role
from signaling_server.audit_batch import AuditBatch
from signaling_server.calls import Call
from signaling_server.routing import (
    CallerRemoved,
    CaseAdvanced,
    Connect,
    Decision,
    HoldForSlot,
    KeepWithOfficer,
    OfficerStateChanged,
    QueuePosition,
    RequeueCaller,
    Ring,
    Router,
    RouterError,
    TransferCaller,
    WithdrawRing,
)
from signaling_server.store import Store
from signaling_server.switchboard.call_table import CallTable
from signaling_server.switchboard.directory import Directory
from signaling_server.switchboard.observers import Events
from signaling_server.switchboard.positions import PositionBatcher
from signaling_server.switchboard.roster import Roster, caller_role
from signaling_server.switchboard.timers import EdgeTimers, GraceEnds, SetupTimeout

log = logging.getLogger(__name__)


class Effects:
    def __init__(
        self,
        *,
        router: Router,
        store: Store,
        audit: AuditBatch,
        calls: dict[str, Call],
        roster: Roster,
        directory: Directory,
        positions: PositionBatcher,
        timers: EdgeTimers,
        events: Events,
        setup_timeout_s: float,
        ice_transport_policy: str,
    ) -> None:
        self._router = router
        self._store = store
        self._audit = audit
        self._calls = calls
        self._roster = roster
        self._directory = directory
        self._timers = timers
        self._events = events
        self._clock = timers.clock
        self._setup_timeout_s = setup_timeout_s
        self._ice_transport_policy = ice_transport_policy
        self._rings: dict[str, set[str]] = {}  # call id -> officers it is ringing
        self.queue_dirty = False  # the router's queue changed since it was last saved
        self._table: dict[type, Callable[[Any], None]] = {
            Ring: self._on_ring,
            WithdrawRing: self._on_withdraw,
            Connect: self._on_connect,
            QueuePosition: positions.place,
            RequeueCaller: self._on_requeue,
            TransferCaller: self._on_transfer,
            KeepWithOfficer: self._on_keep,
            OfficerStateChanged: self._on_officer_state,
            CallerRemoved: self._on_removed,
            CaseAdvanced: lambda _d: None,  # finish() looks for it among call_finished's decisions
            HoldForSlot: lambda _d: None,  # the check-in told the kiosk its slot (appointment_checked_in)
        }

    def apply(self, decisions: Iterable[Decision]) -> None:
        table = self._table
        tracing = log.isEnabledFor(logging.DEBUG)  # to follow a chaos run's calls (CHAOS_NODE_LOG_LEVEL)
        for decision in decisions:
            if tracing:  # ids only: a decision may carry what the resident said about the call
                ids = (getattr(decision, "call_id", None), getattr(decision, "officer_id", None))
                log.debug("decision %s call=%s officer=%s", type(decision).__name__, *ids)
            effect = table.get(type(decision))
            if effect is not None:
                effect(decision)
            self.queue_dirty = True
        self._timers.wake_by(self._router.next_deadline())

    def is_ringing(self, call_id: str, officer_id: str) -> bool:
        return officer_id in self._rings.get(call_id, ())

    # ------------------------------------------------------------------ decisions

    def _on_ring(self, d: Ring) -> None:
        call = self._calls.get(d.call_id)
        officer = self._roster.officers.get(d.officer_id)
        if call is None:
            self.forget_in_router(d.call_id)  # a ring for a call that no longer exists
            return
        if call.state is CallState.QUEUED:
            call.move(CallState.RINGING, self._clock())
        self._rings.setdefault(d.call_id, set()).add(d.officer_id)
        if officer is not None:
            officer.send(
                p.CallOffer(
                    call_id=d.call_id,
                    department=d.department,
                    kiosk=self._directory.caller_info(call.record),
                    caller=call.caller,
                    waited_s=round(d.waited_s, 1),
                    ring_timeout_s=d.ring_timeout_s,
                    notes=self._notes(d.call_id),
                    business=self._directory.business_info(call.record),
                )
            )
        self._events.emit("ring", {"call_id": d.call_id, "officer": d.officer_id})

    def _on_withdraw(self, d: WithdrawRing) -> None:
        rings = self._rings.get(d.call_id, set())
        rings.discard(d.officer_id)
        officer = self._roster.officers.get(d.officer_id)
        if officer is not None:
            # The router's reason is a plain string: validated against the wire's literals.
            officer.send(p.OfferWithdrawn.model_validate({"call_id": d.call_id, "reason": d.reason}))
        call = self._calls.get(d.call_id)
        if call is not None and call.state is CallState.RINGING and not rings:
            call.move(CallState.QUEUED, self._clock())

    def _on_connect(self, d: Connect) -> None:
        call = self._calls[d.call_id]
        self._rings.pop(d.call_id, None)
        previous = call.record.officer
        if call.state is CallState.IN_CALL and previous and previous != d.officer_id:
            # Warm transfer: the next officer accepted; the first one hands over and leaves.
            self._release_officer(call, previous)
        call.move(CallState.CONNECTING, self._clock())
        call.media_up.clear()
        call.record.officer = d.officer_id
        if isinstance(self._calls, CallTable):
            self._calls.touch(call)  # its officer changed: Presence.resume finds the call by it
        call.record.department = self._router.call_info(d.call_id)["department"]
        self._store.save_call(call.record)
        officer = self._roster.officers.get(d.officer_id)
        if officer is not None:
            officer.calls.add(d.call_id)
        self._roster.last_call[(Role.OFFICER, d.officer_id)] = d.call_id
        self._send_connecting(call, restart=False)
        self._events.emit("call_connecting", {"call_id": d.call_id, "officer": d.officer_id})

    def _on_requeue(self, d: RequeueCaller) -> None:
        """The officer is gone or media failed: the resident goes back to the head of the queue."""
        call = self._calls.get(d.call_id)
        if call is None or call.state not in (CallState.CONNECTING, CallState.IN_CALL):
            return
        self._timers.cancel(SetupTimeout.key_of(call.call_id))
        officer = self._roster.officer_of(call)
        if officer is not None:
            officer.calls.discard(call.call_id)
        call.move(CallState.QUEUED, self._clock())
        self._store.save_call(call.record)
        caller = self._roster.caller_of(call)
        if caller is not None:
            caller.send(p.CallRequeued(call_id=call.call_id))
        self._events.emit("call_requeued", {"call_id": call.call_id, "reason": d.reason})

    def _on_transfer(self, d: TransferCaller) -> None:
        call = self._calls.get(d.call_id)
        if call is None:
            return
        message = p.CallTransferred(
            call_id=d.call_id, to_department=d.to_department, note=d.note[:4000], warm=d.warm
        )
        self._roster.send_parties(call, message)
        if not d.warm and call.state in (CallState.CONNECTING, CallState.IN_CALL):
            officer = call.record.officer
            call.move(CallState.QUEUED, self._clock())
            call.record.department = d.to_department
            self._store.save_call(call.record)
            if officer:
                self._release_officer(call, officer)
        self._events.emit("call_transferred", {"call_id": d.call_id, "to": d.to_department, "warm": d.warm})

    def _on_keep(self, d: KeepWithOfficer) -> None:
        officer = self._roster.officers.get(d.officer_id)
        if officer is not None:
            officer.send(p.TransferCancelled(call_id=d.call_id))
        self._events.emit("transfer_cancelled", {"call_id": d.call_id})

    def _on_officer_state(self, d: OfficerStateChanged) -> None:
        officer = self._roster.officers.get(d.officer_id)
        if officer is not None:
            officer.send(p.OfficerState(state=d.state.value, reason=d.reason))
        self._events.emit("officer_state", {"officer": d.officer_id, "state": d.state.value})

    def _on_removed(self, d: CallerRemoved) -> None:
        call = self._calls.get(d.call_id)
        if call is not None and call.state is not CallState.ENDED:
            self.end(call, EndReason.CANCELLED)

    # ------------------------------------------------------------------ media

    def _send_connecting(self, call: Call, *, restart: bool) -> None:
        """Both parties: build the peer connection (the caller offers). Starts the setup deadline."""
        caller = self._roster.caller_of(call)
        officer = self._roster.officer_of(call)
        department = self._directory.departments[call.record.department]
        common: dict[str, Any] = {
            "call_id": call.call_id,
            "department": call.record.department,
            "restart": restart,
            "ice_transport_policy": self._ice_transport_policy,
        }
        if caller is not None:
            # A resident at a kiosk sees the division; a business, which may need to ask for them again,
            # also the officer's name (their display name, e.g. 盛岡 花子).
            peer_name = department.name_ja
            if caller.principal.role is Role.BUSINESS and officer is not None:
                peer_name = f"{department.name_ja} {officer.principal.display_name}"
            caller.send(
                p.CallConnecting(
                    offerer=True,
                    peer_name=peer_name,
                    ice_servers=self._directory.ice_servers(call.record.kiosk_id),
                    **common,
                )
            )
        if officer is not None:
            officer.send(
                p.CallConnecting(
                    offerer=False,
                    peer_name=self._directory.caller_info(call.record).name,
                    ice_servers=self._directory.ice_servers(officer.identity),
                    **common,
                )
            )
        self._timers.after(self._setup_timeout_s, SetupTimeout(call.call_id))

    def media_connected(self, call: Call, identity: str) -> None:
        """A party's media is up; with both, the call is in progress."""
        if call.state is not CallState.CONNECTING:
            return  # a repeat after the call started: harmless
        call.media_up.add(identity)
        if len(call.media_up) < 2:
            return
        self._timers.cancel(SetupTimeout.key_of(call.call_id))
        call.settling = False
        call.move(CallState.IN_CALL, self._clock())
        self._store.save_call(call.record)
        self._roster.send_parties(call, p.CallStarted(call_id=call.call_id))
        self._audit.add(
            call.record.officer or "?",
            "call_started",
            call.call_id,
            {"kiosk": call.record.kiosk_id, "department": call.record.department},
        )
        self._events.emit("call_started", {"call_id": call.call_id})

    def restart(self, call: Call) -> None:
        """Rebuild the call's media: both parties get a fresh call_connecting for the same call."""
        if call.state is CallState.IN_CALL:
            call.move(CallState.CONNECTING, self._clock())
        call.media_up.clear()
        call.restarted_at = self._clock()
        self._store.save_call(call.record)
        self._send_connecting(call, restart=True)
        self._events.emit("media_restart", {"call_id": call.call_id})

    def setup_expired(self, due: SetupTimeout) -> None:
        """Media did not come up within setup_timeout_s: the call ends ``setup_failed``, unless its media
        was restarted because a party came back. Then once more: after a leader's death 25,000 clients
        come back at once and the relayed offers and answers of a restart can take longer than the
        set-up time (2,152 of 20,000 calls ended so 55-80 s after a kill, their parties back by 34 s)."""
        call = self._calls.get(due.call_id)
        if call is None or call.state is not CallState.CONNECTING:
            return
        if call.settling:
            call.settling = False
            log.info("call %s: media did not come up after its parties came back: once more", due.call_id)
            self.restart(call)
            return
        log.warning("call %s: media did not come up in time", due.call_id)
        self.finish(call, EndReason.SETUP_FAILED)

    # ------------------------------------------------------------------ ending

    def finish(
        self, call: Call, reason: EndReason, *, outcome: str | None = None, note: str | None = None
    ) -> None:
        """End a call that had an officer: the officer goes to wrap-up. A one-stop case (おくやみ) whose
        checklist has more departments does not end: the resident goes on to the next one."""
        try:
            decisions = self._router.call_finished(call.call_id, outcome=outcome, note=note)
        except RouterError as exc:
            log.warning("call %s: %s", call.call_id, exc)
            decisions = []
        advance = next(
            (d.to_department for d in decisions if isinstance(d, CaseAdvanced) and d.to_department), None
        )
        if advance is not None and reason is EndReason.COMPLETED and call.state is CallState.IN_CALL:
            self._advance_case(call, advance)
            self.apply(decisions)
            return
        self.end(call, reason)
        self.apply(decisions)
        self.forget_in_router(call.call_id)

    def _advance_case(self, call: Call, to_department: str) -> None:
        officer = call.record.officer
        call.move(CallState.QUEUED, self._clock())
        call.record.department = to_department
        self._store.save_call(call.record)
        if officer:
            self._release_officer(call, officer)
        caller = self._roster.caller_of(call)
        if caller is not None:
            caller.send(
                p.CallTransferred(call_id=call.call_id, to_department=to_department, note="", warm=False)
            )

    def end(self, call: Call, reason: EndReason) -> None:
        if call.state is CallState.ENDED:
            return
        self._timers.cancel(SetupTimeout.key_of(call.call_id))
        self._rings.pop(call.call_id, None)
        call.move(CallState.ENDED, self._clock(), reason=reason)
        self._store.save_call(call.record)
        ended = p.CallEnded(call_id=call.call_id, reason=reason)
        self._roster.send_parties(call, ended)
        now = self._clock()
        for client in (self._roster.caller_of(call), self._roster.officer_of(call)):
            if client is not None:
                client.last_end = (call.call_id, now)
        # A party inside its reconnect grace hears about the end when it comes back.
        parties = [(caller_role(call.record), call.record.kiosk_id)]
        if call.record.officer:
            parties.append((Role.OFFICER, call.record.officer))
        for role, identity in parties:
            if self._timers.pending(GraceEnds.key_of(role, identity)):
                self._roster.missed.setdefault((role, identity), []).append(ended)
        if call.record.officer:
            self._audit.add(
                call.record.officer,
                "call_ended",
                call.call_id,
                {"reason": reason.value, "outcome": call.record.outcome},
            )
        for client in (self._roster.caller_of(call), self._roster.officer_of(call)):
            if client is not None:
                client.calls.discard(call.call_id)
        del self._calls[call.call_id]
        self.queue_dirty = True
        event = {"call_id": call.call_id, "reason": reason.value, "outcome": call.record.outcome}
        self._events.emit("call_ended", event)  # the outcome too: the monitor needs no database read

    def forget_in_router(self, call_id: str) -> None:
        """A call the switchboard ended for good must not live on in the router (e.g. a warm transfer
        still queued elsewhere when the kiosk left): it would ring officers for nobody."""
        try:
            self._router.call_info(call_id)
        except RouterError:
            return
        log.warning("call %s ended but the router still held it; removing it", call_id)
        with contextlib.suppress(RouterError):
            self.apply(self._router.leave(call_id))

    def _release_officer(self, call: Call, officer_id: str) -> None:
        """Tell an officer the resident went on elsewhere; the call itself continues."""
        officer = self._roster.officers.get(officer_id)
        if officer is not None:
            officer.calls.discard(call.call_id)
            officer.send(p.CallEnded(call_id=call.call_id, reason=EndReason.TRANSFERRED))

    def _notes(self, call_id: str) -> list[str]:
        try:
            notes = self._router.call_info(call_id).get("notes", [])
        except RouterError:
            return []
        return [f"{n.get('from_department', '')}: {n.get('note', '')}"[:4000] for n in notes][-20:]
