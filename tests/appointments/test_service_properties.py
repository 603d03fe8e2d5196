"""Random sequences of bookings, cancellations, reschedules, supervisors' changes, check-ins and time
passing against the booking service: no slot ever holds more live bookings than its capacity allows
(as it was when each booking was made), no PIN opens two bookings, and the counts add up."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from config.loader import load_config
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
