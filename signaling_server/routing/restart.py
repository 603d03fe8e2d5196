"""Restart without loss: the live records into a `QueueSnapshot` and back, and calls held meanwhile.

A call that was connected when the server stopped is held for its officer for `rejoin_grace_s`: the
officer coming back resumes it (IN_CALL, reason "resumed"); otherwise the caller goes back to the head
of its queue (`RequeueCaller(not_resumed)`). An officer that was in wrap-up comes back to what is left of
it (WRAP_UP, reason "resumed"; still held if it was writing the outcome), not available: a new leader of
several nodes restored the queue but rang an officer writing its notes (cluster chaos test).
"""

from __future__ import annotations

from collections.abc import Mapping

from signaling_server.routing.claims import AppointmentClaim
from signaling_server.routing.decisions import Decision, RouterError
from signaling_server.routing.offers import WRAP_HOLD_MAX_S, Offers
from signaling_server.routing.officers import Officers
from signaling_server.routing.positions import Positions
from signaling_server.routing.queues import ParkKey, Queues
from signaling_server.routing.records import Caller, Dept, Officer, Parked, copy_json
from signaling_server.routing.snapshot import CallerSnapshot, ParkedSnapshot, QueueSnapshot
from signaling_server.routing.states import OfficerState
from signaling_server.routing.stats import DailyStats, DayBook
from signaling_server.routing.timers import HeldExpires, SlotDue, Timers, WrapUpEnds


class Restart:
    def __init__(
        self,
        deps: Mapping[str, Dept],
        calls: dict[str, Caller],
        officers: dict[str, Officer],
        parked: Mapping[ParkKey, Parked],
        book: DayBook,
        timers: Timers,
        *,
        states: Officers,
        queues: Queues,
        offers: Offers,
        positions: Positions,
        grace_s: float,
    ) -> None:
        self._deps = deps
        self._calls = calls
        self._officers = officers
        self._parked = parked
        self._states = states
        self._queues = queues
        self._offers = offers
        self._positions = positions
        self._book = book
        self._timers = timers
        self._grace = grace_s
        self._held: dict[str, str] = {}  # officer id -> call id held across a restart
        self._wrap_ups: dict[str, tuple[float, float | None]] = {}  # officer id -> its wrap-up, restored

    # ------------------------------------------------------------------ snapshot

    def capture(self, now: float) -> QueueSnapshot:
        """Everything needed to resume after a restart; copies, so it does not change with the router."""
        return QueueSnapshot(
            saved_at=now,
            callers=tuple(_caller_snapshot(caller) for caller in self._calls.values()),
            parked=tuple(_parked_snapshot(kiosk, dep, p) for (kiosk, dep), p in self._parked.items()),
            today=_copy_stats(self._book.today),
            history=tuple(_copy_stats(day) for day in self._book.history.values()),
            handle_times={dep.id: tuple(dep.handle.samples()) for dep in self._deps.values()},
            calls_today={o.officer_id: o.calls_today for o in self._officers.values()},
            wrap_ups={
                o.officer_id: (o.wrap_ends, o.wrap_left)
                for o in self._officers.values()
                if o.state is OfficerState.WRAP_UP
            },
        )

    def restore(self, snapshot: QueueSnapshot, now: float) -> None:
        """Load a snapshot into a fresh router (the facade checks it is fresh): every caller keeps its
        join time and priority."""
        for record in snapshot.callers:
            for dep_id in (record.department, record.officer_department):
                if dep_id is not None and dep_id not in self._deps:
                    raise RouterError(
                        f"snapshot caller {record.call_id!r} is in department {dep_id!r}, "
                        "which the configuration no longer has"
                    )
        seqs = [c.seq for c in snapshot.callers] + [p.seq for p in snapshot.parked]
        self._queues.continue_seq(max(seqs, default=0))
        for record in sorted(snapshot.callers, key=lambda c: (c.priority, c.join_time, c.seq)):
            self._restore_caller(record, now)
        for p in snapshot.parked:
            if p.department in self._deps:
                self._queues.keep(p.kiosk_id, p.department, _parked_record(p))
        self._restore_stats(snapshot)
        self._wrap_ups = dict(snapshot.wrap_ups)
        self._positions.push_all_now(now)

    def _restore_caller(self, record: CallerSnapshot, now: float) -> None:
        caller = Caller(
            call_id=record.call_id,
            department=record.department,
            kiosk_id=record.kiosk_id,
            info=dict(record.info),
            join_time=record.join_time,
            entered_at=record.entered_at,
            notes=list(record.notes),  # the router appends notes, never changes one
            case=copy_json(record.case),  # the router updates a case in place
        )
        self._calls[caller.call_id] = caller
        if record.appointment is not None:
            caller.appointment = AppointmentClaim.from_json(record.appointment)
            if record.early:  # it waits for its slot again; a queued one keeps its place, unreserved
                caller.early = True
                caller.join_time = caller.appointment.slot_start
                self._timers.push(caller.appointment.slot_start, SlotDue(caller.call_id))
        if record.held:
            assert record.officer is not None
            caller.officer_department = record.officer_department
            caller.held_officer = record.officer
            self._held[record.officer] = caller.call_id
            self._timers.push(now + self._grace, HeldExpires(record.officer, caller.call_id))
        if record.queued:
            self._queues.enqueue(
                caller, caller.department, record.priority, caller.entered_at, now, record.seq
            )
        else:
            caller.priority = record.priority
            caller.seq = record.seq

    def _restore_stats(self, snapshot: QueueSnapshot) -> None:
        book, today = self._book, snapshot.today
        same_day = today is not None and today.date == book.today.date
        if today is not None:
            if same_day:
                book.today = _copy_stats(today)
            else:
                book.history[today.date] = _copy_stats(today)
        for day in snapshot.history:
            book.history.setdefault(day.date, _copy_stats(day))
        for dep_id, samples in snapshot.handle_times.items():
            if dep_id in self._deps:
                for sample in samples:
                    self._deps[dep_id].handle.add(sample)
        if same_day:  # calls answered today order the fewest_calls strategy
            for officer_id, count in snapshot.calls_today.items():
                self._officers.setdefault(officer_id, Officer(officer_id, {}, (), ())).calls_today = count

    # ------------------------------------------------------------------ held calls

    def resume(self, officer: Officer, now: float, out: list[Decision]) -> bool:
        """An officer is back after a restart: IN_CALL with its held call, or WRAP_UP with what was left of
        its wrap-up; False when neither (it becomes available)."""
        call_id = self._held.pop(officer.officer_id, None)
        if call_id is None:
            return self._resume_wrap_up(officer, now, out)
        caller = self._calls[call_id]
        caller.held_officer = None
        caller.officer = officer.officer_id
        self._states.start_call(officer, call_id, caller.officer_department, now)
        self._states.set_state(officer, OfficerState.IN_CALL, "resumed", now, out)
        return True

    def _resume_wrap_up(self, officer: Officer, now: float, out: list[Decision]) -> bool:
        wrap_up = self._wrap_ups.pop(officer.officer_id, None)
        if wrap_up is None:
            return False
        ends, left = wrap_up
        if left is None and ends <= now:
            return False  # it ran out meanwhile
        officer.wrap_gen += 1
        officer.wrap_ends, officer.wrap_left = (
            (now + left + WRAP_HOLD_MAX_S, left) if left is not None else (ends, None)
        )
        self._states.set_state(officer, OfficerState.WRAP_UP, "resumed", now, out)
        self._timers.push(officer.wrap_ends, WrapUpEnds(officer.officer_id, officer.wrap_gen))
        return True

    def release(self, caller: Caller) -> None:
        """The held call ended or its caller left: its officer has nothing to resume."""
        if caller.held_officer is not None:
            self._held.pop(caller.held_officer, None)
            caller.held_officer = None

    def held_live(self, entry: HeldExpires) -> bool:
        return self._held.get(entry.officer_id) == entry.call_id

    def held_due(self, entry: HeldExpires, now: float, out: list[Decision]) -> None:
        del self._held[entry.officer_id]
        caller = self._calls[entry.call_id]
        caller.held_officer = None
        if not caller.queued:
            self._queues.requeue(caller, "not_resumed", now, out)
            self._offers.ring_caller(caller, now, out)
        caller.officer_department = None


def _caller_snapshot(caller: Caller) -> CallerSnapshot:
    return CallerSnapshot(
        call_id=caller.call_id,
        department=caller.department,
        kiosk_id=caller.kiosk_id,
        info=copy_json(caller.info),
        join_time=caller.join_time,
        entered_at=caller.entered_at,
        priority=caller.priority,
        seq=caller.seq,
        queued=caller.queued,
        officer=caller.officer or caller.held_officer,
        officer_department=caller.officer_department,
        notes=copy_json(caller.notes),
        case=copy_json(caller.case),
        appointment=None if caller.appointment is None else caller.appointment.to_json(),
    )


def _parked_snapshot(kiosk_id: str, department: str, parked: Parked) -> ParkedSnapshot:
    return ParkedSnapshot(
        kiosk_id=kiosk_id,
        department=department,
        call_id=parked.call_id,
        join_time=parked.join_time,
        entered_at=parked.entered_at,
        priority=parked.priority,
        info=copy_json(parked.info),
        notes=copy_json(parked.notes),
        case=copy_json(parked.case),
        parked_at=parked.parked_at,
        seq=parked.seq,
    )


def _parked_record(parked: ParkedSnapshot) -> Parked:
    return Parked(
        call_id=parked.call_id,
        join_time=parked.join_time,
        entered_at=parked.entered_at,
        priority=parked.priority,
        info=copy_json(parked.info),
        notes=copy_json(parked.notes),
        case=copy_json(parked.case),
        parked_at=parked.parked_at,
        seq=parked.seq,
    )


def _copy_stats(day: DailyStats) -> DailyStats:
    return day.copy()
