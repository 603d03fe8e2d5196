"""Capacity follows the officers' shifts (the roster, `[[appointments.shifts]]`): a slot's bookable places
are min(bookable_officers, officers on shift for the whole slot − walk_in_officers); a booked officer only
within their shift; a supervisor's number never exceeds the officers on shift; departments no shift
names keep `bookable_officers`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from config.loader import load_config
from config.schema import AppConfig, OfficerShift
from signaling_server.appointments import AppointmentService, BookingRefused
from signaling_server.appointments.shifts import Roster
from signaling_server.appointments.tables import BookingTables
from signaling_server.audit import AuditLog
from signaling_server.store import Store
from signaling_server.switchboard.board import AUDIT_ACTIONS

from .conftest import TOKYO, WEDNESDAY, FakeClock, at, request

SHIFTS = [
    OfficerShift(officer="abe", departments=["kosodate"], hours=["09:00-12:00"]),
    OfficerShift(officer="ito", departments=["kosodate", "shimin-toroku"], hours=["10:00-16:00"]),
    OfficerShift(officer="ueda", departments=["kosodate"], days=["mon", "wed"], hours=["08:30-17:15"]),
    OfficerShift(officer="endo", departments=["kosodate"], days=["tue"], hours=["08:30-17:15"]),
]


def with_roster(shifts: list[OfficerShift], walk_ins: int = 1, bookable: int = 2) -> AppConfig:
    config = load_config()
    rules = [
        a.model_copy(update={"walk_in_officers": walk_ins, "bookable_officers": bookable})
        if a.department == "kosodate"
        else a
        for a in config.appointments.departments
    ]
    appointments = config.appointments.model_copy(update={"shifts": shifts, "departments": rules})
    return config.model_copy(update={"appointments": appointments})


@pytest.fixture
def rostered(clock: FakeClock) -> Iterator[AppointmentService]:
    store = Store(":memory:")
    audit = AuditLog(store.conn, extra_actions=AUDIT_ACTIONS, clock=clock)
    yield AppointmentService(with_roster(SHIFTS), BookingTables(store.conn), audit, clock=clock)
    store.close()


def test_the_roster_names_who_works_the_whole_slot() -> None:
    roster = Roster(SHIFTS, TOKYO)
    assert roster.on_shift("kosodate", at(WEDNESDAY, 9), at(WEDNESDAY, 9, 30)) == {"abe", "ueda"}
    assert roster.on_shift("kosodate", at(WEDNESDAY, 9, 45), at(WEDNESDAY, 10, 15)) == {"abe", "ueda"}
    assert roster.on_shift("kosodate", at(WEDNESDAY, 11, 30), at(WEDNESDAY, 12)) == {"abe", "ito", "ueda"}
    assert roster.on_shift("kosodate", at(WEDNESDAY, 11, 45), at(WEDNESDAY, 12, 15)) == {"ito", "ueda"}
    tuesday = WEDNESDAY - dt.timedelta(days=1)
    assert roster.on_shift("kosodate", at(tuesday, 10), at(tuesday, 10, 30)) == {"abe", "ito", "endo"}
    assert roster.on_shift("shimin-toroku", at(WEDNESDAY, 9), at(WEDNESDAY, 9, 30)) == frozenset()
    assert roster.covers("kosodate") and not roster.covers("okuyami")


def test_capacity_is_the_officers_on_shift_less_the_walk_in_officers(rostered: AppointmentService) -> None:
    slots = rostered.slots("kosodate", WEDNESDAY)
    capacity = {dt.datetime.fromtimestamp(s.start, TOKYO).strftime("%H:%M"): s.capacity for s in slots}
    assert capacity["09:00"] == 1  # abe, ueda − 1 for walk-ins
    assert capacity["10:00"] == 2  # abe, ito, ueda − 1, and bookable_officers is 2
    assert capacity["13:00"] == 1  # ito, ueda − 1
    # shimin-toroku keeps no officer for walk-ins (walk_in_officers 0): ito alone, from 10:00
    toroku = {s.start: s.capacity for s in rostered.slots("shimin-toroku", WEDNESDAY)}
    assert toroku[at(WEDNESDAY, 9)] == 0 and toroku[at(WEDNESDAY, 10)] == 1
    assert {s.capacity for s in rostered.slots("okuyami", WEDNESDAY)} == {1}  # no shift names it


def test_no_more_bookings_than_the_roster_allows(rostered: AppointmentService) -> None:
    rostered.book(request(at(WEDNESDAY, 9)), actor="kacho")
    with pytest.raises(BookingRefused) as refused:
        rostered.book(request(at(WEDNESDAY, 9)), actor="kacho")
    assert refused.value.reason == "slot_full"
    with pytest.raises(BookingRefused) as nobody:
        rostered.book(request(at(WEDNESDAY, 9), department="shimin-toroku"), actor="kacho")
    assert nobody.value.reason == "slot_full"  # nobody of shimin-toroku works before 10:00


def test_a_booked_officer_only_within_their_shift(rostered: AppointmentService) -> None:
    with pytest.raises(BookingRefused) as refused:
        rostered.book(request(at(WEDNESDAY, 13), officer="abe"), actor="kacho")
    assert refused.value.reason == "officer_off_shift"
    with pytest.raises(BookingRefused):
        rostered.book(request(at(WEDNESDAY, 11, 30), officer="endo"), actor="kacho")  # a Tuesday shift
    booked = rostered.book(request(at(WEDNESDAY, 11, 30), officer="abe"), actor="kacho")
    assert booked.booking.officer == "abe"


def test_a_supervisor_may_give_walk_in_time_but_not_absent_officers(rostered: AppointmentService) -> None:
    rostered.set_capacity("kosodate", at(WEDNESDAY, 9), 5, actor="kacho")
    assert {s.start: s.capacity for s in rostered.slots("kosodate", WEDNESDAY)}[at(WEDNESDAY, 9)] == 2
    rostered.book(request(at(WEDNESDAY, 9)), actor="kacho")
    rostered.book(request(at(WEDNESDAY, 9)), actor="kacho")
    with pytest.raises(BookingRefused):
        rostered.book(request(at(WEDNESDAY, 9)), actor="kacho")  # abe and ueda are all there is
    over = rostered.set_capacity("kosodate", at(WEDNESDAY, 9), 1, actor="kacho")
    assert len(over) == 1 and rostered.set_capacity("kosodate", at(WEDNESDAY, 9), 9, actor="kacho") == []
    rostered.set_capacity("kosodate", at(WEDNESDAY, 10), 0, actor="kacho")
    with pytest.raises(BookingRefused) as blocked:
        rostered.book(request(at(WEDNESDAY, 10)), actor="kacho")
    assert blocked.value.reason == "blocked"
