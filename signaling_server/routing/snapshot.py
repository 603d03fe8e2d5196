"""The router's snapshot, typed: what a restarted server needs to give every caller back its place.

`Router.snapshot()` fills a `QueueSnapshot` (with its own copies of the callers' info, notes and cases)
and `Router.restore()` reads one; `to_json()`/`from_json()` are the only code that writes or reads the
stored form (version 1, unchanged since the first release, so a server upgraded mid-day keeps its
queue). `to_json()` shares those dicts with the snapshot rather than copying them a second time: treat
both as read-only. `reconcile()` merges a snapshot with the call records, which are saved at every
change while the snapshot is saved at most once a tick: the records win on where a call stands, the
snapshot keeps the order, priorities and join times it knows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from signaling_server.routing.decisions import RouterError
from signaling_server.routing.records import NORMAL
from signaling_server.routing.stats import DailyStats

SNAPSHOT_VERSION = 1


class SnapshotError(RouterError):
    """Not a router snapshot this version can read."""


@dataclass(frozen=True, slots=True)
class CallerSnapshot:
    """A caller the router knew: queued (its place), connected (held for its officer) or both (a warm
    transfer pending while its first officer still talks to it)."""

    call_id: str
    department: str
    kiosk_id: str
    info: dict[str, Any]
    join_time: float
    entered_at: float
    priority: int
    seq: int
    queued: bool
    officer: str | None = None
    officer_department: str | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)
    case: dict[str, Any] | None = None
    appointment: dict[str, Any] | None = None  # AppointmentClaim.to_json() of a checked-in booking

    @property
    def early(self) -> bool:
        """Checked in for an appointment whose slot had not started: waits for it again."""
        return self.appointment is not None and not self.queued and not self.held

    @property
    def held(self) -> bool:
        """Connected at the snapshot: held for its officer after a restart."""
        return self.officer is not None and self.officer_department is not None

    def to_json(self) -> dict[str, Any]:
        data = {
            "call_id": self.call_id,
            "department": self.department,
            "kiosk_id": self.kiosk_id,
            "info": self.info,
            "join_time": self.join_time,
            "entered_at": self.entered_at,
            "priority": self.priority,
            "seq": self.seq,
            "queued": self.queued,
            "officer": self.officer,
            "officer_department": self.officer_department,
            "notes": self.notes,
            "case": self.case,
        }
        if self.appointment is not None:  # only then: version 1 without appointments stays byte for byte
            data["appointment"] = self.appointment
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallerSnapshot:
        return cls(
            call_id=str(data["call_id"]),
            department=str(data["department"]),
            kiosk_id=str(data.get("kiosk_id") or ""),
            info=dict(data.get("info") or {}),
            join_time=float(data["join_time"]),
            entered_at=float(data["entered_at"]),
            priority=int(data["priority"]),
            seq=int(data["seq"]),
            queued=bool(data.get("queued", True)),
            officer=data.get("officer"),
            officer_department=data.get("officer_department"),
            notes=list(data.get("notes") or []),
            case=data.get("case"),
            appointment=dict(data["appointment"]) if data.get("appointment") else None,
        )


@dataclass(frozen=True, slots=True)
class ParkedSnapshot:
    """A caller who left less than rejoin_grace_s ago: a rejoin from its kiosk gets this place back."""

    kiosk_id: str
    department: str
    call_id: str
    join_time: float
    entered_at: float
    priority: int
    info: dict[str, Any]
    notes: list[dict[str, Any]]
    case: dict[str, Any] | None
    parked_at: float
    seq: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "kiosk_id": self.kiosk_id,
            "department": self.department,
            "call_id": self.call_id,
            "join_time": self.join_time,
            "entered_at": self.entered_at,
            "priority": self.priority,
            "info": self.info,
            "notes": self.notes,
            "case": self.case,
            "parked_at": self.parked_at,
            "seq": self.seq,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ParkedSnapshot:
        return cls(
            kiosk_id=str(data["kiosk_id"]),
            department=str(data["department"]),
            call_id=str(data["call_id"]),
            join_time=float(data["join_time"]),
            entered_at=float(data["entered_at"]),
            priority=int(data["priority"]),
            info=dict(data["info"]),
            notes=list(data["notes"]),
            case=data["case"],
            parked_at=float(data["parked_at"]),
            seq=int(data.get("seq", 0)),
        )


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """Every caller, rejoin place, day of statistics and recent handle time of one router."""

    saved_at: float | None = None
    callers: tuple[CallerSnapshot, ...] = ()
    parked: tuple[ParkedSnapshot, ...] = ()
    today: DailyStats | None = None
    history: tuple[DailyStats, ...] = ()
    handle_times: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    calls_today: Mapping[str, int] = field(default_factory=dict)  # officer -> calls answered today
    # officer -> (when its wrap-up ends, the seconds left while it holds wrap-up writing the outcome, or None)
    wrap_ups: Mapping[str, tuple[float, float | None]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "saved_at": self.saved_at,
            "callers": [c.to_json() for c in self.callers],
            "parked": [p.to_json() for p in self.parked],
            "today": None if self.today is None else self.today.to_json(),
            "history": [day.to_json() for day in self.history],
            "handle_times": {dep: list(samples) for dep, samples in self.handle_times.items()},
            "calls_today": dict(self.calls_today),
        } | ({"wrap_ups": {o: list(w) for o, w in self.wrap_ups.items()}} if self.wrap_ups else {})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QueueSnapshot:
        """Read a stored snapshot; SnapshotError when it is not version 1 or a field is missing or wrong."""
        if not isinstance(data, Mapping) or data.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(f"not a router snapshot of version {SNAPSHOT_VERSION}")
        try:
            today = data.get("today")
            return cls(
                saved_at=None if data.get("saved_at") is None else float(data["saved_at"]),
                callers=tuple(CallerSnapshot.from_json(c) for c in data.get("callers", [])),
                parked=tuple(ParkedSnapshot.from_json(p) for p in data.get("parked", [])),
                today=DailyStats.from_json(today) if today and today.get("date") else None,
                history=tuple(DailyStats.from_json(day) for day in data.get("history", [])),
                handle_times={
                    str(dep): tuple(float(s) for s in samples)
                    for dep, samples in data.get("handle_times", {}).items()
                },
                calls_today={str(k): int(v) for k, v in data.get("calls_today", {}).items()},
                wrap_ups={
                    str(k): (float(ends), None if left is None else float(left))
                    for k, (ends, left) in data.get("wrap_ups", {}).items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SnapshotError(f"router snapshot field is missing or wrong: {exc!r}") from exc


# ---------------------------------------------------------------------------------------------- reconcile


class CallStanding(Protocol):
    """What reconcile() reads of a call record (signaling_server.store.CallRecord has it)."""

    @property
    def call_id(self) -> str: ...
    @property
    def kiosk_id(self) -> str: ...
    @property
    def department(self) -> str: ...
    @property
    def procedure(self) -> str | None: ...
    @property
    def language(self) -> str | None: ...
    @property
    def state(self) -> str: ...  # the server's call state: queued, ringing, connecting, in_call…
    @property
    def officer(self) -> str | None: ...
    @property
    def created_at(self) -> float: ...


def reconcile(
    snapshot: QueueSnapshot | None, records: Iterable[CallStanding], departments: Collection[str]
) -> QueueSnapshot:
    """The snapshot to restore, given the live call records (calls not ended) and the departments the
    router now has. Where they disagree the record wins: callers without a live record (or whose
    department is gone) are dropped, connected ones are held for their officer, queued or ringing ones
    wait again, and records newer than the snapshot are added by their join time after the callers it
    knows. Rejoin places, statistics and handle times are kept as they are."""
    snapshot = snapshot or QueueSnapshot()
    active = {r.call_id: r for r in records}
    callers: list[CallerSnapshot] = []
    seen: set[str] = set()
    for caller in snapshot.callers:
        record = active.get(caller.call_id)
        if record is None or record.department not in departments:
            continue
        seen.add(record.call_id)
        callers.append(_placed(caller, record))
    seq = max((c.seq for c in callers), default=0)
    for record in sorted(active.values(), key=lambda r: r.created_at):
        if record.call_id in seen or record.department not in departments:
            continue
        seq += 1
        new = CallerSnapshot(
            call_id=record.call_id,
            department=record.department,
            kiosk_id=record.kiosk_id,
            info={"procedure": record.procedure, "language": record.language or "ja"},
            join_time=record.created_at,
            entered_at=record.created_at,
            priority=NORMAL,
            seq=seq,
            queued=True,
        )
        callers.append(_placed(new, record))
    return replace(snapshot, callers=tuple(callers))


def _placed(caller: CallerSnapshot, record: CallStanding) -> CallerSnapshot:
    """The caller where its record says the call stands; the same caller when it already does (most of a
    recent snapshot: a copy of each of 13,000 callers was a sixth of a new leader's restore at 20,000
    kiosks)."""
    department = record.department
    where: tuple[bool, str | None, str | None, str]
    if record.state in ("connecting", "in_call") and record.officer:
        where = (False, record.officer, department, department)
    elif record.state in ("queued", "ringing"):
        where = (not caller.early, None, None, department)  # checked in early: still waits for its slot
    elif caller.department == department:
        return caller
    else:
        return replace(caller, department=department)
    if (caller.queued, caller.officer, caller.officer_department, caller.department) == where:
        return caller
    queued, officer, officer_department, _ = where
    return replace(
        caller, queued=queued, officer=officer, officer_department=officer_department, department=department
    )
