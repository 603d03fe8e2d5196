"""What the router tells the server to do: immutable decisions, plus the router's errors.

Decisions are named as instructions to the server (`Ring`, `RequeueCaller`), never like the wire messages
the server then sends (`remote_call.protocol.CallRequeued`): the two are different things.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from signaling_server.routing.estimate import WaitEstimate
from signaling_server.routing.states import OfficerState


@dataclass(frozen=True, slots=True)
class Ring:
    """Offer `call_id` to `officer_id`; it must accept or decline within `ring_timeout_s`."""

    officer_id: str
    call_id: str
    department: str
    ring_timeout_s: float
    waited_s: float


@dataclass(frozen=True, slots=True)
class WithdrawRing:
    """Stop ringing: reason is "answered_elsewhere", "timeout", "caller_left" or "declined"."""

    officer_id: str
    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Connect:
    """The officer accepted: the server starts media setup between the kiosk and the officer."""

    call_id: str
    officer_id: str


@dataclass(frozen=True, slots=True)
class QueuePosition:
    """A waiting caller's 1-based position in its department's queue and estimated wait."""

    call_id: str
    department: str
    position: int
    ewt_s: float | None


@dataclass(frozen=True, slots=True)
class OfficerStateChanged:
    officer_id: str
    state: OfficerState
    reason: str | None


@dataclass(frozen=True, slots=True)
class CallerRemoved:
    """The caller left the queue for good ("cancelled")."""

    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class RequeueCaller:
    """Put a connected caller back to the head of `department`'s queue (officer dropped, media failed)."""

    call_id: str
    department: str
    reason: str  # "officer_offline" | "media_failed" | "not_resumed"


@dataclass(frozen=True, slots=True)
class TransferCaller:
    """Move the caller to the head of `to_department` with the note (warm: the first officer stays)."""

    call_id: str
    from_department: str
    to_department: str
    note: str
    warm: bool


@dataclass(frozen=True, slots=True)
class KeepWithOfficer:
    """A warm transfer was called off: the caller stays with `officer_id`."""

    call_id: str
    officer_id: str
    department: str


@dataclass(frozen=True, slots=True)
class CaseAdvanced:
    """A one-stop case moved on: `to_department` is the next checklist department (None: all done)."""

    call_id: str
    from_department: str
    to_department: str | None
    pending: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HoldForSlot:
    """A resident checked in early for an appointment: it waits (not queued) until `slot_start`."""

    call_id: str
    department: str
    slot_start: float
    booking_id: str


Decision = (
    Ring
    | WithdrawRing
    | Connect
    | QueuePosition
    | OfficerStateChanged
    | CallerRemoved
    | RequeueCaller
    | TransferCaller
    | KeepWithOfficer
    | CaseAdvanced
    | HoldForSlot
)


@dataclass(frozen=True, slots=True)
class DepartmentStatus:
    department: str
    open: bool  # inside an opening span right now
    accepting: bool  # a new caller may join now
    waiting: int
    ewt_s: float | None  # estimate for a caller joining now
    next_open: dt.datetime | None  # when closed or past the last-join time
    refusal: str | None  # the JoinRefused reason a join would get now, if any
    estimate: WaitEstimate  # what every surface shows (routing.estimate.wait_estimate)


class RouterError(Exception):
    """An illegal request: unknown officer or call, or a state transition the router does not allow."""


JOIN_REFUSAL_REASONS = frozenset(
    {"closed", "last_join_passed", "queue_full", "unknown_department", "not_remote"}
)


class JoinRefused(Exception):
    """A caller may not join: reason is one of JOIN_REFUSAL_REASONS; next_open when closed."""

    def __init__(self, reason: str, department: str, next_open: dt.datetime | None = None) -> None:
        if reason not in JOIN_REFUSAL_REASONS:
            raise ValueError(f"unknown join refusal reason {reason!r}")
        detail = f"department {department!r} refused the caller: {reason}"
        if next_open is not None:
            detail += f" (next opening {next_open.isoformat()})"
        super().__init__(detail)
        self.reason = reason
        self.department = department
        self.next_open = next_open
