"""A day of one department, simulated on the router with a fake clock: every resident who checks in on
time for a booking is offered to an officer within the grace period, walk-ins are all served, nobody is
lost and the statistics add up.

The numbers are the ones the rule relies on (docs/routing.md, "Appointments"): one bookable officer per
30-minute slot out of two on shift, walk-in calls of at most 8 minutes, appointment calls of at most 25,
officers answering at once. Then at a slot one officer is at worst in a walk-in call for 8 minutes more
(the other may be with the previous slot's resident), and the head place of the appointment gets it the
first officer who is free: within the 10-minute grace.
"""

from __future__ import annotations

import heapq
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from signaling_server.routing import AppointmentClaim, Connect, Ring, Router

from .conftest import WORKDAY_10AM, FakeClock, make_department

SLOT_S = 1800.0
GRACE_S = 600.0
OFFICERS = ("o1", "o2")

booking = st.tuples(
    st.booleans(),  # booked?
    st.sampled_from([None, *OFFICERS]),  # booked officer
    st.floats(min_value=-1800, max_value=GRACE_S),  # check-in relative to the slot start (late ≤ grace)
    st.floats(min_value=60, max_value=1500),  # call length
)
walk_in = st.tuples(st.floats(min_value=0, max_value=8 * SLOT_S), st.floats(min_value=30, max_value=480))


class Day:
    def __init__(self) -> None:
        self.clock = FakeClock(WORKDAY_10AM - 3600)
        dep = make_department("a", wrap_up_s=0, overflow_after_s=None, ring_timeout_s=20, max_queue=1000)
        self.router = Router([dep], clock=self.clock)
        self.events: list[tuple[float, int, str, tuple]] = []
        self.seq = itertools.count()
        self.length: dict[str, float] = {}
        self.offered: dict[str, float] = {}
        self.ended: set[str] = set()

    def at(self, when: float, kind: str, *args: object) -> None:
        heapq.heappush(self.events, (when, next(self.seq), kind, args))

    def apply(self, out: list) -> None:
        for d in out:
            if isinstance(d, Ring):
                self.offered.setdefault(d.call_id, self.clock.now)
                self.apply(self.router.accept(d.officer_id, d.call_id))
            elif isinstance(d, Connect):
                self.at(self.clock.now + self.length[d.call_id], "end", d.call_id)

    def run(self) -> None:
        while True:
            deadline = self.router.next_deadline()
            event_at = self.events[0][0] if self.events else None
            if deadline is None and event_at is None:
                return
            if event_at is not None and (deadline is None or event_at <= deadline):
                when, _, kind, args = heapq.heappop(self.events)
                self.clock.now = max(self.clock.now, when)
                self.handle(kind, args)
            else:
                assert deadline is not None
                self.clock.now = max(self.clock.now, deadline)
                self.apply(self.router.tick())

    def handle(self, kind: str, args: tuple) -> None:
        if kind == "online":
            self.apply(self.router.officer_online(args[0], {"a": "primary"}))
        elif kind == "join":
            call, claim = args
            self.apply(self.router.join(call, "a", kiosk_id=call, appointment=claim))
        elif kind == "end":
            self.ended.add(args[0])
            self.apply(self.router.call_finished(args[0]))


@settings(max_examples=60, deadline=None)
@given(bookings=st.lists(booking, min_size=1, max_size=8), walk_ins=st.lists(walk_in, max_size=120))
def test_on_time_appointments_are_offered_within_the_grace_and_walk_ins_are_served(bookings, walk_ins):
    day = Day()
    for officer in OFFICERS:
        day.at(WORKDAY_10AM - 3600, "online", officer)
    due: dict[str, float] = {}  # call -> the latest time it must be offered
    for index, (booked, officer, check_in, length) in enumerate(bookings):
        if not booked:
            continue
        slot = WORKDAY_10AM + index * SLOT_S
        call = f"appt{index}"
        day.length[call] = length
        due[call] = max(slot, slot + check_in) + GRACE_S
        day.at(slot + check_in, "join", call, AppointmentClaim(f"b{index}", slot, officer, 60.0))
    for index, (offset, length) in enumerate(walk_ins):
        call = f"walk{index}"
        day.length[call] = length
        day.at(WORKDAY_10AM + offset, "join", call, None)
    day.run()
    for call, latest in due.items():
        assert day.offered[call] <= latest, (
            f"{call} offered {day.offered[call] - latest:.0f} s after its grace"
        )
    assert day.ended == set(day.length), "somebody was never served"
    stats = day.router.stats()["departments"]["a"]
    assert stats["offered"] == stats["answered"] == len(day.length)
    assert stats["waiting"] == stats["abandoned"] == 0
    assert sum(o["answered"] for o in day.router.stats()["officers"].values()) == len(day.length)
