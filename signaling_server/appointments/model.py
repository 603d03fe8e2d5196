"""Bookings as the service hands them out: frozen records, their states and the transitions allowed
between them (a named error otherwise), and the refusals every caller of the service gets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BookingState(StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    SERVED = "served"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class Channel(StrEnum):
    WEB = "web"  # the public booking page
    PHONE = "phone"  # 電話予約: an officer or clerk books while on the phone
    BUSINESS = "business"  # an officer books the time of a business invitation


ACTIVE_STATES = (BookingState.BOOKED, BookingState.CHECKED_IN, BookingState.SERVED)  # hold capacity
PIN_STATES = (BookingState.BOOKED, BookingState.CHECKED_IN)  # the PIN still works

# BOOKED -> BOOKED: a reschedule. CHECKED_IN -> NO_SHOW: checked in but gone before any officer took the call.
ALLOWED: dict[BookingState, frozenset[BookingState]] = {
    BookingState.BOOKED: frozenset(
        {BookingState.BOOKED, BookingState.CHECKED_IN, BookingState.CANCELLED, BookingState.NO_SHOW}
    ),
    BookingState.CHECKED_IN: frozenset({BookingState.SERVED, BookingState.NO_SHOW, BookingState.CHECKED_IN}),
    BookingState.SERVED: frozenset(),
    BookingState.CANCELLED: frozenset(),
    BookingState.NO_SHOW: frozenset(),
}


class BookingTransitionError(Exception):
    def __init__(self, booking_id: str, old: BookingState, new: BookingState) -> None:
        super().__init__(f"booking {booking_id!r} cannot go from {old.value} to {new.value}")
        self.old = old
        self.new = new


def check_transition(booking_id: str, old: BookingState, new: BookingState) -> None:
    if new not in ALLOWED[old]:
        raise BookingTransitionError(booking_id, old, new)


# Why the service refused: each reason has a message in every catalog of the booking page and the kiosk.
REFUSAL_REASONS = frozenset(
    {
        "not_bookable",  # the department takes no bookings
        "no_such_slot",  # not a slot of that department (wrong time, outside the bookable hours)
        "closed_day",  # a public holiday, 年末年始 or a day the department is closed
        "blocked",  # a supervisor blocked the slot
        "past",  # the slot has started or is over
        "too_soon",  # closer than lead_minutes
        "too_far",  # further ahead than horizon_days
        "slot_full",  # every bookable place of the slot is taken
        "officer_off_shift",  # the booked officer is not on shift (the roster) for the whole slot
        "flood",  # too many bookings from one address
        "bad_input",  # a field is missing, too long or malformed
        "pin_unknown",  # no active booking has that PIN
        "pin_locked",  # too many wrong PINs from this address: wait retry_after_s
        "too_early",  # check-in earlier than early_minutes before the slot
        "too_late",  # check-in after the grace: the booking is a no-show; join the walk-in queue
        "other_department",  # the PIN is for another department than the one checked in at
        "not_active",  # the booking was cancelled, served or a no-show
    }
)


class BookingRefused(Exception):
    """The service said no: ``reason`` is one of REFUSAL_REASONS; ``retry_after_s`` for pin_locked."""

    def __init__(
        self,
        reason: str,
        detail: str = "",
        retry_after_s: float | None = None,
        booking: Booking | None = None,  # the booking the PIN found (wrong department, too early)
    ) -> None:
        if reason not in REFUSAL_REASONS:
            raise ValueError(f"unknown booking refusal {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.retry_after_s = retry_after_s
        self.booking = booking


@dataclass(frozen=True, slots=True)
class Booking:
    booking_id: str
    department: str
    procedure: str | None
    slot_start: float
    slot_end: float
    officer: str | None  # the booked officer, if any
    name: str
    contact: str  # phone number, as given
    email: str | None
    language: str  # ja, ja-easy, en ... (the confirmation's and the reminder's language)
    notes: str  # for the officer: what the resident needs
    channel: Channel
    state: BookingState
    created_at: float
    created_by: str  # a staff username, or "public"
    checked_in_at: float | None = None
    call_id: str | None = None
    reminded_at: float | None = None


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """What a booking needs, whichever way it comes in (page, phone, business)."""

    department: str
    slot_start: float
    name: str
    contact: str = ""
    email: str | None = None
    procedure: str | None = None
    language: str = "ja"
    notes: str = ""
    officer: str | None = None
    channel: Channel = Channel.WEB


@dataclass(frozen=True, slots=True)
class Booked:
    """A new (or moved) booking with its PIN: the only time the PIN is known in clear."""

    booking: Booking
    pin: str

    @property
    def qr_payload(self) -> str:
        """What the QR code on the confirmation encodes, read by the kiosk camera at check-in."""
        return f"MADOGUCHI-APPT:{self.pin}"


@dataclass(frozen=True, slots=True)
class Slot:
    department: str
    start: float
    end: float
    capacity: int  # bookable places (0: blocked)
    booked: int  # places taken by bookings holding capacity

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.booked)
