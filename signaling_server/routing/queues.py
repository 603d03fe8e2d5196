"""Queues: callers in and out of department queues, admission checks, and rejoin places."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping

from signaling_server.routing.claims import Reservations
from signaling_server.routing.decisions import Decision, JoinRefused, RequeueCaller, WithdrawRing
from signaling_server.routing.positions import Positions
from signaling_server.routing.records import HEAD, Caller, Dept, Officer, Parked
from signaling_server.routing.stats import DayBook
from signaling_server.routing.timers import OverflowCheck, ParkExpires, Timers

ParkKey = tuple[str, str]  # (kiosk id, department)


class Queues:
    def __init__(
        self,
        deps: Mapping[str, Dept],
        officers: Mapping[str, Officer],
        parked: dict[ParkKey, Parked],
        positions: Positions,
        book: DayBook,
        timers: Timers,
        *,
        tz: dt.tzinfo,
        grace_s: float,
        reservations: Reservations,
    ) -> None:
        self._deps = deps
        self._reservations = reservations
        self._officers = officers
        self._parked = parked
        self._positions = positions
        self._book = book
        self._timers = timers
        self._tz = tz
        self._grace = grace_s
        self._seq = itertools.count()  # ties between equal join times: first queued, first served

    def check_can_join(self, dep: Dept, now: float) -> None:
        check = dep.calendar.check(dt.datetime.fromtimestamp(now, self._tz))
        if not check.open:
            raise JoinRefused("closed", dep.id, check.next_open)
        if not check.can_join:
            raise JoinRefused("last_join_passed", dep.id, check.next_open)
        if len(dep.queue) >= dep.config.max_queue:
            raise JoinRefused("queue_full", dep.id)

    def enqueue(
        self,
        caller: Caller,
        department: str,
        priority: int,
        entered_at: float,
        now: float,
        seq: int | None = None,
    ) -> None:
        dep = self._deps[department]
        caller.department = department
        caller.priority = priority
        caller.entered_at = entered_at
        caller.seq = next(self._seq) if seq is None else seq
        caller.queued = True
        caller.ringing = set()
        index = dep.queue.add(caller.key)
        self._positions.joined(department, index, caller.call_id)
        if dep.config.overflow_after_s is not None:
            self._timers.push(
                entered_at + dep.config.overflow_after_s, OverflowCheck(department, caller.call_id)
            )
        if len(dep.queue) == 1:
            self._positions.schedule(dep, now)

    def continue_seq(self, after: int) -> None:
        """After a restore: new callers are numbered after every restored one."""
        self._seq = itertools.count(after + 1)

    def unqueue(self, caller: Caller, reason: str, out: list[Decision]) -> list[Officer]:
        """Take a caller out of its queue; rings for it are withdrawn. Returns the officers freed."""
        dep = self._deps[caller.department]
        freed = []
        for officer_id in sorted(caller.ringing):
            officer = self._officers[officer_id]
            officer.ringing_call = None
            out.append(WithdrawRing(officer_id, caller.call_id, reason))
            freed.append(officer)
        caller.ringing = set()
        self._reservations.discard(caller.call_id)
        index = dep.queue.remove(caller.call_id)
        caller.queued = False
        self._positions.moved(dep.id, index)
        return freed

    def requeue(self, caller: Caller, reason: str, now: float, out: list[Decision]) -> None:
        """A connected caller goes back to the head of the queue it was served for."""
        department = caller.officer_department or caller.department
        self._book.today.department(department).requeued += 1
        entered = caller.entered_at if department == caller.department else now
        self.enqueue(caller, department, HEAD, entered, now)
        out.append(RequeueCaller(caller.call_id, department, reason))

    # ------------------------------------------------------------------ rejoin places

    def take_parked(self, kiosk_id: str, department: str, now: float) -> Parked | None:
        """The place a caller from this kiosk left within the grace, if any (it is given back once)."""
        parked = self._parked.get((kiosk_id, department)) if kiosk_id else None
        if parked is None or now - parked.parked_at > self._grace:
            return None
        del self._parked[(kiosk_id, department)]
        return parked

    def park(self, caller: Caller, now: float) -> None:
        self.keep(
            caller.kiosk_id,
            caller.department,
            Parked(
                caller.call_id,
                caller.join_time,
                caller.entered_at,
                caller.priority,
                caller.info,
                caller.notes,
                caller.case,
                now,
                caller.seq,
            ),
        )

    def keep(self, kiosk_id: str, department: str, parked: Parked) -> None:
        """Keep a place for `rejoin_grace_s` from when it was left."""
        self._parked[(kiosk_id, department)] = parked
        self._timers.push(parked.parked_at + self._grace, ParkExpires(kiosk_id, department, parked.parked_at))

    def park_live(self, entry: ParkExpires) -> bool:
        parked = self._parked.get((entry.kiosk_id, entry.department))
        return parked is not None and parked.parked_at == entry.parked_at

    def park_due(self, entry: ParkExpires, now: float, out: list[Decision]) -> None:
        del self._parked[(entry.kiosk_id, entry.department)]
