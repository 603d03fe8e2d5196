"""Random sequences of bookings, cancellations, reschedules, supervisors' changes, check-ins and time
passing against the booking service: no slot ever holds more live bookings than its capacity allows
(as it was when each booking was made), no PIN opens two bookings, and the counts add up. With a random
roster (officers' shifts): never more bookings in a slot than officers on shift allow, and a booked
officer only within their shift."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from config.loader import load_config
from config.schema import AppConfig, OfficerShift
from signaling_server.appointments import AppointmentService, BookingRefused, BookingState
from signaling_server.appointments.model import ACTIVE_STATES
from signaling_server.appointments.tables import BookingTables
from signaling_server.audit import AuditLog
from signaling_server.store import Store
from signaling_server.switchboard.board import AUDIT_ACTIONS

from .conftest import WEDNESDAY, FakeClock, at, request

CONFIG = load_config()
SLOTS = [at(WEDNESDAY, h, m) for h, m in ((10, 0), (10, 30), (11, 0))]
ADDRESSES = ["a1", "a2", "a3"]


class BookingMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.clock = FakeClock(at(WEDNESDAY, 8))
        self.store = Store(":memory:")
        audit = AuditLog(self.store.conn, extra_actions=AUDIT_ACTIONS, clock=self.clock)
        self.service = AppointmentService(CONFIG, BookingTables(self.store.conn), audit, clock=self.clock)
        self.pins: dict[str, str] = {}  # pin -> booking id
        self.capacity = dict.fromkeys(SLOTS, 1)
        self.widest = dict.fromkeys(SLOTS, 1)  # a slot narrowed later may hold more: affected() lists them

    def live(self, slot: float) -> int:
        return sum(
            1
            for b in self.service.bookings(department="kosodate")
            if b.slot_start == slot and b.state in ACTIVE_STATES
        )

    def within_capacity(self, slot: float) -> None:
        assert self.live(slot) <= self.capacity[slot], "a booking was taken beyond the slot's capacity"

    def teardown(self) -> None:
        self.store.close()

    @rule(
        slot=st.sampled_from(SLOTS), address=st.sampled_from(ADDRESSES), officer=st.sampled_from([None, "o1"])
    )
    def book(self, slot: float, address: str, officer: str | None) -> None:
        try:
            booked = self.service.book(request(slot, officer=officer), actor="public", address=address)
        except BookingRefused as exc:
            assert exc.reason in {"slot_full", "blocked", "flood", "too_soon", "past"}
            return
        assert booked.pin not in self.pins
        self.pins[booked.pin] = booked.booking.booking_id
        self.within_capacity(slot)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        if self.pins:
            pin = list(self.pins)[data.draw(st.integers(0, len(self.pins) - 1))]  # PINs are random
            try:
                assert self.service.cancel(pin, address="owner").state is BookingState.CANCELLED
            except BookingRefused as exc:
                assert exc.reason in {"not_active", "pin_unknown", "pin_locked"}

    @rule(data=st.data(), slot=st.sampled_from(SLOTS))
    def reschedule(self, data: st.DataObject, slot: float) -> None:
        if self.pins:
            pin = list(self.pins)[data.draw(st.integers(0, len(self.pins) - 1))]  # PINs are random
            try:
                self.service.reschedule(pin, slot, address="owner")
                self.within_capacity(slot)
            except BookingRefused as exc:
                assert exc.reason in {
                    "not_active",
                    "pin_unknown",
                    "pin_locked",
                    "slot_full",
                    "blocked",
                    "too_soon",
                    "past",
                }

    @rule(slot=st.sampled_from(SLOTS), capacity=st.integers(0, 2))
    def set_capacity(self, slot: float, capacity: int) -> None:
        self.service.set_capacity("kosodate", slot, capacity, actor="kacho")
        self.capacity[slot] = capacity
        self.widest[slot] = max(self.widest[slot], capacity)

    @rule(data=st.data())
    def check_in(self, data: st.DataObject) -> None:
        if self.pins:
            pin = list(self.pins)[data.draw(st.integers(0, len(self.pins) - 1))]  # PINs are random
            try:
                self.service.check_in(pin, kiosk_id="k1")
            except BookingRefused as exc:
                assert exc.reason in {"too_early", "pin_unknown", "pin_locked", "not_active"}

    @rule(minutes=st.sampled_from([5, 20, 45]))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(minutes * 60)
        for booking in self.service.sweep_no_shows():
            assert booking.state is BookingState.NO_SHOW

    @invariant()
    def no_slot_over_booked(self) -> None:
        for slot in SLOTS:
            assert self.live(slot) <= self.widest[slot]
            if self.live(slot) > self.capacity[slot] and slot > self.clock.now:
                over = [b for b in self.service.affected("kosodate") if b.slot_start == slot]
                booked = [b for b in self.service.bookings(department="kosodate") if b.slot_start == slot]
                if all(b.state is BookingState.BOOKED for b in booked):
                    assert len(over) == self.live(slot) - self.capacity[slot]

    @invariant()
    def one_booking_per_live_pin(self) -> None:
        for pin, booking_id in self.pins.items():
            try:
                found = self.service.lookup(pin, address="owner")
            except BookingRefused:
                continue
            assert found.booking_id == booking_id

    @invariant()
    def counts_add_up(self) -> None:
        counts = self.service.counts("kosodate", at(WEDNESDAY, 0), at(WEDNESDAY, 23))
        assert sum(int(counts[s.value] or 0) for s in BookingState) == len(self.pins)


BookingMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestBookingMachine = BookingMachine.TestCase


OFFICERS = ["o1", "o2", "o3"]
HALF_HOURS = [f"{h:02d}:{m:02d}" for h in range(9, 13) for m in (0, 30)]  # 09:00 .. 12:30


@st.composite
def rosters(draw: st.DrawFn) -> tuple[list[OfficerShift], int, int]:
    """Shifts of three officers (some not working today), walk_in_officers and bookable_officers."""
    shifts = []
    for officer in OFFICERS:
        first = draw(st.integers(0, len(HALF_HOURS) - 2))
        last = draw(st.integers(first + 1, len(HALF_HOURS) - 1))
        days = draw(st.sampled_from([["wed"], ["mon", "tue"]]))
        hours = [f"{HALF_HOURS[first]}-{HALF_HOURS[last]}"]
        shifts.append(OfficerShift(officer=officer, departments=["kosodate"], days=days, hours=hours))
    return shifts, draw(st.integers(0, 1)), draw(st.integers(1, 3))


def on_shift(shifts: list[OfficerShift], slot: float) -> set[str]:
    """The oracle, written apart from the roster: officers working the whole half hour from `slot`."""
    start = (slot - at(WEDNESDAY, 0)) / 60
    result = set()
    for shift in shifts:
        begin, end = shift.hours[0].split("-")
        first = int(begin[:2]) * 60 + int(begin[3:])
        last = int(end[:2]) * 60 + int(end[3:])
        if "wed" in shift.days and first <= start and start + 30 <= last:
            result.add(shift.officer)
    return result


class ShiftMachine(RuleBasedStateMachine):
    @initialize(roster=rosters())
    def start(self, roster: tuple[list[OfficerShift], int, int]) -> None:
        self.shifts, walk_ins, bookable = roster
        rules = [
            a.model_copy(update={"walk_in_officers": walk_ins, "bookable_officers": bookable})
            if a.department == "kosodate"
            else a
            for a in CONFIG.appointments.departments
        ]
        appointments = CONFIG.appointments.model_copy(update={"shifts": self.shifts, "departments": rules})
        config: AppConfig = CONFIG.model_copy(update={"appointments": appointments})
        self.walk_ins, self.bookable = walk_ins, bookable
        self.clock = FakeClock(at(WEDNESDAY, 7))
        self.store = Store(":memory:")
        audit = AuditLog(self.store.conn, extra_actions=AUDIT_ACTIONS, clock=self.clock)
        self.service = AppointmentService(config, BookingTables(self.store.conn), audit, clock=self.clock)
        self.supervised: set[float] = set()
        self.booked = 0

    def teardown(self) -> None:
        self.store.close()

    @rule(slot=st.sampled_from(SLOTS), officer=st.sampled_from([None, *OFFICERS]))
    def book(self, slot: float, officer: str | None) -> None:
        try:
            self.service.book(request(slot, officer=officer), actor="kacho")
            self.booked += 1
        except BookingRefused as exc:
            assert exc.reason in {"slot_full", "blocked", "officer_off_shift"}
            if exc.reason == "officer_off_shift":
                assert officer not in on_shift(self.shifts, slot)

    @rule(slot=st.sampled_from(SLOTS), capacity=st.integers(0, 3))
    def set_capacity(self, slot: float, capacity: int) -> None:
        self.service.set_capacity("kosodate", slot, capacity, actor="kacho")
        self.supervised.add(slot)

    @invariant()
    def never_more_bookings_than_officers_on_shift(self) -> None:
        live = [b for b in self.service.bookings(department="kosodate") if b.state in ACTIVE_STATES]
        for slot in SLOTS:
            working = on_shift(self.shifts, slot)
            here = [b for b in live if b.slot_start == slot]
            assert len(here) <= len(working), "more bookings than officers on shift"
            if slot not in self.supervised:
                assert len(here) <= max(0, min(self.bookable, len(working) - self.walk_ins))
            assert all(b.officer is None or b.officer in working for b in here)
            free = {s.start: s.capacity for s in self.service.slots("kosodate", WEDNESDAY)}[slot]
            assert free <= len(working)

    @invariant()
    def affected_lists_none_before_a_narrowing(self) -> None:
        if not self.supervised:
            assert self.service.affected("kosodate") == []


ShiftMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestShiftMachine = ShiftMachine.TestCase
