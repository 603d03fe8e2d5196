"""The router's deadlines: one frozen entry type per kind, kept in one `DeadlineHeap`.

Each entry names what falls due and the generation it was scheduled for; the `Router` owns one table from
entry type to (is_live, fire) and dispatches both through it, so the check that an entry still matters and
what it does when it falls due are written side by side by the part that owns the state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from signaling_server.deadlines import DeadlineHeap
from signaling_server.routing.decisions import Decision


@dataclass(frozen=True, slots=True)
class RingTimeout:
    """A caller's offer rang unanswered for the department's ring_timeout_s."""

    call_id: str
    ring_gen: int


@dataclass(frozen=True, slots=True)
class WrapUpEnds:
    officer_id: str
    wrap_gen: int


@dataclass(frozen=True, slots=True)
class OverflowCheck:
    """A caller has waited overflow_after_s: secondary officers may take it now."""

    department: str
    call_id: str


@dataclass(frozen=True, slots=True)
class PositionPush:
    """The periodic position push of a department's whole queue (position_push_s)."""

    department: str
    push_gen: int


@dataclass(frozen=True, slots=True)
class HeldExpires:
    """A call held across a restart whose officer has not come back within rejoin_grace_s."""

    officer_id: str
    call_id: str


@dataclass(frozen=True, slots=True)
class ParkExpires:
    """A departed caller's place is kept no longer than rejoin_grace_s."""

    kiosk_id: str
    department: str
    parked_at: float


@dataclass(frozen=True, slots=True)
class SlotDue:
    """A caller who checked in early for an appointment: its slot starts now, it enters the queue."""

    call_id: str


@dataclass(frozen=True, slots=True)
class ReservationEnds:
    """The booked officer's turn (officer_first_s) is over: the department may take the caller."""

    call_id: str
    until: float


Deadline = (
    RingTimeout
    | WrapUpEnds
    | OverflowCheck
    | PositionPush
    | HeldExpires
    | ParkExpires
    | SlotDue
    | ReservationEnds
)
Timers = DeadlineHeap[Deadline]

E = TypeVar("E")


class DeadlineHandler(NamedTuple, Generic[E]):
    """What the router does with one kind of entry: whether it still matters, and what it does when due."""

    is_live: Callable[[E], bool]
    fire: Callable[[E, float, list[Decision]], None]


# Entry type -> its handler; each handler takes exactly that type (the table is keyed by it).
DeadlineTable = dict[type[Any], DeadlineHandler[Any]]
