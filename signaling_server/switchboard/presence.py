"""Presence: who is connected, the reconnect grace, what a party missed, and resuming its calls.

A client is attached in two steps: ``attach`` registers it and returns its welcome without sending it
anything; once the welcome is queued, ``resume`` sends what follows (a ring waiting for an officer, where
each of its calls stands), so the welcome always goes first.

Callers are kiosks and businesses alike (``roster.CALLERS``). A finished call's ``call_ended`` is told
again on return only when it may have been lost: not to the party that ended the call itself, and not
when the connection it was written to outlived it by a heartbeat round (``delivered_after_s``: aiohttp
pings every ``ws_heartbeat_s`` and closes a connection whose pong is half that late, so a connection
still open by then has answered a ping written after the ``call_ended``). An officer in wrap-up keeps
it over a reconnect within the grace.
"""

from __future__ import annotations

import logging

from remote_call import protocol as p
from remote_call.protocol import CallState, EndReason, ErrorCode, Role
from signaling_server.routing import Decision, Router, RouterError, SkillLevel
from signaling_server.store import Store
from signaling_server.switchboard.call_table import CallTable
from signaling_server.switchboard.directory import Directory
from signaling_server.switchboard.effects import Effects
from signaling_server.switchboard.observers import Events, Monitor
from signaling_server.switchboard.positions import PositionBatcher
from signaling_server.switchboard.roster import (
    CALLERS,
    PARTIES,
    Client,
    Roster,
    caller_role,
    is_caller_of,
)
from signaling_server.switchboard.timers import EdgeTimers, GraceEnds, PushStats

log = logging.getLogger(__name__)


class Presence:
    def __init__(
        self,
        *,
        router: Router,
        store: Store,
        calls: CallTable,
        roster: Roster,
        directory: Directory,
        effects: Effects,
        positions: PositionBatcher,
        timers: EdgeTimers,
        events: Events,
        monitor: Monitor | None,
        reconnect_grace_s: float,
        delivered_after_s: float,
    ) -> None:
        self._router = router
        self._store = store
        self._calls = calls
        self._roster = roster
        self._directory = directory
        self._effects = effects
        self._positions = positions
        self._timers = timers
        self._events = events
        self._monitor = monitor
        self._clock = timers.clock
        self._grace_s = reconnect_grace_s
        self._delivered_after_s = delivered_after_s
        self._arrivals: dict[
            Client, list[Decision]
        ] = {}  # an officer's first decisions, sent after the welcome
        self._closing = False

    def shutdown(self) -> None:
        """From now on a departing party's calls stay as saved, for the restarted server to resume."""
        self._closing = True

    # ------------------------------------------------------------------ arriving

    def attach(self, client: Client) -> p.Welcome:
        """Register an authenticated client and return its welcome; nothing is sent to it until ``resume``.
        A second connection of the same identity replaces the first."""
        self.register(client)
        return self._welcome(client)

    def register(self, client: Client) -> None:
        """``attach`` without the welcome: for a connection moved from an older term, which has one (at
        20,000 clients a new leader built some 14,000 welcomes to throw away, each with every department's
        live status: 10 % of its busy time in the 25 s after a takeover)."""
        role, identity = client.role, client.identity
        if log.isEnabledFor(logging.DEBUG):  # to follow a chaos run (devtools/cluster_rig.py)
            log.debug("attach %s %s (router: %s)", role.value, identity, self._router_state(identity))
        if role in PARTIES:
            registry = self._roster.registry(role)
            old = registry.get(identity)
            if old is not None and old is not client:
                self.detach(old)
                old.close()
            registry[identity] = client
            self._timers.cancel(GraceEnds.key_of(role, identity))  # back within the grace
            if role is Role.OFFICER and self._router_state(identity) in (None, "offline"):
                skills = {
                    d: SkillLevel(level)
                    for d, level in client.principal.skills.items()
                    if d in self._directory.departments
                }
                self._arrivals[client] = self._router.officer_online(identity, skills)
        else:
            self._roster.watchers.add(client)
            self._timers.at(self._clock(), PushStats())  # a new supervisor sees the numbers at once
        if self._monitor is not None:
            self._monitor.client_attached(role.value, identity, self._clock())
        self._events.emit("attached", {"role": role.value, "identity": identity})

    def _welcome(self, client: Client) -> p.Welcome:
        principal = client.principal
        kiosk = self._directory.kiosk_names.get(client.identity) if principal.role is Role.KIOSK else None
        info = p.KioskInfo(id=kiosk.id, name=kiosk.name, location=kiosk.location) if kiosk else None
        skills = (
            {d: level for d, level in principal.skills.items() if d in self._directory.departments}
            if principal.role is Role.OFFICER
            else {}
        )
        # TURN credentials only for call parties (kiosks, officers, businesses): each call gets its own in
        # call_connecting; these only bridge a reconnect. Supervisors and IT administrators get none.
        party = principal.role in PARTIES
        ice_servers = self._directory.ice_servers(principal.identity) if party else []
        # The account's skill levels are plain strings: validated against the wire's literals.
        return p.Welcome.model_validate(
            {
                "role": principal.role,
                "identity": principal.identity,
                "display_name": kiosk.name if kiosk else principal.display_name,
                "session_token": principal.session_token if principal.role is not Role.KIOSK else None,
                "ice_servers": ice_servers,
                "departments": self._directory.department_infos(),
                "kiosk": info,
                "skills": skills,
                "business": principal.business,
            }
        )

    def resume(self, client: Client) -> None:
        """Give a (re)connected party its live calls back and tell it where each one stands, including
        what happened while it was away too long (its call ended or went back to the queue)."""
        if client.role not in PARTIES:
            return
        # What it missed first: an officer rung before it hears that its last call ended would see the ring
        # on top of a call it still holds (after a leader change: 1 cluster chaos run in about 30).
        for message in self._missed(client):
            client.send(message)
        self._effects.apply(self._arrivals.pop(client, ()))
        is_caller = client.role in CALLERS
        if not is_caller:
            state = self._router_state(client.identity)
            if state is not None:
                reason = self._router.officer_reason(client.identity)
                client.send(p.OfficerState.model_validate({"state": state, "reason": reason}))
        for call in self._calls.of(client.identity):  # its calls only, not every live call
            mine = is_caller_of(client, call.record) if is_caller else call.record.officer == client.identity
            if not mine:
                continue
            known = call.call_id in client.calls  # this connection heard of it already (a sync_call)
            client.calls.add(call.call_id)
            if call.state in (CallState.QUEUED, CallState.RINGING) and is_caller:
                if call.record.answered_at is not None:
                    client.send(p.CallRequeued(call_id=call.call_id))  # drop any media it still holds
                position = self._router.position(call.call_id)
                if position is not None:
                    self._positions.place(position, immediate=True)
            elif call.state is CallState.CONNECTING:
                # Half-made media cannot be trusted: both sides start afresh, once both are here and once
                # per connection. A restart per resume (and again on the sync_call that follows it) sent
                # up to four in a row; the offers of one crossed the sessions of the next and both sides
                # waited for ever (setup_failed after nearly every failover in the cluster chaos test).
                if not known and self._roster.peer_of(call, client) is not None:
                    call.settling = True
                    self._effects.restart(call)
            elif call.state is CallState.IN_CALL:
                # Media is peer to peer and probably still flowing; a party that lost its session
                # (app restarted) answers with restart_media.
                client.send(p.CallStarted(call_id=call.call_id))

    def _missed(self, client: Client) -> list[p.Wire]:
        """What the party must hear again: ends it was told while away, and its latest call's end if that
        was written into a connection that was already dead."""
        party = (client.role, client.identity)
        missed = self._roster.missed.pop(party, [])
        last = self._roster.last_call.get(party)
        if last is None or last in self._calls:
            return missed
        del self._roster.last_call[party]
        record = self._store.call(last)
        if (
            record is not None
            and record.state == "ended"
            and record.end_reason
            and not any(getattr(m, "call_id", None) == last for m in missed)
        ):
            reason = EndReason(record.end_reason)
            if client.role is Role.OFFICER and record.officer != client.identity:
                reason = EndReason.REQUEUED
            missed.append(p.CallEnded(call_id=last, reason=reason))
        return missed

    def _router_state(self, officer_id: str) -> str | None:
        try:
            return self._router.officer_state(officer_id).value
        except RouterError:
            return None

    # ------------------------------------------------------------------ leaving

    def detach(self, client: Client) -> None:
        """The connection is gone. A party with a call in progress gets the reconnect grace to come back;
        after it (or at once when there is nothing to resume) nobody may be left stuck because of it."""
        role, identity = client.role, client.identity
        log.debug("detach %s %s", role.value, identity)
        self._arrivals.pop(client, None)  # gone before its welcome was sent
        if role in PARTIES:
            registry = self._roster.registry(role)
            if registry.get(identity) is not client:
                return
            del registry[identity]
            self._note_delivery(client)
            live = [c for c in client.calls if c in self._calls]
            if role is Role.OFFICER:
                live = [c for c in live if self._calls[c].state in (CallState.CONNECTING, CallState.IN_CALL)]
                # Wrap-up is the officer's time for notes: a reconnect within the grace must not end it.
                live = live or [s for s in [self._router_state(identity)] if s == "wrap_up"]
            if self._closing:
                pass  # shutting down: every call stays as saved, for the restarted server to resume
            elif live and self._grace_s > 0:
                self._timers.after(self._grace_s, GraceEnds(role, identity))
            else:
                self._gone(role, identity)
        else:
            self._roster.watchers.discard(client)
        if self._monitor is not None:
            self._monitor.client_detached(role.value, identity, self._clock())
        self._events.emit("detached", {"role": role.value, "identity": identity})

    def _note_delivery(self, client: Client) -> None:
        """The party's last call_ended was delivered if its connection outlived it by a heartbeat round:
        it is then not told again on return."""
        if client.last_end is None:
            return
        call_id, written_at = client.last_end
        party = (client.role, client.identity)
        if (
            self._clock() - written_at >= self._delivered_after_s
            and self._roster.last_call.get(party) == call_id
        ):
            del self._roster.last_call[party]

    def remove(self, role: Role, identity: str, detail: str) -> None:
        """Sign a caller out for good (a business whose invitation was revoked or whose window closed): its
        connection is told why and closed, and its calls end now, without a reconnect grace."""
        client = self._roster.registry(role).get(identity)
        if client is not None:
            client.send(p.Error(code=ErrorCode.UNAUTHENTICATED, detail=detail))
            self.detach(client)
            client.close()
        self._timers.cancel(GraceEnds.key_of(role, identity))
        self._gone(role, identity)

    def grace_ended(self, due: GraceEnds) -> None:
        self._gone(due.role, due.identity)

    def _gone(self, role: Role, identity: str) -> None:
        """A party did not come back: end or requeue what depended on it."""
        if role is Role.OFFICER:
            if identity not in self._roster.officers:
                held = [
                    c.call_id
                    for c in self._calls.of(identity)
                    if c.record.officer == identity and c.state in (CallState.CONNECTING, CallState.IN_CALL)
                ]
                self._effects.apply(self._router.officer_offline(identity))
                self._roster.missed[(role, identity)] = [
                    p.CallEnded(call_id=c, reason=EndReason.REQUEUED) for c in held
                ]
            return
        if identity in self._roster.registry(role):
            return
        # Its own calls by the table's index: graces ending together (a failover's herd) each looked at every
        # live call, 0.9 ms at 15,000 calls here (7 s for 8,000 departures, before their records' writes); a
        # new leader's loop ran nothing for 12.3 s in a tick of them (20,000-kiosk run AC, performance.md).
        mine = [
            c
            for c in self._calls.of(identity)
            if c.record.kiosk_id == identity and caller_role(c.record) is role
        ]
        self._roster.missed[(role, identity)] = [
            p.CallEnded(call_id=c.call_id, reason=EndReason.KIOSK_DISCONNECTED) for c in mine
        ]
        for call in mine:
            if call.state in (CallState.QUEUED, CallState.RINGING):
                decisions = self._router.leave(call.call_id)
                self._effects.end(
                    call, EndReason.KIOSK_DISCONNECTED
                )  # before the router's "cancelled" applies
                self._effects.apply(decisions)
            else:
                self._effects.finish(call, EndReason.KIOSK_DISCONNECTED)
