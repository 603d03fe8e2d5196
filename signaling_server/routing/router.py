"""The queue router: officer states, department queues and offers, as pure logic.

State in, decisions out: every public method takes an event, updates the router's state and returns
the list of decisions the server must apply (ring an officer, withdraw a ring, connect, push queue
positions...). The clock is injected; there is no asyncio and no I/O here. The server sleeps until
`next_deadline()` and then calls `tick()`.

`Router` is the facade: it owns the records and hands each part its collaborators when it is built —
`Officers` (states, pools), `Offers` (matching, rings), `Queues` (queues, rejoin places), `Positions`
(queue positions and estimates), `Transfers` (transfers, one-stop cases), `Restart` (snapshot, held
calls) and `Reports` (queries) — then sequences them for each event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.schema import AppConfig, CounterKind, Department
from signaling_server.deadlines import DeadlineHeap
from signaling_server.routing.aftercall import AfterCall
from signaling_server.routing.appointments import Appointments
from signaling_server.routing.claims import AppointmentClaim, Reservations
from signaling_server.routing.decisions import (
    CallerRemoved,
    Connect,
    Decision,
    DepartmentStatus,
    JoinRefused,
    QueuePosition,
    RouterError,
)
from signaling_server.routing.offers import Offers
from signaling_server.routing.officers import Officers
from signaling_server.routing.positions import MOVED_PUSH_S, Positions, check_limits
from signaling_server.routing.queues import ParkKey, Queues
from signaling_server.routing.records import (
    HEAD,
    MAX_NOTE_CHARS,
    NORMAL,
    Caller,
    Dept,
    Officer,
    Parked,
    build_departments,
    check_id,
    present,
)
from signaling_server.routing.reports import Reports
from signaling_server.routing.restart import Restart
from signaling_server.routing.snapshot import QueueSnapshot
from signaling_server.routing.states import AWAY_REASONS, OfficerState, SkillLevel
from signaling_server.routing.stats import DayBook
from signaling_server.routing.timers import (
    Deadline,
    DeadlineHandler,
    DeadlineTable,
    HeldExpires,
    OverflowCheck,
    ParkExpires,
    PositionPush,
    ReservationEnds,
    RingTimeout,
    SlotDue,
    WrapUpEnds,
)
from signaling_server.routing.transfers import Transfers


class Router(AfterCall):
    """Skills-based queue router for the departments of one city."""

    def __init__(
        self,
        departments: Sequence[Department],
        *,
        clock: Callable[[], float] = time.time,
        max_unanswered: int = 2,
        rejoin_grace_s: float = 120.0,
        position_push_s: float = 15.0,
        position_moved_s: float = 0.0,
        tz: str = "Asia/Tokyo",
        default_handle_s: float = 300.0,
        handle_window: int = 50,
        history_days: int = 31,
        not_remote: Collection[str] = (),
    ) -> None:
        check_limits(max_unanswered, rejoin_grace_s, position_push_s, position_moved_s)
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {tz!r}") from exc
        self._clock = clock
        self._grace = rejoin_grace_s
        # Departments the city lists without a remote counter (from_config leaves them out of routing):
        # join refuses them as "not_remote" rather than "unknown_department".
        self._not_remote = frozenset(not_remote)
        self._deps = build_departments(departments, zone, handle_window, default_handle_s)
        self._calls: dict[str, Caller] = {}
        self._officers: dict[str, Officer] = {}
        parked: dict[ParkKey, Parked] = {}
        reservations = Reservations()
        self._book = DayBook(zone, history_days)
        # Liveness goes through the deadline table built below; nothing is pushed before it exists.
        self._timers = DeadlineHeap[Deadline](self._deadline_live)
        self._positions = Positions(
            self._deps, self._timers, position_push_s, moved_s=position_moved_s, clock=clock
        )
        self._states = Officers(self._deps, self._officers, self._book)
        self._queues = Queues(
            self._deps,
            self._officers,
            parked,
            self._positions,
            self._book,
            self._timers,
            tz=zone,
            grace_s=rejoin_grace_s,
            reservations=reservations,
        )
        self._offers = Offers(
            self._deps, self._calls, self._officers, self._states, self._book, self._timers, max_unanswered,
            reservations,
        )  # fmt: skip
        self._appointments = Appointments(
            self._deps, self._calls, self._officers, reservations, self._queues, self._offers, self._book,
            self._timers,
        )  # fmt: skip
        self._transfers = Transfers(self._deps, self._queues, self._offers, self._book)
        self._restart = Restart(
            self._deps,
            self._calls,
            self._officers,
            parked,
            self._book,
            self._timers,
            states=self._states,
            queues=self._queues,
            offers=self._offers,
            positions=self._positions,
            grace_s=rejoin_grace_s,
        )
        self._reports = Reports(
            self._deps, self._calls, self._officers, self._positions, self._book, zone, reservations
        )
        self._on_deadline = self._deadline_table()
        self._now()

    def _deadline_table(self) -> DeadlineTable:
        """One table: what each kind of deadline checks before it fires, and what it does then."""
        return {
            RingTimeout: DeadlineHandler(self._offers.ring_live, self._offers.ring_due),
            WrapUpEnds: DeadlineHandler(self._offers.wrap_live, self._offers.wrap_due),
            OverflowCheck: DeadlineHandler(self._offers.overflow_live, self._offers.overflow_due),
            PositionPush: DeadlineHandler(self._positions.push_live, self._positions.push_due),
            HeldExpires: DeadlineHandler(self._restart.held_live, self._restart.held_due),
            ParkExpires: DeadlineHandler(self._queues.park_live, self._queues.park_due),
            SlotDue: DeadlineHandler(self._appointments.slot_live, self._appointments.slot_due),
            ReservationEnds: DeadlineHandler(
                self._appointments.reservation_live, self._appointments.reservation_due
            ),
        }

    @classmethod
    def from_config(cls, config: AppConfig, *, clock: Callable[[], float] = time.time) -> Router:
        """The router exactly as the server builds it: the departments with a remote counter, the
        server's limits and expected handle time, the city's time zone."""
        return cls(
            [d for d in config.departments if d.remote],
            clock=clock,
            max_unanswered=config.server.max_unanswered_offers,
            rejoin_grace_s=config.server.rejoin_grace_s,
            position_push_s=config.server.position_push_s,
            position_moved_s=MOVED_PUSH_S,
            default_handle_s=config.server.expected_handle_s,
            tz=config.city.timezone,
            not_remote=[d.id for d in config.departments if not d.remote],
        )

    # ------------------------------------------------------------------ officers

    def officer_online(self, officer_id: str, skills: Mapping[str, SkillLevel | str]) -> list[Decision]:
        """The officer connected (→ AVAILABLE, may ring at once), or updated the departments it serves.

        An officer already online keeps its state and gets the new skills. An officer whose call was
        held across a server restart goes straight back IN_CALL with it.
        """
        check_id("officer_id", officer_id)
        parsed = self._states.parse_skills(skills)
        now = self._now()
        out: list[Decision] = []
        officer = self._officers.get(officer_id)
        if officer is None:
            primary, secondary, levels = parsed
            officer = self._officers[officer_id] = Officer(officer_id, levels, primary, secondary)
        elif officer.state is not OfficerState.OFFLINE:
            self._states.change_skills(officer, parsed)
            if officer.state is OfficerState.AVAILABLE:
                self._offers.match_officer(officer, now, out)
            return self._positions.flush(out)
        else:
            officer.primary, officer.secondary, officer.skills = parsed
        officer.unanswered = 0
        if not self._restart.resume(officer, now, out):
            self._offers.make_available(officer, None, now, out)
        return self._positions.flush(out)

    def officer_offline(self, officer_id: str) -> list[Decision]:
        """The officer's connection dropped: its ring is withdrawn and re-offered; a caller in a call
        with it goes back to the head of the queue with its original join time."""
        officer = self._officers.get(officer_id)
        now = self._now()
        out: list[Decision] = []
        if officer is None or officer.state is OfficerState.OFFLINE:
            return out
        reoffer: list[Caller] = []
        if officer.state is OfficerState.RINGING:
            caller = self._calls[present(officer.ringing_call)]
            officer.ringing_call = None
            caller.ringing.discard(officer_id)
            if not caller.ringing:
                self._offers.ring_stopped(caller)
                reoffer.append(caller)
        elif officer.state is OfficerState.IN_CALL:
            caller = self._calls[present(officer.call)]
            officer.call = None
            officer.busy_completed = False
            caller.officer = None
            if not caller.queued:
                self._queues.requeue(caller, "officer_offline", now, out)
                reoffer.append(caller)
            caller.officer_department = None
        self._states.set_state(officer, OfficerState.OFFLINE, "disconnected", now, out)
        for caller in reoffer:
            if caller.queued and self._deps[caller.department].queue.is_pending(caller.call_id):
                self._offers.ring_caller(caller, now, out)
        return self._positions.flush(out)

    def set_available(self, officer_id: str) -> list[Decision]:
        """Back from away, or wrap-up ended early. Resets the unanswered-offer count."""
        officer = self._states.get(officer_id)
        now = self._now()
        out: list[Decision] = []
        if officer.state is OfficerState.AVAILABLE:
            return out
        if officer.state not in (OfficerState.AWAY, OfficerState.WRAP_UP):
            raise RouterError(
                f"officer {officer_id!r} is {officer.state.value}: only an officer who is away or in "
                "wrap-up can become available"
            )
        officer.unanswered = 0
        self._offers.make_available(officer, None, now, out)
        return self._positions.flush(out)

    def set_away(self, officer_id: str, reason: str) -> list[Decision]:
        """Away with a reason: "break" (休憩), "counter" (窓口対応中) or "meeting" (会議).

        A ringing officer declines the offer first. An officer in a call must end it first.
        """
        if reason not in AWAY_REASONS:
            raise RouterError(f"away reason must be one of {sorted(AWAY_REASONS)}, not {reason!r}")
        officer = self._states.get(officer_id)
        now = self._now()
        out: list[Decision] = []
        if officer.state in (OfficerState.OFFLINE, OfficerState.IN_CALL):
            raise RouterError(f"officer {officer_id!r} is {officer.state.value} and cannot go away now")
        if officer.state is OfficerState.RINGING:
            caller = self._calls[present(officer.ringing_call)]
            self._offers.drop_ring(officer, caller, "declined", out)
            self._states.set_state(officer, OfficerState.AWAY, reason, now, out)
            self._offers.reoffer_if_pending(caller, now, out)
        else:
            self._states.set_state(officer, OfficerState.AWAY, reason, now, out)
        return self._positions.flush(out)

    # ------------------------------------------------------------------ callers

    def join(
        self,
        call_id: str,
        department: str,
        *,
        kiosk_id: str = "",
        info: Mapping[str, Any] | None = None,
        joined_at: float | None = None,
        head: bool = False,
        checklist: Sequence[str] | None = None,
        appointment: AppointmentClaim | None = None,
    ) -> list[Decision]:
        """Put a caller in a department's queue. Raises JoinRefused (closed, last join passed, full...).

        `appointment`: a resident who checked in for a booking (see `routing/appointments.py`): it waits
        for its slot when early, then goes ahead of walk-ins and rings its booked officer first; the
        booking service has already checked the hours, so no admission check applies.

        A caller from the same kiosk and department who left less than `rejoin_grace_s` ago gets back
        its place (original join time and priority) even after closing time. `head=True` (a caller the
        server re-queues) goes to the head and skips the hours and length checks. `checklist` gives the
        departments of a one-stop case (default: the department's one_stop_departments).
        """
        check_id("call_id", call_id)
        if call_id in self._calls:
            raise RouterError(f"call {call_id!r} is already known to the router")
        dep = self._deps.get(department)
        if dep is None:
            reason = "not_remote" if department in self._not_remote else "unknown_department"
            raise JoinRefused(reason, department)
        if not dep.config.remote:
            raise JoinRefused("not_remote", department)
        now = self._now()
        out: list[Decision] = []
        one_stop = dep.config.kind is CounterKind.ONE_STOP
        if checklist is not None and not one_stop:
            raise RouterError(f"department {department!r} is not a one-stop counter: no checklist")
        if appointment is not None:  # join time: the slot start, which orders it among head callers
            caller = Caller(call_id, department, kiosk_id, dict(info or {}), appointment.slot_start, now)
            caller.case = self._transfers.new_case(dep, checklist) if one_stop else None
            self._calls[call_id] = caller
            self._appointments.arrive(caller, appointment, now, out)
            return self._positions.flush(out)
        stats = self._book.today.department(department)
        parked = self._queues.take_parked(kiosk_id, department, now)
        if parked is not None:
            merged = dict(parked.info)
            merged.update(info or {})
            caller = Caller(call_id, department, kiosk_id, merged, parked.join_time, parked.entered_at)
            caller.notes, caller.case = parked.notes, parked.case
            priority, entered_at = parked.priority, parked.entered_at
            keep_seq: int | None = parked.seq
            stats.rejoined += 1
        else:
            if not head:
                self._queues.check_can_join(dep, now)
            joined = now if joined_at is None else float(joined_at)
            caller = Caller(call_id, department, kiosk_id, dict(info or {}), joined, joined)
            priority, entered_at = (HEAD if head else NORMAL), joined
            keep_seq = None
            if one_stop:
                caller.case = self._transfers.new_case(dep, checklist)
        stats.offered += 1
        self._calls[call_id] = caller
        self._queues.enqueue(caller, department, priority, entered_at, now, seq=keep_seq)
        self._offers.ring_caller(caller, now, out)
        return self._positions.flush(out)

    def leave(self, call_id: str) -> list[Decision]:
        """The caller cancelled while queued or ringing: abandoned (kept for a rejoin within the grace).

        A caller already connected (the kiosk went away) ends its call: the officer goes to wrap-up and a
        one-stop case does not move on. Either way the caller is gone for good (CallerRemoved).
        """
        caller = self._call(call_id)
        now = self._now()
        out: list[Decision] = []
        if not caller.queued:
            if caller.held_officer is not None:
                self._restart.release(caller)
            elif caller.officer is not None:
                self._offers.end_connected(caller, now, out)
            del self._calls[call_id]
            out.append(CallerRemoved(call_id, "cancelled"))
            return self._positions.flush(out)
        dep = self._deps[caller.department]
        stats = self._book.today.department(dep.id)
        waited = now - caller.entered_at
        stats.abandoned += 1
        stats.abandoned_wait_s += waited
        if waited <= dep.config.service_level_s:
            stats.abandoned_within_sl += 1
        freed = self._queues.unqueue(caller, "caller_left", out)
        if caller.officer is not None:  # left during a warm transfer: the first officer's call ends too
            self._offers.end_connected(caller, now, out)
        self._restart.release(caller)
        del self._calls[call_id]
        if caller.kiosk_id and self._grace > 0:
            self._queues.park(caller, now)
        out.append(CallerRemoved(call_id, "cancelled"))
        self._offers.free_officers(freed, now, out)
        return self._positions.flush(out)

    def accept(self, officer_id: str, call_id: str) -> list[Decision]:
        """The officer accepted the offer: Connect; other rings for this caller are withdrawn."""
        officer = self._states.get(officer_id)
        if officer.state is not OfficerState.RINGING or officer.ringing_call != call_id:
            raise RouterError(
                f"officer {officer_id!r} is {officer.state.value} and is not being offered call {call_id!r}"
            )
        caller = self._calls[call_id]
        now = self._now()
        out: list[Decision] = []
        dep = self._deps[caller.department]
        caller.ringing.discard(officer_id)
        officer.ringing_call = None
        freed = self._queues.unqueue(caller, "answered_elsewhere", out)
        stats = self._book.today.department(dep.id)
        waited = now - caller.entered_at
        stats.answered += 1
        stats.answered_wait_s += waited
        if waited <= dep.config.service_level_s:
            stats.answered_within_sl += 1
        self._book.today.officer(officer_id).answered += 1
        if caller.officer is not None:  # warm transfer: the first officer hands over now
            self._offers.end_connected(caller, now, out, reason="transferred")
        caller.officer = officer_id
        caller.officer_department = dep.id
        officer.unanswered = 0
        officer.calls_today += 1
        self._states.start_call(officer, call_id, dep.id, now)
        self._states.set_state(officer, OfficerState.IN_CALL, None, now, out)
        out.append(Connect(call_id, officer_id))
        self._offers.free_officers(freed, now, out)
        return self._positions.flush(out)

    def decline(self, officer_id: str, call_id: str) -> list[Decision]:
        """The officer declined: the caller is offered to the next officer, this one goes to the back."""
        officer = self._states.get(officer_id)
        if officer.state is not OfficerState.RINGING or officer.ringing_call != call_id:
            raise RouterError(
                f"officer {officer_id!r} is {officer.state.value} and is not being offered call {call_id!r}"
            )
        caller = self._calls[call_id]
        now = self._now()
        out: list[Decision] = []
        self._offers.drop_ring(officer, caller, "declined", out)
        officer.unanswered = 0
        self._offers.reoffer_if_pending(caller, now, out)
        self._offers.make_available(officer, None, now, out)
        return self._positions.flush(out)

    def call_finished(
        self, call_id: str, *, outcome: str | None = None, note: str | None = None
    ) -> list[Decision]:
        """The connected call ended: the officer goes to wrap-up (department wrap_up_s).

        For a one-stop case, `outcome`/`note` are recorded for the department that served it and the
        caller moves on to the head of the next pending checklist department.
        """
        caller = self._call(call_id)
        now = self._now()
        out: list[Decision] = []
        if caller.held_officer is not None:  # its officer never came back after a restart
            self._restart.release(caller)
            caller.officer_department = None
            if not caller.queued:  # (queued: a warm transfer was pending; the caller keeps waiting)
                del self._calls[call_id]
            return out
        if caller.officer is None:
            raise RouterError(f"call {call_id!r} is not connected to an officer")
        served = caller.officer_department
        if note is not None and len(note) > MAX_NOTE_CHARS:
            raise RouterError(f"note is longer than {MAX_NOTE_CHARS} characters")
        self._offers.end_connected(caller, now, out)
        if caller.queued:  # a warm transfer is pending: the caller waits in the other department
            return self._positions.flush(out)
        case_moves_on = (
            caller.case is not None
            and served is not None
            and self._transfers.advance_case(caller, served, outcome, note or "", now, out)
        )
        if not case_moves_on:  # done: no one-stop case, or its checklist is complete
            del self._calls[call_id]
        return self._positions.flush(out)

    def requeue(self, call_id: str) -> list[Decision]:
        """Media never came up (or the officer vanished): the caller goes back to the head of its queue."""
        caller = self._call(call_id)
        if caller.officer is None:
            raise RouterError(f"call {call_id!r} is not connected to an officer: nothing to requeue")
        now = self._now()
        out: list[Decision] = []
        officer = self._officers[caller.officer]
        officer.call = None
        officer.busy_completed = False
        caller.officer = None
        if not caller.queued:
            self._queues.requeue(caller, "media_failed", now, out)
            self._offers.ring_caller(caller, now, out)
        caller.officer_department = None
        self._offers.make_available(officer, None, now, out)
        return self._positions.flush(out)

    def transfer(
        self, call_id: str, to_department: str, note: str = "", *, warm: bool = False
    ) -> list[Decision]:
        """Transfer a connected caller to the head of another department's queue, with a note.

        Blind (default): the officer's call ends now. Warm: the officer stays connected until an officer
        of `to_department` accepts (or `cancel_transfer`).
        """
        caller = self._call(call_id)
        return self._positions.flush(self._transfers.transfer(caller, to_department, note, warm, self._now()))

    def cancel_transfer(self, call_id: str) -> list[Decision]:
        """Cancel a pending warm transfer: the caller leaves the other queue and stays with its officer."""
        caller = self._call(call_id)
        return self._positions.flush(self._transfers.cancel(caller, self._now()))

    def set_checklist(self, call_id: str, departments: Sequence[str]) -> dict[str, Any]:
        """Replace the pending departments of a one-stop case (done ones are kept). Returns the case."""
        return self._transfers.set_checklist(self._call(call_id), departments)

    # ------------------------------------------------------------------ time

    def tick(self) -> list[Decision]:
        """Ring timeouts, wrap-up expiry, overflow, held calls expiring and periodic position pushes."""
        now = self._now()
        out: list[Decision] = []
        for entry in self._timers.pop_due(now):
            self._on_deadline[type(entry)].fire(entry, now, out)
        return self._positions.flush(out)

    def next_deadline(self) -> float | None:
        """The earliest time at which tick() has something to do, or None."""
        return self._timers.next_due()

    def _deadline_live(self, entry: Deadline) -> bool:
        return self._on_deadline[type(entry)].is_live(entry)

    # ------------------------------------------------------------------ queries

    def officer_state(self, officer_id: str) -> OfficerState:
        officer = self._officers.get(officer_id)
        return OfficerState.OFFLINE if officer is None else officer.state

    def officer_reason(self, officer_id: str) -> str | None:
        officer = self._officers.get(officer_id)
        return None if officer is None else officer.reason

    def officer_info(self, officer_id: str) -> dict[str, Any]:
        """State, reason, skills, the call it is offered and the call it is in (supervisor views)."""
        return self._reports.officer_info(self._states.get(officer_id))

    def waiting(self, department: str) -> list[str]:
        """Call ids in the department's queue, in service order (callers being offered included)."""
        return self._dep(department).queue.call_ids()

    def position(self, call_id: str) -> QueuePosition | None:
        """The caller's current position and estimate, or None when it is not queued."""
        caller = self._call(call_id)
        if not caller.queued:
            return None
        dep = self._deps[caller.department]
        pos = dep.queue.index(call_id) + 1
        return QueuePosition(call_id, dep.id, pos, self._positions.ewt(dep, pos))

    def call_info(self, call_id: str) -> dict[str, Any]:
        """What the officer's console shows: kiosk, department, caller info, notes and one-stop case."""
        return self._reports.call_info(self._call(call_id))

    def department_status(self, department: str) -> DepartmentStatus:
        dep = self._dep(department)
        return self._reports.department_status(dep, self._now())

    def stats(self, *, officers: bool = True, history: bool = True) -> dict[str, Any]:
        """Live and per-day statistics per department and officer (JSON-serialisable); see
        ``Reports.stats`` for leaving each officer's figures or the past days out."""
        return self._reports.stats(self._now(), officers=officers, history=history)

    # ------------------------------------------------------------------ restart

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to resume after a restart, as JSON (`QueueSnapshot.to_json()`)."""
        return self.queue_snapshot().to_json()

    def queue_snapshot(self) -> QueueSnapshot:
        """Everything needed to resume after a restart, typed."""
        return self._restart.capture(self._now())

    def restore(self, snapshot: QueueSnapshot | Mapping[str, Any]) -> None:
        """Load a snapshot (typed, or its JSON) into a fresh router: every caller keeps its join time and
        priority. Callers that were ringing wait again; callers that were connected are held for their
        officer for `rejoin_grace_s` (officer_online resumes the call) and then go back to the head of
        the queue."""
        if self._calls or self._officers:
            raise RouterError("restore() needs a fresh router: this one already has callers or officers")
        if not isinstance(snapshot, QueueSnapshot):
            snapshot = QueueSnapshot.from_json(snapshot)
        self._restart.restore(snapshot, self._now())

    # ------------------------------------------------------------------ internals

    def _now(self) -> float:
        now = self._clock()
        if now >= self._book.day_end and self._book.roll(now):
            self._states.new_day()
        return now

    def _dep(self, department: str) -> Dept:
        dep = self._deps.get(department)
        if dep is None:
            raise RouterError(f"unknown department {department!r}")
        return dep

    def _call(self, call_id: str) -> Caller:
        caller = self._calls.get(call_id)
        if caller is None:
            raise RouterError(f"unknown call {call_id!r}")
        return caller
