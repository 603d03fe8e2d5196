"""The booking service: one set of rules for every way a booking comes in (the public page, 電話予約 by
staff, a business invitation) and for check-in at the kiosk.

Time comes from the injected clock; what the service decides comes back as frozen records (`Booked`,
`Booking`, `CheckIn`, `Slot`) or as `BookingRefused` with a reason every catalog has a message for. State
lives in the appointment tables on the Store's connection (restart safe: nothing is kept only in memory
but the PIN throttle), and every change is appended to the audit log after it is committed.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from config.schema import AppConfig
from signaling_server.appointments.model import (
    ACTIVE_STATES,
    Booked,
    Booking,
    BookingRefused,
    BookingRequest,
    BookingState,
    Slot,
    check_transition,
)
from signaling_server.appointments.pins import PinGuard, PinKey, new_pin, parse_pin
from signaling_server.appointments.shifts import Roster
from signaling_server.appointments.slots import SlotCalendar
from signaling_server.appointments.tables import BookingTables, PinTaken
from signaling_server.audit import AuditLog
from signaling_server.ratelimit import LoginThrottle
from signaling_server.routing import AppointmentClaim, CheckInRefused

MAX_NAME = 100
MAX_CONTACT = 40
MAX_EMAIL = 254
MAX_NOTES = 500
_CONTACT = re.compile(r"^[0-9+()\- ]*$")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
_LANGUAGE = re.compile(r"^[a-z]{2}(-[a-z]{2,8})?$")
PUBLIC = "public"
# A check-in refusal as the wire's call_refused reason (remote_call.protocol.CallRefused).
_WIRE_REFUSAL = {
    "pin_locked": "appointment_locked",
    "too_early": "appointment_too_early",
    "other_department": "appointment_other_department",
}


@dataclass(frozen=True, slots=True)
class CheckIn:
    """A resident checked in at a kiosk: the booking and what the router is to know of it."""

    booking: Booking
    claim: AppointmentClaim


class AppointmentService:
    def __init__(
        self,
        config: AppConfig,
        tables: BookingTables,
        audit: AuditLog,
        *,
        clock: Callable[[], float] = time.time,
        throttle: LoginThrottle | None = None,
        call_answered: Callable[[str], bool] = lambda _call_id: False,
    ) -> None:
        self._config = config.appointments
        self._call_answered = call_answered
        self._tz = ZoneInfo(config.city.timezone)
        self._tables = tables
        self._audit = audit
        self._clock = clock
        self._key = PinKey(tables.conn)
        failures = self._config.pin_failures
        self._guard = PinGuard(throttle or LoginThrottle(max_failures=failures, clock=clock))
        hours = {d.id: d.hours for d in config.departments}
        self.roster = Roster(self._config.shifts, self._tz)
        self._calendars = {
            a.department: SlotCalendar(a, hours[a.department], self._tz, self.roster)
            for a in self._config.departments
        }
        self._procedures = {p.id: p.department for p in config.procedures}

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @property
    def departments(self) -> list[str]:
        return list(self._calendars)

    def calendar(self, department: str) -> SlotCalendar:
        calendar = self._calendars.get(department)
        if calendar is None:
            raise BookingRefused("not_bookable", f"{department!r} takes no bookings")
        return calendar

    # ------------------------------------------------------------------ slots

    def slots(self, department: str, day: dt.date, *, bookable_only: bool = False) -> list[Slot]:
        """The department's slots on `day` with places taken; `bookable_only`: those one may book now."""
        calendar = self.calendar(department)
        overrides = self._tables.overrides(department)
        start = dt.datetime.combine(day, dt.time(), self._tz).timestamp()
        taken = self._tables.taken_between(department, start, start + 2 * 86_400)
        now = self._clock()
        result = []
        for times in calendar.day(day, overrides):
            slot = Slot(department, times.start, times.end, times.capacity, taken.get(times.start, 0))
            if bookable_only:
                try:
                    calendar.check_window(slot.start, now)
                except BookingRefused:
                    continue
                if slot.free == 0:
                    continue
            result.append(slot)
        return result

    def on_shift(self, department: str, start: float) -> list[str] | None:
        """The officers on shift for the department's slot at `start`; None when no roster names it."""
        calendar = self.calendar(department)
        if not self.roster.covers(department):
            return None
        return sorted(self.roster.on_shift(department, start, start + calendar.slot_s))

    def set_capacity(self, department: str, start: float, capacity: int, *, actor: str) -> list[Booking]:
        """A supervisor blocks a slot (0) or adds or widens one; returns the bookings now over capacity,
        which the supervisor must move or cancel (nothing is cancelled by this)."""
        calendar = self.calendar(department)
        if not 0 <= capacity <= 100:
            raise BookingRefused("bad_input", "capacity must be between 0 and 100")
        if start not in calendar.grid(calendar.local_day(start)) and not calendar.addable(start):
            raise BookingRefused("no_such_slot", "the department is not open for that whole slot")
        now = self._clock()
        with self._tables.exclusive():
            self._tables.set_override(department, start, capacity, actor, now)
        self._audit.append(
            actor, "appointment_slots_changed", department, {"slot_start": start, "capacity": capacity}
        )
        over = self._tables.query(department=department, start=start, end=start + 1, states=ACTIVE_STATES)
        return over[calendar.capacity(start, self._tables.overrides(department)) :]  # the roster may cap it

    # ------------------------------------------------------------------ booking

    def book(self, request: BookingRequest, *, actor: str, address: str = "") -> Booked:
        """Book a slot: BookingRefused when it is not bookable, full, or the address booked too much."""
        calendar = self.calendar(request.department)
        self._validate(request)
        now = self._clock()
        calendar.check_window(request.slot_start, now)
        booking = Booking(
            booking_id=secrets.token_hex(8),
            department=request.department,
            procedure=request.procedure,
            slot_start=request.slot_start,
            slot_end=request.slot_start + calendar.slot_s,
            officer=request.officer,
            name=request.name.strip(),
            contact=request.contact.strip(),
            email=request.email.strip() if request.email else None,
            language=request.language,
            notes=request.notes.strip(),
            channel=request.channel,
            state=BookingState.BOOKED,
            created_at=now,
            created_by=actor,
        )
        public = actor == PUBLIC
        for _attempt in range(20):  # a PIN already live elsewhere: draw again (rare below 10,000 live)
            pin = new_pin()
            try:
                with self._tables.exclusive():
                    if public and self._tables.count_from(address, now - 86_400) >= (
                        self._config.bookings_per_address_per_day
                    ):
                        raise BookingRefused("flood", "too many bookings from this address today")
                    self._check_room(calendar, booking, exclude=None)
                    self._tables.insert(booking, self._key.digest(pin), address if public else "")
            except PinTaken:
                continue
            self._audit.append(
                actor,
                "appointment_booked",
                booking.booking_id,
                {
                    "department": booking.department,
                    "slot_start": booking.slot_start,
                    "channel": booking.channel,
                },
            )
            return Booked(booking, pin)
        raise RuntimeError("no free PIN found")

    def _check_room(self, calendar: SlotCalendar, booking: Booking, exclude: str | None) -> None:
        """Inside the write transaction: a place is free in the slot (and the booked officer is free)."""
        overrides = self._tables.overrides(booking.department)
        capacity = calendar.capacity(booking.slot_start, overrides)
        if capacity == 0:
            raise BookingRefused("blocked" if booking.slot_start in overrides else "slot_full")
        others = [
            b
            for b in self._tables.query(
                department=booking.department,
                start=booking.slot_start,
                end=booking.slot_start + 1,
                states=ACTIVE_STATES,
            )
            if b.booking_id != exclude
        ]
        if len(others) >= capacity:
            raise BookingRefused("slot_full", "every place of that slot is taken")
        if booking.officer and not calendar.officer_on_shift(booking.officer, booking.slot_start):
            raise BookingRefused("officer_off_shift", f"{booking.officer} is not on shift then")
        if booking.officer and any(b.officer == booking.officer for b in others):
            raise BookingRefused("slot_full", f"{booking.officer} is already booked then")

    def _validate(self, request: BookingRequest) -> None:
        problems = []
        if not request.name.strip() or len(request.name) > MAX_NAME:
            problems.append("name")
        if len(request.contact) > MAX_CONTACT or not _CONTACT.match(request.contact):
            problems.append("contact")
        if request.email is not None and (len(request.email) > MAX_EMAIL or not _EMAIL.match(request.email)):
            problems.append("email")
        if len(request.notes) > MAX_NOTES:
            problems.append("notes")
        if not _LANGUAGE.match(request.language):
            problems.append("language")
        if request.procedure is not None and self._procedures.get(request.procedure) != request.department:
            problems.append("procedure")
        if not request.contact.strip() and not request.email:
            problems.append("contact")  # someone must be able to reach the resident if the slot moves
        if problems:
            raise BookingRefused("bad_input", ", ".join(sorted(set(problems))))

    # ------------------------------------------------------------------ with the PIN

    def lookup(self, pin: str, *, address: str) -> Booking:
        """The live booking with this PIN; wrong PINs count against the address (BookingRefused)."""
        self._guard.check(address)
        booking = self._tables.by_pin(self._key.digest(parse_pin(pin)))
        now = self._clock()
        if booking is None or now > booking.slot_start + self._grace(booking):  # expired with its slot
            self._guard.failed(address)
            self._audit.append(PUBLIC, "appointment_pin_failed", "", {"address": address[:100]})
            raise BookingRefused("pin_unknown", "no booking has that PIN")
        return booking

    def cancel(self, pin: str, *, address: str, actor: str = PUBLIC) -> Booking:
        booking = self.lookup(pin, address=address)
        if booking.state is not BookingState.BOOKED:
            raise BookingRefused("not_active", f"the booking is {booking.state.value}")
        return self._move(booking, BookingState.CANCELLED, actor, "appointment_cancelled")

    def reschedule(self, pin: str, slot_start: float, *, address: str, actor: str = PUBLIC) -> Booking:
        """Move a booking (same PIN) to another slot of its department, if that one has room."""
        booking = self.lookup(pin, address=address)
        if booking.state is not BookingState.BOOKED:
            raise BookingRefused("not_active", f"the booking is {booking.state.value}")
        calendar = self.calendar(booking.department)
        calendar.check_window(slot_start, self._clock())
        moved = replace(
            booking, slot_start=slot_start, slot_end=slot_start + calendar.slot_s, reminded_at=None
        )
        with self._tables.exclusive():
            self._check_room(calendar, moved, exclude=booking.booking_id)
            self._tables.update(moved)
        self._audit.append(
            actor,
            "appointment_rescheduled",
            booking.booking_id,
            {"from": booking.slot_start, "to": slot_start},
        )
        return moved

    def kiosk_check_in(
        self, pin: str, *, kiosk_id: str, department: str | None, call_id: str
    ) -> AppointmentClaim:
        """The switchboard's question (routing.CheckInDesk): the claim, or CheckInRefused as on the wire.
        ``department`` None (a kiosk that does not restrict departments): the booking's own is used."""
        try:
            return self.check_in(pin, kiosk_id=kiosk_id, department=department, call_id=call_id).claim
        except BookingRefused as exc:
            booking = exc.booking
            raise CheckInRefused(
                _WIRE_REFUSAL.get(exc.reason, "appointment_unknown"),
                department=booking.department if booking else None,
                slot_start=booking.slot_start if booking else None,
                retry_after_s=exc.retry_after_s,
            ) from None

    def check_in(
        self, pin: str, *, kiosk_id: str, department: str | None = None, call_id: str | None = None
    ) -> CheckIn:
        """A resident at a kiosk: BookingRefused too_early / other_department, or the claim. Checking in
        again (the kiosk lost its call) is allowed and records the new call."""
        booking = self.lookup(pin, address=f"kiosk:{kiosk_id}")
        if department is not None and department != booking.department:
            raise BookingRefused(
                "other_department", f"the booking is for {booking.department}", booking=booking
            )
        rules = self.calendar(booking.department).rules
        now = self._clock()
        if now < booking.slot_start - rules.early_minutes * 60:
            early = f"check in at most {rules.early_minutes} minutes early"
            raise BookingRefused("too_early", early, booking=booking)
        actor = f"kiosk:{kiosk_id}"
        if booking.state is BookingState.BOOKED:
            booking = self._move(
                booking,
                BookingState.CHECKED_IN,
                actor,
                "appointment_checked_in",
                checked_in_at=now,
                call_id=call_id,
            )
        elif call_id is not None and call_id != booking.call_id:
            booking = self._move(
                booking, BookingState.CHECKED_IN, actor, "appointment_checked_in", call_id=call_id
            )
        claim = AppointmentClaim(
            booking.booking_id,
            booking.slot_start,
            booking.officer,
            rules.officer_first_s,
            booking.department,
            booking.procedure,
        )
        return CheckIn(booking, claim)

    def served(self, booking_id: str, call_id: str) -> Booking | None:
        """An officer took the checked-in resident's call."""
        booking = self._tables.get(booking_id)
        if booking is None or booking.state is not BookingState.CHECKED_IN:
            return None
        return self._move(booking, BookingState.SERVED, "router", "appointment_served", call_id=call_id)

    def sweep_no_shows(self) -> list[Booking]:
        """Bookings not checked in by the end of their grace: no-shows (their places are free again).
        Checked-in ones whose call an officer has answered are served."""
        for booking in self._tables.query(states=(BookingState.CHECKED_IN,)):
            if booking.call_id is not None and self._call_answered(booking.call_id):
                self.served(booking.booking_id, booking.call_id)
        now = self._clock()
        late = self._tables.query(end=now, states=(BookingState.BOOKED,))
        return [
            self._move(b, BookingState.NO_SHOW, "system", "appointment_no_show")
            for b in late
            if now > b.slot_start + self._grace(b)
        ]

    def _grace(self, booking: Booking) -> float:
        calendar = self._calendars.get(booking.department)
        return 600.0 if calendar is None else calendar.rules.grace_minutes * 60.0

    def _move(
        self, booking: Booking, new: BookingState, actor: str, action: str, **changes: object
    ) -> Booking:
        check_transition(booking.booking_id, booking.state, new)
        moved = replace(booking, state=new, **changes)  # type: ignore[arg-type]
        with self._tables.exclusive():
            current = self._tables.get(booking.booking_id)
            if current is None or current.state is not booking.state:  # someone else moved it first
                raise BookingRefused("not_active", "the booking changed meanwhile")
            self._tables.update(moved)
        self._audit.append(actor, action, booking.booking_id, {"department": booking.department})
        return moved

    # ------------------------------------------------------------------ views

    def bookings(
        self, *, department: str | None = None, officer: str | None = None, day: dt.date | None = None
    ) -> list[Booking]:
        start = end = None
        if day is not None:
            start = dt.datetime.combine(day, dt.time(), self._tz).timestamp()
            end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), self._tz).timestamp()
        return self._tables.query(department=department, officer=officer, start=start, end=end)

    def get(self, booking_id: str) -> Booking | None:
        return self._tables.get(booking_id)

    def counts(self, department: str, since: float, until: float) -> dict[str, float | int | None]:
        """Bookings of slots in [since, until) by state, and the no-show rate of those that are over."""
        rows = self._tables.query(department=department, start=since, end=until, limit=100_000)
        counts: dict[str, float | int | None] = {s.value: 0 for s in BookingState}
        for booking in rows:
            counts[booking.state.value] = int(counts[booking.state.value] or 0) + 1
        due = sum(int(counts[s] or 0) for s in ("checked_in", "served", "no_show"))
        counts["no_show_rate"] = int(counts["no_show"] or 0) / due if due else None
        return counts

    def affected(self, department: str) -> list[Booking]:
        """Live bookings whose slot the department no longer has (hours changed, a holiday, blocked) or
        that are over the slot's capacity: the supervisor calls these residents."""
        return [booking for booking, _change in self.affected_changes(department)]

    def affected_changes(self, department: str) -> list[tuple[Booking, str]]:
        """`affected` with what changed for each ("<slot start>:<why>"): a resident is told once per
        booking per change (a booking moved, or a slot narrowed again, is a new change)."""
        calendar = self.calendar(department)
        overrides = self._tables.overrides(department)
        now = self._clock()
        live = self._tables.query(department=department, start=now, states=(BookingState.BOOKED,))
        result, seen = [], dict[float, int]()
        for booking in live:
            try:
                capacity = calendar.capacity(booking.slot_start, overrides)
            except BookingRefused as gone:
                result.append((booking, f"{booking.slot_start:.0f}:{gone.reason}"))
                continue
            seen[booking.slot_start] = seen.get(booking.slot_start, 0) + 1
            if seen[booking.slot_start] > capacity:
                result.append((booking, f"{booking.slot_start:.0f}:over:{capacity}"))
        return result

    def notices_due(self, department: str) -> list[tuple[Booking, str]]:
        """Affected bookings with an e-mail address whose resident has not been told of this change."""
        return [
            (booking, change)
            for booking, change in self.affected_changes(department)
            if booking.email and not self._tables.noticed(booking.booking_id, change)
        ]

    def noticed(self, booking: Booking, change: str) -> None:
        with self._tables.exclusive():
            self._tables.record_notice(booking.booking_id, change, self._clock())
        self._audit.append("system", "appointment_notified", booking.booking_id, {"change": change})

    def reminders_due(self) -> list[Booking]:
        """Bookings with an e-mail address whose slot is tomorrow, once the reminder time has come today."""
        now = dt.datetime.fromtimestamp(self._clock(), self._tz)
        hour, minute = (int(x) for x in self._config.reminder_time.split(":"))
        if now.time() < dt.time(hour, minute):
            return []
        tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), self._tz).timestamp()
        rows = self._tables.query(start=tomorrow, end=tomorrow + 86_400, states=(BookingState.BOOKED,))
        return [b for b in rows if b.email and b.reminded_at is None]

    def reminded(self, booking: Booking) -> None:
        with self._tables.exclusive():
            self._tables.update(replace(booking, reminded_at=self._clock()))
        self._audit.append("system", "appointment_reminded", booking.booking_id, {})
