"""What the router knows of an appointment: the claim a checked-in booking carries, and who is reserved
for which booked officer.

The booking service (`signaling_server.appointments`) owns bookings; the router sees only this claim.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from signaling_server.routing.decisions import RouterError


@dataclass(frozen=True, slots=True)
class AppointmentClaim:
    """A checked-in booking: its slot start (epoch s), the booked officer (if any) and how long that
    officer alone is offered the caller once the slot has started."""

    booking_id: str
    slot_start: float
    officer_id: str | None = None
    officer_first_s: float = 60.0
    department: str | None = None  # the booking's (a kiosk may check in without naming one)
    procedure: str | None = None  # the booking's procedure (for the kiosk's confirmation slip)

    def __post_init__(self) -> None:
        if not isinstance(self.booking_id, str) or not self.booking_id:
            raise RouterError("an appointment claim needs a booking id")
        if not math.isfinite(self.slot_start):
            raise RouterError("an appointment's slot start must be a finite time")
        if not (math.isfinite(self.officer_first_s) and self.officer_first_s >= 0):
            raise RouterError("officer_first_s must be a non-negative number of seconds")

    def to_json(self) -> dict[str, Any]:
        return {
            "booking_id": self.booking_id,
            "slot_start": self.slot_start,
            "officer_id": self.officer_id,
            "officer_first_s": self.officer_first_s,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppointmentClaim:
        officer = data.get("officer_id")
        return cls(
            booking_id=str(data["booking_id"]),
            slot_start=float(data["slot_start"]),
            officer_id=None if officer is None else str(officer),
            officer_first_s=float(data.get("officer_first_s", 60.0)),
        )


class Reservations:
    """Callers set aside for their booked officer until a deadline: call → (officer, until), and per
    officer its reserved calls in the order they were reserved."""

    __slots__ = ("_by_call", "_by_officer")

    def __init__(self) -> None:
        self._by_call: dict[str, tuple[str, float]] = {}
        self._by_officer: dict[str, list[str]] = {}

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._by_call

    def __len__(self) -> int:
        return len(self._by_call)

    def add(self, call_id: str, officer_id: str, until: float) -> None:
        self.discard(call_id)
        self._by_call[call_id] = (officer_id, until)
        self._by_officer.setdefault(officer_id, []).append(call_id)

    def officer_of(self, call_id: str) -> str | None:
        entry = self._by_call.get(call_id)
        return None if entry is None else entry[0]

    def until(self, call_id: str) -> float | None:
        entry = self._by_call.get(call_id)
        return None if entry is None else entry[1]

    def first_for(self, officer_id: str) -> str | None:
        calls = self._by_officer.get(officer_id)
        return calls[0] if calls else None

    def discard(self, call_id: str) -> bool:
        entry = self._by_call.pop(call_id, None)
        if entry is None:
            return False
        calls = self._by_officer[entry[0]]
        calls.remove(call_id)
        if not calls:
            del self._by_officer[entry[0]]
        return True


class CheckInRefused(Exception):
    """A kiosk's check-in was refused: ``reason`` is the wire's ``call_refused`` reason (appointment_*),
    ``department`` the booking's when the PIN is for another one."""

    def __init__(
        self,
        reason: str,
        *,
        department: str | None = None,
        slot_start: float | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.department = department
        self.slot_start = slot_start
        self.retry_after_s = retry_after_s


class CheckInDesk(Protocol):
    """What the switchboard asks when a kiosk checks in with a PIN (the booking service answers)."""

    def kiosk_check_in(
        self, pin: str, *, kiosk_id: str, department: str | None, call_id: str
    ) -> AppointmentClaim:
        """The claim for the router (with the booking's department), or CheckInRefused. ``department``
        None: the kiosk did not name one, any department's booking is checked in."""
        ...
