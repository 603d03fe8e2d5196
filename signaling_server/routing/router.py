"""The queue router: officer states, department queues and offers, as pure logic.

State in, decisions out: every public method takes an event, updates the router's state and returns
the list of decisions the server must apply (ring an officer, withdraw a ring, connect, push queue
positions...). The clock is injected; there is no asyncio and no I/O here. The server sleeps until
`next_deadline()` and then calls `tick()`.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.schema import AppConfig, CounterKind, Department, RoutingStrategy
from signaling_server.routing.decisions import (
    CallerRemoved,
    CaseAdvanced,
    Connect,
    Decision,
    DepartmentStatus,
    JoinRefused,
    KeepWithOfficer,
    OfficerStateChanged,
    QueuePosition,
    RequeueCaller,
    Ring,
    RouterError,
    TransferCaller,
    WithdrawRing,
)
from signaling_server.routing.estimate import HandleTimes, estimate_wait
from signaling_server.routing.hours import Calendar
from signaling_server.routing.states import (
    ALLOWED_TRANSITIONS,
    AWAY_REASONS,
    FREE_STATES,
    NO_ANSWER,
    SERVING_STATES,
    OfficerState,
    SkillLevel,
)
from signaling_server.routing.stats import DailyStats
from signaling_server.routing.structures import DepartmentQueue, OfficerPool, QueueKey

SNAPSHOT_VERSION = 1
HEAD = 0  # priority of transferred, requeued and one-stop callers
NORMAL = 1
MAX_NOTE_CHARS = 4000
_BUSY = (OfficerState.IN_CALL, OfficerState.WRAP_UP)


@dataclass(slots=True, eq=False)
class _Caller:
    call_id: str
    department: str  # the queue it is (or was last) in
    kiosk_id: str
    info: dict[str, Any]
    join_time: float  # original join time: orders callers within a priority
    entered_at: float  # when it entered this department's queue: waits, overflow
    priority: int = NORMAL
    seq: int = 0
    queued: bool = False
    ringing: set[str] = field(default_factory=set)
    ring_gen: int = 0
    ring_deadline: float = 0.0
    officer: str | None = None  # the officer it is connected to
    officer_department: str | None = None  # the department that officer serves it for
    held_officer: str | None = None  # connected before a restart, waiting for the officer to come back
    notes: list[dict[str, Any]] = field(default_factory=list)
    case: dict[str, Any] | None = None

    @property
    def key(self) -> QueueKey:
        return (self.priority, self.join_time, self.seq, self.call_id)


@dataclass(slots=True, eq=False)
class _Officer:
    officer_id: str
    skills: dict[str, SkillLevel]
    primary: tuple[str, ...]
    secondary: tuple[str, ...]
    state: OfficerState = OfficerState.OFFLINE
    reason: str | None = None
    idle_since: float = 0.0
    ringing_call: str | None = None
    call: str | None = None
    unanswered: int = 0
    calls_today: int = 0
    wrap_gen: int = 0
    busy_since: float | None = None
    busy_department: str | None = None
    busy_completed: bool = False


@dataclass(slots=True, eq=False)
class _Parked:
    """A caller who left, kept for `rejoin_grace_s` so a rejoin from the same kiosk keeps its place."""

    call_id: str
    join_time: float
    entered_at: float
    priority: int
    info: dict[str, Any]
    notes: list[dict[str, Any]]
    case: dict[str, Any] | None
    parked_at: float
    seq: int = 0


class _Dept:
    __slots__ = (
        "calendar",
        "capacity",
        "config",
        "free",
        "handle",
        "id",
        "primary_pool",
        "push_gen",
        "queue",
        "secondary_pool",
    )

    def __init__(self, config: Department, tz: dt.tzinfo, handle: HandleTimes) -> None:
        self.id = config.id
        self.config = config
        self.calendar = Calendar(config.hours, tz)
        self.queue = DepartmentQueue()
        self.primary_pool = OfficerPool()
        self.secondary_pool = OfficerPool()
        self.handle = handle
        self.capacity: dict[int, int] = {}  # k -> officers serving k departments as primary
        self.free = 0  # primary officers available or ringing
        self.push_gen = 0

    def capacity_value(self) -> float:
        return sum(count / k for k, count in self.capacity.items())


class Router:
    """Skills-based queue router for the departments of one city."""

    def __init__(
        self,
        departments: Sequence[Department],
        *,
        clock: Callable[[], float] = time.time,
        max_unanswered: int = 2,
        rejoin_grace_s: float = 120.0,
        position_push_s: float = 15.0,
        tz: str = "Asia/Tokyo",
        default_handle_s: float = 300.0,
        handle_window: int = 50,
        history_days: int = 31,
    ) -> None:
        if max_unanswered < 1:
            raise ValueError(f"max_unanswered must be at least 1, not {max_unanswered}")
        if rejoin_grace_s < 0:
            raise ValueError(f"rejoin_grace_s must not be negative, not {rejoin_grace_s}")
        if position_push_s <= 0:
            raise ValueError(f"position_push_s must be positive, not {position_push_s}")
        try:
            self._tz = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {tz!r}") from exc
        self._clock = clock
        self._max_unanswered = max_unanswered
        self._grace = rejoin_grace_s
        self._push_s = position_push_s
        self._history_days = history_days
        self._deps: dict[str, _Dept] = {}
        for dep in departments:
            if not isinstance(dep, Department):
                raise TypeError(f"departments must be config.schema.Department, not {type(dep).__name__}")
            if dep.id in self._deps:
                raise ValueError(f"department {dep.id!r} is given twice")
            self._deps[dep.id] = _Dept(dep, self._tz, HandleTimes(handle_window, default_handle_s))
        for dep in departments:
            for other in dep.one_stop_departments:
                if other not in self._deps:
                    raise ValueError(f"department {dep.id!r}: one_stop_departments names unknown {other!r}")
        self._calls: dict[str, _Caller] = {}
        self._officers: dict[str, _Officer] = {}
        self._parked: dict[tuple[str, str], _Parked] = {}
        self._held: dict[str, str] = {}  # officer id -> call id held across a restart
        self._heap: list[tuple[float, int, str, str, Any]] = []
        self._seq = itertools.count()
        self._dirty: dict[str, int] = {}
        self._history: dict[str, DailyStats] = {}
        self._today = DailyStats(date="")
        self._day_end = -math.inf
        self._now()

    @classmethod
    def from_config(cls, config: AppConfig, *, clock: Callable[[], float] = time.time) -> Router:
        """A router for a whole city configuration: its departments, server limits and time zone."""
        return cls(
            config.departments,
            clock=clock,
            max_unanswered=config.server.max_unanswered_offers,
            rejoin_grace_s=config.server.rejoin_grace_s,
            position_push_s=config.server.position_push_s,
            tz=config.city.timezone,
        )

    # ------------------------------------------------------------------ officers

    def officer_online(self, officer_id: str, skills: Mapping[str, SkillLevel | str]) -> list[Decision]:
        """The officer connected (→ AVAILABLE, may ring at once), or updated the departments it serves.

        An officer already online keeps its state and gets the new skills. An officer whose call was
        held across a server restart goes straight back IN_CALL with it.
        """
        _check_id("officer_id", officer_id)
        primary, secondary, parsed = self._parse_skills(skills)
        now = self._now()
        out: list[Decision] = []
        officer = self._officers.get(officer_id)
        if officer is None:
            officer = self._officers[officer_id] = _Officer(officer_id, parsed, primary, secondary)
        elif officer.state is not OfficerState.OFFLINE:
            self._change_skills(officer, parsed, primary, secondary, now, out)
            self._flush(out)
            return out
        else:
            officer.skills, officer.primary, officer.secondary = parsed, primary, secondary
        officer.unanswered = 0
        held = self._held.pop(officer_id, None)
        if held is not None:
            caller = self._calls[held]
            caller.held_officer = None
            caller.officer = officer_id
            officer.call = held
            officer.busy_since = now
            officer.busy_department = caller.officer_department
            officer.busy_completed = False
            self._set_state(officer, OfficerState.IN_CALL, "resumed", now, out)
        else:
            self._set_state(officer, OfficerState.AVAILABLE, None, now, out)
            self._match_officer(officer, now, out)
        self._flush(out)
        return out

    def officer_offline(self, officer_id: str) -> list[Decision]:
        """The officer's connection dropped: its ring is withdrawn and re-offered; a caller in a call
        with it goes back to the head of the queue with its original join time."""
        officer = self._officers.get(officer_id)
        now = self._now()
        out: list[Decision] = []
        if officer is None or officer.state is OfficerState.OFFLINE:
            return out
        reoffer: list[_Caller] = []
        if officer.state is OfficerState.RINGING:
            caller = self._calls[officer.ringing_call]  # type: ignore[index]
            officer.ringing_call = None
            caller.ringing.discard(officer_id)
            if not caller.ringing:
                self._deps[caller.department].queue.mark_pending(caller.call_id)
                reoffer.append(caller)
        elif officer.state is OfficerState.IN_CALL:
            caller = self._calls[officer.call]  # type: ignore[index]
            officer.call = None
            officer.busy_completed = False
            caller.officer = None
            if not caller.queued:
                self._requeue_caller(caller, "officer_offline", now, out)
                reoffer.append(caller)
            caller.officer_department = None
        self._set_state(officer, OfficerState.OFFLINE, "disconnected", now, out)
        for caller in reoffer:
            if caller.queued and self._deps[caller.department].queue.is_pending(caller.call_id):
                self._ring_caller(caller, now, out)
        self._flush(out)
        return out

    def set_available(self, officer_id: str) -> list[Decision]:
        """Back from away, or wrap-up ended early. Resets the unanswered-offer count."""
        officer = self._officer(officer_id)
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
        self._set_state(officer, OfficerState.AVAILABLE, None, now, out)
        self._match_officer(officer, now, out)
        self._flush(out)
        return out

    def set_away(self, officer_id: str, reason: str) -> list[Decision]:
        """Away with a reason: "break" (休憩), "counter" (窓口対応中) or "meeting" (会議).

        A ringing officer declines the offer first. An officer in a call must end it first.
        """
        if reason not in AWAY_REASONS:
            raise RouterError(f"away reason must be one of {sorted(AWAY_REASONS)}, not {reason!r}")
        officer = self._officer(officer_id)
        now = self._now()
        out: list[Decision] = []
        if officer.state in (OfficerState.OFFLINE, OfficerState.IN_CALL):
            raise RouterError(f"officer {officer_id!r} is {officer.state.value} and cannot go away now")
        if officer.state is OfficerState.RINGING:
            caller = self._calls[officer.ringing_call]  # type: ignore[index]
            self._drop_ring(officer, caller, "declined", now, out)
            self._set_state(officer, OfficerState.AWAY, reason, now, out)
            self._reoffer_if_pending(caller, now, out)
        else:
            self._set_state(officer, OfficerState.AWAY, reason, now, out)
        self._flush(out)
        return out

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
    ) -> list[Decision]:
        """Put a caller in a department's queue. Raises JoinRefused (closed, last join passed, full...).

        A caller from the same kiosk and department who left less than `rejoin_grace_s` ago gets back
        its place (original join time and priority) even after closing time. `head=True` (a caller the
        server re-queues) goes to the head and skips the hours and length checks. `checklist` gives the
        departments of a one-stop case (default: the department's one_stop_departments).
        """
        _check_id("call_id", call_id)
        if call_id in self._calls:
            raise RouterError(f"call {call_id!r} is already known to the router")
        dep = self._deps.get(department)
        if dep is None:
            raise JoinRefused("unknown_department", department)
        if not dep.config.remote:
            raise JoinRefused("not_remote", department)
        now = self._now()
        out: list[Decision] = []
        stats = self._today.department(department)
        parked = self._parked.get((kiosk_id, department)) if kiosk_id else None
        if parked is not None and now - parked.parked_at <= self._grace:
            del self._parked[(kiosk_id, department)]
            merged = dict(parked.info)
            merged.update(info or {})
            caller = _Caller(call_id, department, kiosk_id, merged, parked.join_time, parked.entered_at)
            caller.notes, caller.case = parked.notes, parked.case
            priority, entered_at = parked.priority, parked.entered_at
            keep_seq: int | None = parked.seq
            stats.rejoined += 1
        else:
            if not head:
                self._check_can_join(dep, now)
            joined = now if joined_at is None else float(joined_at)
            caller = _Caller(call_id, department, kiosk_id, dict(info or {}), joined, joined)
            priority, entered_at = (HEAD if head else NORMAL), joined
            keep_seq = None
            if dep.config.kind is CounterKind.ONE_STOP:
                caller.case = self._new_case(dep, checklist)
            elif checklist is not None:
                raise RouterError(f"department {department!r} is not a one-stop counter: no checklist")
        stats.offered += 1
        self._calls[call_id] = caller
        self._enqueue(caller, department, priority, entered_at, now, seq=keep_seq)
        self._ring_caller(caller, now, out)
        self._flush(out)
        return out

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
                self._held.pop(caller.held_officer, None)
            elif caller.officer is not None:
                self._end_connected(caller, now, out)
            del self._calls[call_id]
            out.append(CallerRemoved(call_id, "cancelled"))
            self._flush(out)
            return out
        dep = self._deps[caller.department]
        stats = self._today.department(dep.id)
        waited = now - caller.entered_at
        stats.abandoned += 1
        stats.abandoned_wait_s += waited
        if waited <= dep.config.service_level_s:
            stats.abandoned_within_sl += 1
        freed = self._unqueue(caller, "caller_left", now, out)
        if caller.officer is not None:  # left during a warm transfer: the first officer's call ends too
            self._end_connected(caller, now, out)
        if caller.held_officer is not None:
            self._held.pop(caller.held_officer, None)
            caller.held_officer = None
        del self._calls[call_id]
        if caller.kiosk_id and self._grace > 0:
            self._park(caller, now)
        out.append(CallerRemoved(call_id, "cancelled"))
        self._free_officers(freed, now, out)
        self._flush(out)
        return out

    def accept(self, officer_id: str, call_id: str) -> list[Decision]:
        """The officer accepted the offer: Connect; other rings for this caller are withdrawn."""
        officer = self._officer(officer_id)
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
        freed = self._unqueue(caller, "answered_elsewhere", now, out)
        stats = self._today.department(dep.id)
        waited = now - caller.entered_at
        stats.answered += 1
        stats.answered_wait_s += waited
        if waited <= dep.config.service_level_s:
            stats.answered_within_sl += 1
        self._today.officer(officer_id).answered += 1
        if caller.officer is not None:  # warm transfer: the first officer hands over now
            self._end_connected(caller, now, out, reason="transferred")
        caller.officer = officer_id
        caller.officer_department = dep.id
        officer.call = call_id
        officer.unanswered = 0
        officer.calls_today += 1
        officer.busy_since = now
        officer.busy_department = dep.id
        officer.busy_completed = False
        self._set_state(officer, OfficerState.IN_CALL, None, now, out)
        out.append(Connect(call_id, officer_id))
        self._free_officers(freed, now, out)
        self._flush(out)
        return out

    def decline(self, officer_id: str, call_id: str) -> list[Decision]:
        """The officer declined: the caller is offered to the next officer, this one goes to the back."""
        officer = self._officer(officer_id)
        if officer.state is not OfficerState.RINGING or officer.ringing_call != call_id:
            raise RouterError(
                f"officer {officer_id!r} is {officer.state.value} and is not being offered call {call_id!r}"
            )
        caller = self._calls[call_id]
        now = self._now()
        out: list[Decision] = []
        self._drop_ring(officer, caller, "declined", now, out)
        officer.unanswered = 0
        self._reoffer_if_pending(caller, now, out)
        self._set_state(officer, OfficerState.AVAILABLE, None, now, out)
        self._match_officer(officer, now, out)
        self._flush(out)
        return out

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
            self._held.pop(caller.held_officer, None)
            caller.held_officer = None
            caller.officer_department = None
            if not caller.queued:  # (queued: a warm transfer was pending; the caller keeps waiting)
                del self._calls[call_id]
            return out
        if caller.officer is None:
            raise RouterError(f"call {call_id!r} is not connected to an officer")
        served = caller.officer_department
        if note is not None and len(note) > MAX_NOTE_CHARS:
            raise RouterError(f"note is longer than {MAX_NOTE_CHARS} characters")
        self._end_connected(caller, now, out)
        if caller.queued:  # a warm transfer is pending: the caller waits in the other department
            self._flush(out)
            return out
        if caller.case is not None and served is not None:
            nxt = self._case_record(caller, served, outcome, note or "", now)
            pending = tuple(
                item["department"] for item in caller.case["checklist"] if item["status"] == "pending"
            )
            out.append(CaseAdvanced(call_id, served, nxt, pending))
            if nxt is not None:
                stats = self._today.department(nxt)
                stats.offered += 1
                stats.transferred_in += 1
                self._enqueue(caller, nxt, HEAD, now, now)
                self._ring_caller(caller, now, out)
                self._flush(out)
                return out
        del self._calls[call_id]
        self._flush(out)
        return out

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
            self._requeue_caller(caller, "media_failed", now, out)
            self._ring_caller(caller, now, out)
        caller.officer_department = None
        self._set_state(officer, OfficerState.AVAILABLE, None, now, out)
        self._match_officer(officer, now, out)
        self._flush(out)
        return out

    def transfer(
        self, call_id: str, to_department: str, note: str = "", *, warm: bool = False
    ) -> list[Decision]:
        """Transfer a connected caller to the head of another department's queue, with a note.

        Blind (default): the officer's call ends now. Warm: the officer stays connected until an officer
        of `to_department` accepts (or `cancel_transfer`).
        """
        caller = self._call(call_id)
        if caller.officer is None:
            raise RouterError(f"call {call_id!r} is not connected to an officer: cannot transfer it")
        if caller.queued:
            raise RouterError(f"call {call_id!r} is already being transferred to {caller.department!r}")
        dep = self._deps.get(to_department)
        if dep is None:
            raise RouterError(f"cannot transfer to unknown department {to_department!r}")
        if not dep.config.remote:
            raise RouterError(f"cannot transfer to department {to_department!r}: it has no remote counter")
        if len(note) > MAX_NOTE_CHARS:
            raise RouterError(f"transfer note is longer than {MAX_NOTE_CHARS} characters")
        now = self._now()
        out: list[Decision] = []
        from_department = caller.officer_department or caller.department
        caller.notes.append(
            {
                "from_department": from_department,
                "to_department": to_department,
                "officer_id": caller.officer,
                "note": note,
                "warm": warm,
                "at": now,
            }
        )
        self._today.department(from_department).transferred_out += 1
        stats = self._today.department(to_department)
        stats.offered += 1
        stats.transferred_in += 1
        out.append(TransferCaller(call_id, from_department, to_department, note, warm))
        if not warm:
            self._end_connected(caller, now, out, reason="transferred")
        self._enqueue(caller, to_department, HEAD, now, now)
        self._ring_caller(caller, now, out)
        self._flush(out)
        return out

    def cancel_transfer(self, call_id: str) -> list[Decision]:
        """Cancel a pending warm transfer: the caller leaves the other queue and stays with its officer."""
        caller = self._call(call_id)
        if caller.officer is None or not caller.queued:
            raise RouterError(f"call {call_id!r} has no warm transfer pending")
        now = self._now()
        out: list[Decision] = []
        department = caller.department
        self._today.department(department).withdrawn += 1
        freed = self._unqueue(caller, "caller_left", now, out)
        caller.department = caller.officer_department or department
        out.append(KeepWithOfficer(call_id, caller.officer, department))
        self._free_officers(freed, now, out)
        self._flush(out)
        return out

    def set_checklist(self, call_id: str, departments: Sequence[str]) -> dict[str, Any]:
        """Replace the pending departments of a one-stop case (done ones are kept). Returns the case."""
        caller = self._call(call_id)
        if caller.case is None:
            raise RouterError(f"call {call_id!r} carries no one-stop case")
        self._check_checklist(departments)
        done = [item for item in caller.case["checklist"] if item["status"] != "pending"]
        done_ids = {item["department"] for item in done}
        caller.case["checklist"] = done + [
            {"department": d, "status": "pending", "outcome": None, "note": ""}
            for d in departments
            if d not in done_ids
        ]
        return _copy_json(caller.case)

    # ------------------------------------------------------------------ time

    def tick(self) -> list[Decision]:
        """Ring timeouts, wrap-up expiry, overflow, held calls expiring and periodic position pushes."""
        now = self._now()
        out: list[Decision] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            if not self._entry_valid(entry):
                continue
            _when, _seq, kind, ref, arg = entry
            if kind == "ring":
                self._ring_timeout(self._calls[ref], now, out)
            elif kind == "wrap":
                officer = self._officers[ref]
                self._set_state(officer, OfficerState.AVAILABLE, "wrap_up_ended", now, out)
                self._match_officer(officer, now, out)
            elif kind == "overflow":
                self._match_overflow(self._deps[ref], now, out)
            elif kind == "push":
                dep = self._deps[ref]
                self._dirty[ref] = 0
                self._schedule_push(dep, now)
            elif kind == "held":
                self._held_expired(ref, arg, now, out)
            elif kind == "park":
                del self._parked[ref]
        self._flush(out)
        return out

    def next_deadline(self) -> float | None:
        """The earliest time at which tick() has something to do, or None."""
        heap = self._heap
        while heap and not self._entry_valid(heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    # ------------------------------------------------------------------ queries

    def officer_state(self, officer_id: str) -> OfficerState:
        officer = self._officers.get(officer_id)
        return OfficerState.OFFLINE if officer is None else officer.state

    def officer_reason(self, officer_id: str) -> str | None:
        officer = self._officers.get(officer_id)
        return None if officer is None else officer.reason

    def officer_info(self, officer_id: str) -> dict[str, Any]:
        """State, reason, skills, the call it is offered and the call it is in (supervisor views)."""
        officer = self._officer(officer_id)
        return {
            "officer_id": officer.officer_id,
            "state": officer.state.value,
            "reason": officer.reason,
            "skills": {k: v.value for k, v in officer.skills.items()},
            "ringing_call": officer.ringing_call,
            "call": officer.call,
            "calls_today": officer.calls_today,
            "idle_since": officer.idle_since if officer.state is OfficerState.AVAILABLE else None,
            "unanswered": officer.unanswered,
        }

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
        return QueuePosition(call_id, dep.id, pos, self._ewt(dep, pos))

    def call_info(self, call_id: str) -> dict[str, Any]:
        """What the officer's console shows: kiosk, department, caller info, notes and one-stop case."""
        caller = self._call(call_id)
        if caller.queued:
            state = "ringing" if caller.ringing else "queued"
        elif caller.officer is not None:
            state = "connected"
        else:
            state = "held"
        return _copy_json(
            {
                "call_id": caller.call_id,
                "department": caller.department,
                "kiosk_id": caller.kiosk_id,
                "info": caller.info,
                "state": state,
                "officer_id": caller.officer,
                "transfer_pending": caller.queued and caller.officer is not None,
                "join_time": caller.join_time,
                "entered_at": caller.entered_at,
                "priority": caller.priority,
                "notes": caller.notes,
                "case": caller.case,
            }
        )

    def department_status(self, department: str) -> DepartmentStatus:
        dep = self._dep(department)
        now = self._now()
        check = dep.calendar.check(dt.datetime.fromtimestamp(now, self._tz))
        refusal: str | None = None
        if not dep.config.remote:
            refusal = "not_remote"
        elif not check.open:
            refusal = "closed"
        elif not check.can_join:
            refusal = "last_join_passed"
        elif len(dep.queue) >= dep.config.max_queue:
            refusal = "queue_full"
        waiting = len(dep.queue)
        return DepartmentStatus(
            department=dep.id,
            open=check.open,
            accepting=refusal is None,
            waiting=waiting,
            ewt_s=self._ewt(dep, waiting + 1),
            next_open=check.next_open,
            refusal=refusal,
        )

    def stats(self) -> dict[str, Any]:
        """Live and per-day statistics per department and officer (JSON-serialisable)."""
        now = self._now()
        departments: dict[str, Any] = {}
        for dep in self._deps.values():
            data = self._today.department(dep.id).summary(dep.config.service_level_s)
            entries = dep.queue.entries_from(0)
            waits = [now - self._calls[key[3]].entered_at for key in entries]
            data["waiting"] = len(entries)
            data["ringing"] = len(entries) - dep.queue.pending_count()
            data["longest_wait_s"] = max(waits, default=0.0)
            data["ewt_s"] = self._ewt(dep, len(entries) + 1)
            data["rolling_aht_s"] = dep.handle.mean()
            data["officers"] = {state.value: 0 for state in OfficerState}
            departments[dep.id] = data
        officers: dict[str, Any] = {}
        for officer in self._officers.values():
            data = self._today.officer(officer.officer_id).summary()
            data["state"] = officer.state.value
            data["reason"] = officer.reason
            data["calls_today"] = officer.calls_today
            data["departments"] = {k: v.value for k, v in officer.skills.items()}
            officers[officer.officer_id] = data
            for dep_id in officer.primary:
                departments[dep_id]["officers"][officer.state.value] += 1
        history = {
            day: {
                "departments": {
                    k: v.summary(self._deps[k].config.service_level_s if k in self._deps else 0)
                    for k, v in stats.departments.items()
                },
                "officers": {k: v.summary() for k, v in stats.officers.items()},
            }
            for day, stats in self._history.items()
        }
        return {
            "date": self._today.date,
            "at": now,
            "departments": departments,
            "officers": officers,
            "history": history,
        }

    # ------------------------------------------------------------------ restart

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to resume after a restart (JSON-serialisable)."""
        now = self._now()
        callers = []
        for caller in self._calls.values():
            callers.append(
                {
                    "call_id": caller.call_id,
                    "department": caller.department,
                    "kiosk_id": caller.kiosk_id,
                    "info": caller.info,
                    "join_time": caller.join_time,
                    "entered_at": caller.entered_at,
                    "priority": caller.priority,
                    "seq": caller.seq,
                    "queued": caller.queued,
                    "officer": caller.officer or caller.held_officer,
                    "officer_department": caller.officer_department,
                    "notes": caller.notes,
                    "case": caller.case,
                }
            )
        parked = [
            {
                "kiosk_id": kiosk,
                "department": dep,
                "call_id": p.call_id,
                "join_time": p.join_time,
                "entered_at": p.entered_at,
                "priority": p.priority,
                "info": p.info,
                "notes": p.notes,
                "case": p.case,
                "parked_at": p.parked_at,
                "seq": p.seq,
            }
            for (kiosk, dep), p in self._parked.items()
        ]
        return _copy_json(
            {
                "version": SNAPSHOT_VERSION,
                "saved_at": now,
                "callers": callers,
                "parked": parked,
                "today": self._today.to_json(),
                "history": [stats.to_json() for stats in self._history.values()],
                "handle_times": {dep.id: dep.handle.samples() for dep in self._deps.values()},
                "calls_today": {o.officer_id: o.calls_today for o in self._officers.values()},
            }
        )

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Load a snapshot into a fresh router: every caller keeps its join time and priority.

        Callers that were ringing wait again; callers that were connected are held for their officer
        for `rejoin_grace_s` (officer_online resumes the call) and then go back to the head of the queue.
        """
        if self._calls or self._officers:
            raise RouterError("restore() needs a fresh router: this one already has callers or officers")
        if not isinstance(snapshot, Mapping) or snapshot.get("version") != SNAPSHOT_VERSION:
            raise RouterError(f"not a router snapshot of version {SNAPSHOT_VERSION}")
        now = self._now()
        records = list(snapshot.get("callers", []))
        for record in records:
            for name in ("department", "officer_department"):
                dep_id = record.get(name)
                if dep_id is not None and dep_id not in self._deps:
                    raise RouterError(
                        f"snapshot caller {record.get('call_id')!r} is in department {dep_id!r}, "
                        "which the configuration no longer has"
                    )
        records.sort(key=lambda r: (r["priority"], r["join_time"], r["seq"]))
        seqs = [int(r["seq"]) for r in records] + [int(p.get("seq", 0)) for p in snapshot.get("parked", [])]
        self._seq = itertools.count(max(seqs, default=0) + 1)
        for record in records:
            caller = _Caller(
                call_id=str(record["call_id"]),
                department=record["department"],
                kiosk_id=record.get("kiosk_id", ""),
                info=dict(record.get("info") or {}),
                join_time=float(record["join_time"]),
                entered_at=float(record["entered_at"]),
                notes=list(record.get("notes") or []),
                case=record.get("case"),
            )
            self._calls[caller.call_id] = caller
            officer = record.get("officer")
            if officer is not None and record.get("officer_department") is not None:
                caller.officer_department = record["officer_department"]
                caller.held_officer = officer
                self._held[officer] = caller.call_id
                self._push_deadline(now + self._grace, "held", officer, caller.call_id)
            if record["queued"]:
                self._enqueue(
                    caller,
                    caller.department,
                    int(record["priority"]),
                    caller.entered_at,
                    now,
                    int(record["seq"]),
                )
            else:
                caller.priority = int(record["priority"])
                caller.seq = int(record["seq"])
        for p in snapshot.get("parked", []):
            if p["department"] in self._deps:
                self._parked[(p["kiosk_id"], p["department"])] = _Parked(
                    p["call_id"],
                    p["join_time"],
                    p["entered_at"],
                    p["priority"],
                    dict(p["info"]),
                    list(p["notes"]),
                    p["case"],
                    p["parked_at"],
                    int(p.get("seq", 0)),
                )
                self._push_deadline(
                    p["parked_at"] + self._grace, "park", (p["kiosk_id"], p["department"]), p["parked_at"]
                )
        today = snapshot.get("today")
        if today and today.get("date") == self._today.date:
            self._today = DailyStats.from_json(today)
        elif today and today.get("date"):
            self._history[today["date"]] = DailyStats.from_json(today)
        for day in snapshot.get("history", []):
            self._history.setdefault(day["date"], DailyStats.from_json(day))
        for dep_id, samples in snapshot.get("handle_times", {}).items():
            if dep_id in self._deps:
                for sample in samples:
                    self._deps[dep_id].handle.add(float(sample))
        self._restored_calls_today = {k: int(v) for k, v in snapshot.get("calls_today", {}).items()}
        if today and today.get("date") == self._today.date:
            for officer_id, count in self._restored_calls_today.items():
                self._officers.setdefault(officer_id, _Officer(officer_id, {}, (), ())).calls_today = count
        self._dirty.clear()
        for dep in self._deps.values():
            if len(dep.queue):
                self._dirty[dep.id] = 0
                self._push_deadline(now, "push", dep.id, dep.push_gen)

    # ------------------------------------------------------------------ internals: officers

    def _officer(self, officer_id: str) -> _Officer:
        officer = self._officers.get(officer_id)
        if officer is None:
            raise RouterError(f"unknown officer {officer_id!r}: call officer_online first")
        return officer

    def _parse_skills(
        self, skills: Mapping[str, SkillLevel | str]
    ) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, SkillLevel]]:
        if not isinstance(skills, Mapping):
            raise RouterError("skills must map department ids to 'primary' or 'secondary'")
        parsed: dict[str, SkillLevel] = {}
        for dep_id, level in skills.items():
            if dep_id not in self._deps:
                raise RouterError(f"skills name unknown department {dep_id!r}")
            try:
                parsed[dep_id] = SkillLevel(level)
            except ValueError:
                raise RouterError(
                    f"skill level for {dep_id!r} must be 'primary' or 'secondary', not {level!r}"
                ) from None
        primary = tuple(sorted(d for d, lv in parsed.items() if lv is SkillLevel.PRIMARY))
        secondary = tuple(sorted(d for d, lv in parsed.items() if lv is SkillLevel.SECONDARY))
        return primary, secondary, parsed

    def _change_skills(
        self,
        officer: _Officer,
        skills: dict[str, SkillLevel],
        primary: tuple[str, ...],
        secondary: tuple[str, ...],
        now: float,
        out: list[Decision],
    ) -> None:
        self._account(officer, -1)
        self._leave_pools(officer)
        officer.skills, officer.primary, officer.secondary = skills, primary, secondary
        self._account(officer, +1)
        if officer.state is OfficerState.AVAILABLE:
            self._enter_pools(officer)
            self._match_officer(officer, now, out)

    def _account(self, officer: _Officer, sign: int) -> None:
        """Add (+1) or remove (-1) the officer's share in its primary departments' capacity and free count."""
        k = len(officer.primary)
        serving = officer.state in SERVING_STATES
        free = officer.state in FREE_STATES
        for dep_id in officer.primary:
            dep = self._deps[dep_id]
            if serving:
                dep.capacity[k] = dep.capacity.get(k, 0) + sign
                if dep.capacity[k] == 0:
                    del dep.capacity[k]
            if free:
                dep.free += sign

    def _pool_key(self, dep: _Dept, officer: _Officer) -> tuple:
        if dep.config.strategy is RoutingStrategy.FEWEST_CALLS:
            return (officer.calls_today, officer.idle_since, officer.officer_id)
        return (officer.idle_since, officer.officer_id)

    def _enter_pools(self, officer: _Officer) -> None:
        for dep_id in officer.primary:
            dep = self._deps[dep_id]
            dep.primary_pool.add(officer.officer_id, self._pool_key(dep, officer))
        for dep_id in officer.secondary:
            dep = self._deps[dep_id]
            dep.secondary_pool.add(officer.officer_id, self._pool_key(dep, officer))

    def _leave_pools(self, officer: _Officer) -> None:
        for dep_id in officer.primary:
            self._deps[dep_id].primary_pool.discard(officer.officer_id)
        for dep_id in officer.secondary:
            self._deps[dep_id].secondary_pool.discard(officer.officer_id)

    def _set_state(
        self, officer: _Officer, new: OfficerState, reason: str | None, now: float, out: list[Decision]
    ) -> None:
        old = officer.state
        if new not in ALLOWED_TRANSITIONS[old]:
            raise RouterError(f"officer {officer.officer_id!r} cannot go from {old.value} to {new.value}")
        if old is OfficerState.AVAILABLE:
            self._leave_pools(officer)
        if old in _BUSY and new not in _BUSY:
            self._record_handle(officer, now)
        self._account(officer, -1)
        officer.state = new
        officer.reason = reason
        self._account(officer, +1)
        if new is OfficerState.AVAILABLE:
            officer.idle_since = now
            self._enter_pools(officer)
        out.append(OfficerStateChanged(officer.officer_id, new, reason))

    def _record_handle(self, officer: _Officer, now: float) -> None:
        if officer.busy_since is not None and officer.busy_completed and officer.busy_department is not None:
            seconds = now - officer.busy_since
            self._deps[officer.busy_department].handle.add(seconds)
            dstats = self._today.department(officer.busy_department)
            dstats.handled += 1
            dstats.handle_s += seconds
            ostats = self._today.officer(officer.officer_id)
            ostats.handled += 1
            ostats.handle_s += seconds
        officer.busy_since = None
        officer.busy_department = None
        officer.busy_completed = False

    def _end_connected(
        self, caller: _Caller, now: float, out: list[Decision], reason: str | None = None
    ) -> None:
        """The officer connected to `caller` finished with it: wrap-up (or available when none)."""
        officer = self._officers[caller.officer]  # type: ignore[index]
        caller.officer = None
        caller.officer_department = None
        officer.call = None
        officer.busy_completed = True
        wrap = self._deps[officer.busy_department or caller.department].config.wrap_up_s
        if wrap > 0:
            officer.wrap_gen += 1
            self._set_state(officer, OfficerState.WRAP_UP, reason, now, out)
            self._push_deadline(now + wrap, "wrap", officer.officer_id, officer.wrap_gen)
        else:
            self._set_state(officer, OfficerState.AVAILABLE, reason, now, out)
            self._match_officer(officer, now, out)

    def _free_officers(self, officers: list[_Officer], now: float, out: list[Decision]) -> None:
        """Officers whose ring was withdrawn become available together, then take waiting callers."""
        for officer in officers:
            self._set_state(officer, OfficerState.AVAILABLE, None, now, out)
        for officer in officers:
            if officer.state is OfficerState.AVAILABLE:
                self._match_officer(officer, now, out)

    # ------------------------------------------------------------------ internals: matching

    def _match_officer(self, officer: _Officer, now: float, out: list[Decision]) -> None:
        """An available officer takes the best pending caller of its primary departments, or else an
        overflowed caller of its secondary departments."""
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
            self._ring_caller(self._calls[best[3]], now, out)
            return
        self._join_ring_all(officer, now, out)

    def _join_ring_all(self, officer: _Officer, now: float, out: list[Decision]) -> None:
        """Ring-all: an officer who becomes free joins the ring of a caller already being offered."""
        best: _Caller | None = None
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
            if not caller.ringing or caller.ring_deadline <= now:
                continue
            after = dep.config.overflow_after_s
            if secondary and (after is None or now - caller.entered_at < after):
                continue
            if best is None or caller.key < best.key:
                best = caller
        if best is None:
            return
        best.ringing.add(officer.officer_id)
        self._today.department(best.department).rings += 1
        self._set_state(officer, OfficerState.RINGING, None, now, out)
        officer.ringing_call = best.call_id
        self._today.officer(officer.officer_id).offered += 1
        out.append(
            Ring(
                officer.officer_id,
                best.call_id,
                best.department,
                best.ring_deadline - now,
                now - best.join_time,
            )
        )

    def _overflow_candidate(self, dep: _Dept, now: float) -> _Caller | None:
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

    def _match_overflow(self, dep: _Dept, now: float, out: list[Decision]) -> None:
        while len(dep.secondary_pool):
            caller = self._overflow_candidate(dep, now)
            if caller is None or not self._ring_caller(caller, now, out):
                return

    def _ring_caller(self, caller: _Caller, now: float, out: list[Decision]) -> bool:
        """Offer a pending caller to the department's officers according to its strategy."""
        dep = self._deps[caller.department]
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
        dep.queue.mark_offered(caller.call_id)
        caller.ring_gen += 1
        caller.ringing = set(officers)
        caller.ring_deadline = now + config.ring_timeout_s
        self._push_deadline(now + config.ring_timeout_s, "ring", caller.call_id, caller.ring_gen)
        waited = now - caller.join_time
        self._today.department(dep.id).rings += len(officers)
        for officer_id in officers:
            officer = self._officers[officer_id]
            self._set_state(officer, OfficerState.RINGING, None, now, out)
            officer.ringing_call = caller.call_id
            self._today.officer(officer_id).offered += 1
            out.append(Ring(officer_id, caller.call_id, dep.id, config.ring_timeout_s, waited))
        return True

    def _drop_ring(
        self, officer: _Officer, caller: _Caller, reason: str, now: float, out: list[Decision]
    ) -> None:
        """Stop ringing one officer for `caller`; the caller becomes pending when nobody rings any more."""
        officer.ringing_call = None
        caller.ringing.discard(officer.officer_id)
        out.append(WithdrawRing(officer.officer_id, caller.call_id, reason))
        if reason == "declined":
            self._today.officer(officer.officer_id).declined += 1
            self._today.department(caller.department).declines += 1
        if not caller.ringing:
            self._deps[caller.department].queue.mark_pending(caller.call_id)

    def _reoffer_if_pending(self, caller: _Caller, now: float, out: list[Decision]) -> None:
        if caller.queued and not caller.ringing:
            self._ring_caller(caller, now, out)

    def _ring_timeout(self, caller: _Caller, now: float, out: list[Decision]) -> None:
        officers = [self._officers[o] for o in sorted(caller.ringing)]
        for officer in officers:
            self._drop_ring(officer, caller, "timeout", now, out)
            self._today.officer(officer.officer_id).missed += 1
            self._today.department(caller.department).ring_timeouts += 1
            officer.unanswered += 1
        self._ring_caller(caller, now, out)
        for officer in officers:
            if officer.unanswered >= self._max_unanswered:
                self._today.officer(officer.officer_id).auto_away += 1
                self._set_state(officer, OfficerState.AWAY, NO_ANSWER, now, out)
            else:
                self._set_state(officer, OfficerState.AVAILABLE, None, now, out)
        for officer in officers:
            if officer.state is OfficerState.AVAILABLE:
                self._match_officer(officer, now, out)

    # ------------------------------------------------------------------ internals: queues

    def _dep(self, department: str) -> _Dept:
        dep = self._deps.get(department)
        if dep is None:
            raise RouterError(f"unknown department {department!r}")
        return dep

    def _call(self, call_id: str) -> _Caller:
        caller = self._calls.get(call_id)
        if caller is None:
            raise RouterError(f"unknown call {call_id!r}")
        return caller

    def _check_can_join(self, dep: _Dept, now: float) -> None:
        check = dep.calendar.check(dt.datetime.fromtimestamp(now, self._tz))
        if not check.open:
            raise JoinRefused("closed", dep.id, check.next_open)
        if not check.can_join:
            raise JoinRefused("last_join_passed", dep.id, check.next_open)
        if len(dep.queue) >= dep.config.max_queue:
            raise JoinRefused("queue_full", dep.id)

    def _enqueue(
        self,
        caller: _Caller,
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
        self._mark_dirty(department, index)
        if dep.config.overflow_after_s is not None:
            self._push_deadline(
                entered_at + dep.config.overflow_after_s, "overflow", department, caller.call_id
            )
        if len(dep.queue) == 1:
            self._schedule_push(dep, now)

    def _unqueue(self, caller: _Caller, reason: str, now: float, out: list[Decision]) -> list[_Officer]:
        """Take a caller out of its queue; rings for it are withdrawn. Returns the officers freed."""
        dep = self._deps[caller.department]
        freed = []
        for officer_id in sorted(caller.ringing):
            officer = self._officers[officer_id]
            officer.ringing_call = None
            out.append(WithdrawRing(officer_id, caller.call_id, reason))
            freed.append(officer)
        caller.ringing = set()
        index = dep.queue.remove(caller.call_id)
        caller.queued = False
        self._mark_dirty(dep.id, index)
        return freed

    def _requeue_caller(self, caller: _Caller, reason: str, now: float, out: list[Decision]) -> None:
        department = caller.officer_department or caller.department
        self._today.department(department).requeued += 1
        entered = caller.entered_at if department == caller.department else now
        self._enqueue(caller, department, HEAD, entered, now)
        out.append(RequeueCaller(caller.call_id, department, reason))

    def _held_expired(self, officer_id: str, call_id: str, now: float, out: list[Decision]) -> None:
        del self._held[officer_id]
        caller = self._calls[call_id]
        caller.held_officer = None
        if not caller.queued:
            self._requeue_caller(caller, "not_resumed", now, out)
            self._ring_caller(caller, now, out)
        caller.officer_department = None

    def _park(self, caller: _Caller, now: float) -> None:
        key = (caller.kiosk_id, caller.department)
        self._parked[key] = _Parked(
            caller.call_id,
            caller.join_time,
            caller.entered_at,
            caller.priority,
            caller.info,
            caller.notes,
            caller.case,
            now,
            caller.seq,
        )
        self._push_deadline(now + self._grace, "park", key, now)

    def _ewt(self, dep: _Dept, position: int) -> float | None:
        return estimate_wait(position, dep.free, dep.capacity_value(), dep.handle.mean())

    def _mark_dirty(self, department: str, index: int) -> None:
        current = self._dirty.get(department)
        if current is None or index < current:
            self._dirty[department] = index

    def _flush(self, out: list[Decision]) -> None:
        """Push positions to every caller whose position may have changed during this event."""
        if not self._dirty:
            return
        for dep_id, start in self._dirty.items():
            dep = self._deps[dep_id]
            free = dep.free
            capacity = dep.capacity_value()
            aht = dep.handle.mean()
            position = start
            for key in dep.queue.entries_from(start):
                position += 1
                if capacity <= 0:
                    ewt = None
                elif position <= free:
                    ewt = 0.0
                else:
                    ewt = (position - free) * aht / capacity
                out.append(QueuePosition(key[3], dep_id, position, ewt))
        self._dirty.clear()

    def _schedule_push(self, dep: _Dept, now: float) -> None:
        dep.push_gen += 1
        if len(dep.queue):
            self._push_deadline(now + self._push_s, "push", dep.id, dep.push_gen)

    def _push_deadline(self, when: float, kind: str, ref: Any, arg: Any) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), kind, ref, arg))

    def _entry_valid(self, entry: tuple[float, int, str, Any, Any]) -> bool:
        _when, _seq, kind, ref, arg = entry
        if kind == "ring":
            caller = self._calls.get(ref)
            return caller is not None and caller.ring_gen == arg and bool(caller.ringing)
        if kind == "wrap":
            officer = self._officers[ref]
            return officer.state is OfficerState.WRAP_UP and officer.wrap_gen == arg
        if kind == "overflow":
            dep = self._deps[ref]
            return bool(len(dep.secondary_pool)) and dep.queue.is_pending(arg)
        if kind == "push":
            dep = self._deps[ref]
            return dep.push_gen == arg and bool(len(dep.queue))
        if kind == "held":
            return self._held.get(ref) == arg
        if kind == "park":
            parked = self._parked.get(ref)
            return parked is not None and parked.parked_at == arg
        raise AssertionError(f"unknown deadline kind {kind!r}")

    # ------------------------------------------------------------------ internals: cases and days

    def _check_checklist(self, departments: Sequence[str]) -> None:
        if isinstance(departments, str):
            raise RouterError("a checklist is a list of department ids, not one string")
        for dep_id in departments:
            dep = self._deps.get(dep_id)
            if dep is None:
                raise RouterError(f"checklist names unknown department {dep_id!r}")
            if not dep.config.remote:
                raise RouterError(f"checklist names department {dep_id!r}, which has no remote counter")
        if len(set(departments)) != len(departments):
            raise RouterError("checklist names a department twice")

    def _new_case(self, dep: _Dept, checklist: Sequence[str] | None) -> dict[str, Any]:
        departments = list(dep.config.one_stop_departments if checklist is None else checklist)
        self._check_checklist(departments)
        return {
            "home_department": dep.id,
            "checklist": [
                {"department": d, "status": "pending", "outcome": None, "note": ""} for d in departments
            ],
            "log": [],
        }

    def _case_record(
        self, caller: _Caller, served: str, outcome: str | None, note: str, now: float
    ) -> str | None:
        """Record the outcome of `served` in the case; return the next pending department, if any."""
        case = caller.case
        assert case is not None
        case["log"].append({"department": served, "outcome": outcome, "note": note, "at": now})
        for item in case["checklist"]:
            if item["department"] == served and item["status"] == "pending":
                item.update(status="done", outcome=outcome, note=note)
                break
        for item in case["checklist"]:
            if item["status"] == "pending":
                return item["department"]
        return None

    def _now(self) -> float:
        now = self._clock()
        if now >= self._day_end:
            self._roll_day(now)
        return now

    def _roll_day(self, now: float) -> None:
        local = dt.datetime.fromtimestamp(now, self._tz)
        today = local.date().isoformat()
        midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), self._tz)
        self._day_end = midnight.timestamp()
        if today == self._today.date:
            return
        if self._today.date:
            self._history[self._today.date] = self._today
            while len(self._history) > self._history_days:
                del self._history[min(self._history)]
        self._today = DailyStats(date=today)
        for officer in self._officers.values():
            officer.calls_today = 0
        for dep in self._deps.values():
            if dep.config.strategy is RoutingStrategy.FEWEST_CALLS:
                for officer_id in dep.primary_pool.officers():
                    dep.primary_pool.discard(officer_id)
                    dep.primary_pool.add(officer_id, self._pool_key(dep, self._officers[officer_id]))
                for officer_id in dep.secondary_pool.officers():
                    dep.secondary_pool.discard(officer_id)
                    dep.secondary_pool.add(officer_id, self._pool_key(dep, self._officers[officer_id]))


def _check_id(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise RouterError(f"{name} must be a non-empty string, not {value!r}")


def _copy_json(value: Any) -> Any:
    """A deep copy of plain JSON data (dicts, lists, scalars)."""
    if isinstance(value, dict):
        return {str(k): _copy_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy_json(v) for v in value]
    return value
