"""Offers: which free officer is offered which waiting caller, rings and their timeouts, officers freed.

Strategies (longest_idle, fewest_calls, ring_all), overflow to secondary officers and autopause after
`max_unanswered` missed rings live here; the queues' order and the officers' pools are kept by
`structures.py` and `officers.py`, so a match is a look at a few heads, never a walk over a queue.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from config.schema import RoutingStrategy
from signaling_server.routing.claims import Reservations
from signaling_server.routing.decisions import Decision, Ring, WithdrawRing
from signaling_server.routing.officers import Officers
from signaling_server.routing.records import NORMAL, Caller, Dept, Officer
from signaling_server.routing.states import NO_ANSWER, OfficerState
from signaling_server.routing.stats import DayBook
from signaling_server.routing.structures import QueueKey
from signaling_server.routing.timers import OverflowCheck, RingTimeout, Timers, WrapUpEnds

# An officer writing a call's outcome holds wrap-up (hold_wrap_up); a forgotten hold ends after this long.
WRAP_HOLD_MAX_S = 600.0


class Offers:
    def __init__(
        self,
        deps: Mapping[str, Dept],
        calls: Mapping[str, Caller],
        officers: Mapping[str, Officer],
        states: Officers,
        book: DayBook,
        timers: Timers,
        max_unanswered: int,
        reservations: Reservations,
    ) -> None:
        self._deps = deps
        self._reservations = reservations
        self._calls = calls
        self._officers = officers
        self._states = states
        self._book = book
        self._timers = timers
        self._max_unanswered = max_unanswered

    # ------------------------------------------------------------------ matching

    def match_officer(self, officer: Officer, now: float, out: list[Decision]) -> None:
        """An available officer takes the best pending caller of its primary departments, or else an
        overflowed caller of its secondary departments. An appointment reserved for it comes first."""
        reserved = self._reservations.first_for(officer.officer_id)
        if reserved is not None and self._calls[reserved].department in officer.skills:
            self.ring_caller(self._calls[reserved], now, out)
            return
        best: QueueKey | None = None
        for dep_id in officer.primary:
            key = self._deps[dep_id].queue.head_pending()
            if key is not None and (best is None or key < best):
                best = key
        if best is None:
            for dep_id in officer.secondary:
                caller = self._overflow_candidate(self._deps[dep_id], now)
                if caller is not None and (best is None or caller.key < best):
                    best = caller.key
        if best is not None:
            self.ring_caller(self._calls[best[3]], now, out)
            return
        self._join_ring_all(officer, now, out)

    def _join_ring_all(self, officer: Officer, now: float, out: list[Decision]) -> None:
        """Ring-all: an officer who becomes free joins the ring of a caller already being offered."""
        best: Caller | None = None
        for dep_id, secondary in itertools.chain(
            ((d, False) for d in officer.primary), ((d, True) for d in officer.secondary)
        ):
            dep = self._deps[dep_id]
            if dep.config.strategy is not RoutingStrategy.RING_ALL:
                continue
            head = dep.queue.head()
            if head is None:
                continue
            caller = self._calls[head[3]]
            if not caller.ringing or caller.ring_deadline <= now or caller.call_id in self._reservations:
                continue
            after = dep.config.overflow_after_s
            if secondary and (after is None or now - caller.entered_at < after):
                continue
            if best is None or caller.key < best.key:
                best = caller
        if best is None:
            return
        best.ringing.add(officer.officer_id)
        self._book.today.department(best.department).rings += 1
        self._states.set_state(officer, OfficerState.RINGING, None, now, out)
        officer.ringing_call = best.call_id
        self._book.today.officer(officer.officer_id).offered += 1
        out.append(
            Ring(
                officer.officer_id,
                best.call_id,
                best.department,
                best.ring_deadline - now,
                now - best.join_time,
            )
        )

    def _overflow_candidate(self, dep: Dept, now: float) -> Caller | None:
        after = dep.config.overflow_after_s
        if after is None:
            return None
        cutoff = now - after
        for key in dep.queue.pending():
            caller = self._calls[key[3]]
            if caller.entered_at <= cutoff:
                return caller
            if key[0] >= NORMAL:
                # Normal callers are sorted by join time, which is their entry time: none later is older.
                return None
        return None

    def overflow_live(self, entry: OverflowCheck) -> bool:
        dep = self._deps[entry.department]
        return bool(len(dep.secondary_pool)) and dep.queue.is_pending(entry.call_id)

    def overflow_due(self, entry: OverflowCheck, now: float, out: list[Decision]) -> None:
        dep = self._deps[entry.department]
        while len(dep.secondary_pool):
            caller = self._overflow_candidate(dep, now)
            if caller is None or not self.ring_caller(caller, now, out):
                return

    # ------------------------------------------------------------------ rings

    def ring_caller(self, caller: Caller, now: float, out: list[Decision]) -> bool:
        """Offer a pending caller to the department's officers according to its strategy; an appointment
        reserved for its booked officer only to that officer, and only when it is available."""
        dep = self._deps[caller.department]
        booked = self._reservations.officer_of(caller.call_id)
        if booked is not None:
            if self._officers[booked].state is not OfficerState.AVAILABLE:
                return False
            dep.queue.mark_pending(caller.call_id)  # set aside until now; offered below to its officer
            self._ring(caller, dep, [booked], now, out)
            return True
        config = dep.config
        after = config.overflow_after_s
        overflowed = after is not None and now - caller.entered_at >= after
        if config.strategy is RoutingStrategy.RING_ALL:
            officers = dep.primary_pool.officers()
            if overflowed:
                officers += [o for o in dep.secondary_pool.officers() if o not in dep.primary_pool]
        else:
            first = dep.primary_pool.first()
            if first is None and overflowed:
                first = dep.secondary_pool.first()
            officers = [] if first is None else [first]
        if not officers:
            return False
        self._ring(caller, dep, officers, now, out)
        return True

    def _ring(self, caller: Caller, dep: Dept, officers: list[str], now: float, out: list[Decision]) -> None:
        config = dep.config
        dep.queue.mark_offered(caller.call_id)
        caller.ring_gen += 1
        caller.ringing = set(officers)
        caller.ring_deadline = now + config.ring_timeout_s
        self._timers.push(now + config.ring_timeout_s, RingTimeout(caller.call_id, caller.ring_gen))
        waited = now - caller.join_time
        self._book.today.department(dep.id).rings += len(officers)
        for officer_id in officers:
            officer = self._officers[officer_id]
            self._states.set_state(officer, OfficerState.RINGING, None, now, out)
            officer.ringing_call = caller.call_id
            self._book.today.officer(officer_id).offered += 1
            out.append(Ring(officer_id, caller.call_id, dep.id, config.ring_timeout_s, waited))

    def drop_ring(self, officer: Officer, caller: Caller, reason: str, out: list[Decision]) -> None:
        """Stop ringing one officer for `caller`; the caller becomes pending when nobody rings any more."""
        officer.ringing_call = None
        caller.ringing.discard(officer.officer_id)
        out.append(WithdrawRing(officer.officer_id, caller.call_id, reason))
        if reason == "declined":
            self._book.today.officer(officer.officer_id).declined += 1
            self._book.today.department(caller.department).declines += 1
        if not caller.ringing:
            self.ring_stopped(caller)

    def ring_stopped(self, caller: Caller) -> None:
        """Nobody rings `caller` any more: it is pending again. A reservation ends with its one offer: the
        booked officer declined, missed it or left, so the department takes the caller."""
        self._reservations.discard(caller.call_id)
        self._deps[caller.department].queue.mark_pending(caller.call_id)

    def reoffer_if_pending(self, caller: Caller, now: float, out: list[Decision]) -> None:
        if caller.queued and not caller.ringing:
            self.ring_caller(caller, now, out)

    def ring_live(self, entry: RingTimeout) -> bool:
        caller = self._calls.get(entry.call_id)
        return caller is not None and caller.ring_gen == entry.ring_gen and bool(caller.ringing)

    def ring_due(self, entry: RingTimeout, now: float, out: list[Decision]) -> None:
        """Nobody answered: the rings are withdrawn, the caller is offered again, and officers who missed
        `max_unanswered` rings in a row go away (no_answer)."""
        caller = self._calls[entry.call_id]
        officers = [self._officers[o] for o in sorted(caller.ringing)]
        for officer in officers:
            self.drop_ring(officer, caller, "timeout", out)
            self._book.today.officer(officer.officer_id).missed += 1
            self._book.today.department(caller.department).ring_timeouts += 1
            officer.unanswered += 1
        self.ring_caller(caller, now, out)
        for officer in officers:
            if officer.unanswered >= self._max_unanswered:
                self._book.today.officer(officer.officer_id).auto_away += 1
                self._states.set_state(officer, OfficerState.AWAY, NO_ANSWER, now, out)
            else:
                self._states.set_state(officer, OfficerState.AVAILABLE, None, now, out)
        for officer in officers:
            if officer.state is OfficerState.AVAILABLE:
                self.match_officer(officer, now, out)

    # ------------------------------------------------------------------ officers freed

    def free_officers(self, officers: list[Officer], now: float, out: list[Decision]) -> None:
        """Officers whose ring was withdrawn become available together, then take waiting callers."""
        for officer in officers:
            self._states.set_state(officer, OfficerState.AVAILABLE, None, now, out)
        for officer in officers:
            if officer.state is OfficerState.AVAILABLE:
                self.match_officer(officer, now, out)

    def make_available(self, officer: Officer, reason: str | None, now: float, out: list[Decision]) -> None:
        self._states.set_state(officer, OfficerState.AVAILABLE, reason, now, out)
        self.match_officer(officer, now, out)

    def end_connected(
        self, caller: Caller, now: float, out: list[Decision], reason: str | None = None
    ) -> None:
        """The officer connected to `caller` finished with it: wrap-up (or available when none)."""
        assert caller.officer is not None
        officer = self._officers[caller.officer]
        caller.officer = None
        caller.officer_department = None
        officer.call = None
        officer.busy_completed = True
        wrap = self._deps[officer.busy_department or caller.department].config.wrap_up_s
        if wrap > 0:
            officer.wrap_gen += 1
            officer.wrap_ends, officer.wrap_left = now + wrap, None
            self._states.set_state(officer, OfficerState.WRAP_UP, reason, now, out)
            self._timers.push(now + wrap, WrapUpEnds(officer.officer_id, officer.wrap_gen))
        else:
            self.make_available(officer, reason, now, out)

    def hold_wrap(self, officer: Officer, hold: bool, now: float) -> None:
        """The officer writes the call's outcome: wrap-up's clock stands still (at most WRAP_HOLD_MAX_S),
        and runs on with the time that was left when released."""
        if hold == (officer.wrap_left is not None):
            return
        officer.wrap_gen += 1  # the pending WrapUpEnds no longer fires
        if hold:
            officer.wrap_left = max(0.0, officer.wrap_ends - now)
            officer.wrap_ends = now + officer.wrap_left + WRAP_HOLD_MAX_S
        else:
            officer.wrap_ends = now + (officer.wrap_left or 0.0)
            officer.wrap_left = None
        self._timers.push(officer.wrap_ends, WrapUpEnds(officer.officer_id, officer.wrap_gen))

    def wrap_live(self, entry: WrapUpEnds) -> bool:
        officer = self._officers[entry.officer_id]
        return officer.state is OfficerState.WRAP_UP and officer.wrap_gen == entry.wrap_gen

    def wrap_due(self, entry: WrapUpEnds, now: float, out: list[Decision]) -> None:
        self.make_available(self._officers[entry.officer_id], "wrap_up_ended", now, out)
