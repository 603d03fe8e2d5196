"""The booking service: slots from the configuration, booking, the last place, PINs, cancel, reschedule,
check-in, no-shows, supervisors' changes, restarts and the audit trail."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest

from signaling_server.appointments import BookingRefused, BookingState
from signaling_server.appointments.model import Channel
from signaling_server.appointments.service import PUBLIC
from signaling_server.db import open_database
from tests.db import dump

from .conftest import WEDNESDAY, at, request

THURSDAY = WEDNESDAY + dt.timedelta(days=1)


@pytest.fixture
def db(database_target: str) -> str:
    """Every test here runs on both engines: a SQLite file and a PostgreSQL database."""
    return database_target


def everything_stored(db: str) -> str:
    database = open_database(db)
    try:
        return dump.everything_stored(database)
    finally:
        database.close()


def refusal(call) -> str:
    with pytest.raises(BookingRefused) as caught:
        call()
    return caught.value.reason


def test_slots_follow_the_bookable_hours_on_open_days_only(service):
    slots = service.slots("kosodate", WEDNESDAY)
    times = [dt.datetime.fromtimestamp(s.start, dt.UTC).astimezone().strftime("%H:%M") for s in slots]
    assert len(slots) == 12 and all(s.capacity == 1 and s.free == 1 for s in slots)
    assert slots[0].start == at(WEDNESDAY, 9) and slots[-1].end == at(WEDNESDAY, 16)
    assert len(set(times)) == 12
    assert service.slots("okuyami", WEDNESDAY)[0].end - service.slots("okuyami", WEDNESDAY)[0].start == 3600
    for closed in (dt.date(2026, 11, 28), dt.date(2026, 11, 23), dt.date(2026, 12, 30), dt.date(2027, 1, 2)):
        assert service.slots("kosodate", closed) == []  # Saturday, 勤労感謝の日, 年末年始
    assert refusal(lambda: service.slots("kyuhaisui", WEDNESDAY)) == "not_bookable"


def test_a_booking_gets_a_six_digit_pin_kept_only_as_an_hmac(service, db):
    booked = service.book(request(at(WEDNESDAY, 10)), actor=PUBLIC, address="192.0.2.1")
    assert len(booked.pin) == 6 and booked.pin.isdigit()
    assert booked.qr_payload == f"MADOGUCHI-APPT:{booked.pin}"
    assert booked.booking.state is BookingState.BOOKED and booked.booking.channel is Channel.WEB
    dump = everything_stored(db)
    assert booked.pin not in dump and "盛岡 花子" in dump
    assert service.lookup(booked.pin, address="192.0.2.1").booking_id == booked.booking.booking_id
    assert service.slots("kosodate", WEDNESDAY)[2].free == 0


@pytest.mark.parametrize(
    ("today", "when", "reason"),
    [
        (WEDNESDAY, at(WEDNESDAY, 7), "past"),
        (WEDNESDAY, at(WEDNESDAY, 8, 30), "too_soon"),  # less than lead_minutes (60) ahead
        (WEDNESDAY, at(THURSDAY, 9, 15), "no_such_slot"),
        (WEDNESDAY, at(THURSDAY, 12), "no_such_slot"),  # lunch: outside the bookable hours
        (WEDNESDAY, at(dt.date(2026, 11, 28), 10), "closed_day"),  # Saturday
        (dt.date(2026, 12, 21), at(dt.date(2026, 12, 29), 10), "closed_day"),  # 年末年始
        (dt.date(2026, 12, 21), at(dt.date(2027, 1, 11), 10), "closed_day"),  # 成人の日
        (WEDNESDAY, at(dt.date(2027, 1, 28), 10), "too_far"),
    ],
)
def test_bookings_outside_the_rules_are_refused_with_a_reason(service, clock, today, when, reason):
    clock.now = at(today, 8)
    assert refusal(lambda: service.book(request(when), actor=PUBLIC, address="a")) == reason


def test_bad_input_is_refused(service):
    slot = at(THURSDAY, 10)
    for fields in (
        {"name": " "},
        {"name": "x" * 101},
        {"contact": "call me"},
        {"contact": "", "email": None},
        {"email": "not-an-address"},
        {"procedure": "kokuho-kanyu"},  # a procedure of another department
        {"notes": "x" * 501},
    ):
        assert (
            refusal(lambda f=fields: service.book(request(slot, **f), actor=PUBLIC, address="a"))
            == "bad_input"
        )


def test_two_people_booking_the_last_place_at_once_exactly_one_wins(open_service):
    services = [open_service(), open_service()]  # two connections to one file, like two server processes
    slot = at(THURSDAY, 10)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def book(service, name):
        barrier.wait()
        try:
            results.append(service.book(request(slot, name=name), actor=PUBLIC, address=name))
        except BookingRefused as exc:
            results.append(exc.reason)

    threads = [threading.Thread(target=book, args=(s, f"n{i}")) for i, s in enumerate(services)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(type, results), key=str).count(str) == 1
    assert "slot_full" in results
    assert services[0].slots("kosodate", THURSDAY)[2].booked == 1


def test_a_booking_flood_from_one_address_is_refused(service):
    for index in range(5):
        service.book(request(at(THURSDAY, 9) + index * 1800), actor=PUBLIC, address="198.51.100.7")
    assert (
        refusal(lambda: service.book(request(at(THURSDAY, 13)), actor=PUBLIC, address="198.51.100.7"))
        == "flood"
    )
    service.book(request(at(THURSDAY, 13)), actor=PUBLIC, address="198.51.100.8")
    service.book(request(at(THURSDAY, 14)), actor="hanako")  # 電話予約 by staff: no address limit


def test_cancel_frees_the_place_and_wrong_pins_lock_the_address_out(service, clock):
    booked = service.book(request(at(THURSDAY, 10)), actor=PUBLIC, address="a")
    wrong = "000000" if booked.pin != "000000" else "111111"
    for _ in range(5):
        assert refusal(lambda: service.cancel(wrong, address="attacker")) == "pin_unknown"
    with pytest.raises(BookingRefused) as locked:
        service.cancel(booked.pin, address="attacker")  # even the right PIN, while locked out
    assert locked.value.reason == "pin_locked" and locked.value.retry_after_s == pytest.approx(30)
    assert refusal(lambda: service.cancel("12345", address="b")) == "bad_input"
    cancelled = service.cancel(booked.pin, address="resident")
    assert cancelled.state is BookingState.CANCELLED
    assert refusal(lambda: service.lookup(booked.pin, address="resident")) == "pin_unknown"
    assert service.slots("kosodate", THURSDAY)[2].free == 1
    clock.advance(31)
    assert refusal(lambda: service.cancel(wrong, address="attacker")) == "pin_unknown"


def test_reschedule_keeps_the_pin_and_refuses_a_full_slot(service):
    first = service.book(request(at(THURSDAY, 10)), actor=PUBLIC, address="a")
    other = service.book(request(at(THURSDAY, 11)), actor=PUBLIC, address="b")
    assert refusal(lambda: service.reschedule(first.pin, at(THURSDAY, 11), address="a")) == "slot_full"
    moved = service.reschedule(first.pin, at(THURSDAY, 13), address="a")
    assert moved.slot_start == at(THURSDAY, 13) and moved.booking_id == first.booking.booking_id
    assert service.lookup(first.pin, address="a").slot_start == at(THURSDAY, 13)
    assert service.lookup(other.pin, address="b").slot_start == at(THURSDAY, 11)
    assert [s.booked for s in service.slots("kosodate", THURSDAY)][2:9] == [0, 0, 1, 0, 1, 0, 0]


def test_check_in_gives_the_router_its_claim_within_the_window(service, clock):
    booked = service.book(request(at(WEDNESDAY, 10), officer="hanako"), actor="jiro")
    pin = booked.pin
    assert refusal(lambda: service.check_in(pin, kiosk_id="kiosk-ueda")) == "too_early"  # 08:00, slot 10:00
    clock.now = at(WEDNESDAY, 9, 30)
    assert (
        refusal(lambda: service.check_in(pin, kiosk_id="k", department="kenko-hoken")) == "other_department"
    )
    checked = service.check_in(pin, kiosk_id="kiosk-ueda", department="kosodate")
    assert checked.booking.state is BookingState.CHECKED_IN and checked.booking.checked_in_at == clock.now
    assert (checked.claim.slot_start, checked.claim.officer_id, checked.claim.officer_first_s) == (
        at(WEDNESDAY, 10),
        "hanako",
        60,
    )
    again = service.check_in(pin, kiosk_id="kiosk-ueda")  # the kiosk lost its connection and asks again
    assert again.booking.state is BookingState.CHECKED_IN
    assert service.served(booked.booking.booking_id, "call-1").state is BookingState.SERVED


def test_a_booking_not_checked_in_by_the_end_of_its_grace_is_a_no_show(service, clock):
    late = service.book(request(at(WEDNESDAY, 10)), actor="jiro")
    on_time = service.book(request(at(WEDNESDAY, 9, 30)), actor="jiro")
    clock.now = at(WEDNESDAY, 9, 35)
    service.check_in(on_time.pin, kiosk_id="k1")
    clock.now = at(WEDNESDAY, 10, 10)
    assert service.sweep_no_shows() == []  # exactly at the end of the grace: still in time
    checked = service.check_in(late.pin, kiosk_id="k1")  # late, within the grace: keeps the booking
    assert checked.booking.state is BookingState.CHECKED_IN
    other = service.book(request(at(WEDNESDAY, 11, 30)), actor="jiro")
    clock.now = (
        at(
            WEDNESDAY,
            11,
            40,
        )
        + 1
    )
    assert [b.booking_id for b in service.sweep_no_shows()] == [other.booking.booking_id]
    assert refusal(lambda: service.check_in(other.pin, kiosk_id="k1")) == "pin_unknown"  # expired
    since, until = at(WEDNESDAY, 0), at(THURSDAY, 0)
    counts = service.counts("kosodate", since, until)
    assert counts["no_show"] == 1 and counts["checked_in"] == 2
    assert counts["no_show_rate"] == pytest.approx(1 / 3)
    assert service.slots("kosodate", WEDNESDAY)[5].free == 1  # 11:30: the no-show's place is free again


def test_bookings_survive_a_restart_and_every_change_is_audited(open_service, service, clock):
    booked = service.book(request(at(THURSDAY, 10)), actor=PUBLIC, address="a")
    service.set_capacity("kosodate", at(THURSDAY, 10), 0, actor="kacho")
    restarted = open_service()
    assert restarted.lookup(booked.pin, address="a").booking_id == booked.booking.booking_id
    assert [b.booking_id for b in restarted.affected("kosodate")] == [booked.booking.booking_id]
    assert refusal(lambda: restarted.book(request(at(THURSDAY, 10)), actor="x")) == "blocked"
    restarted.cancel(booked.pin, address="a")
    audit = restarted._audit
    actions = [e.action for e in audit.entries()]
    assert actions == ["appointment_booked", "appointment_slots_changed", "appointment_cancelled"]
    assert audit.verify().ok


def test_a_supervisor_adds_a_slot_where_the_department_is_open(service):
    lunch = at(THURSDAY, 12)
    assert refusal(lambda: service.book(request(lunch), actor="x")) == "no_such_slot"
    service.set_capacity("kosodate", lunch, 2, actor="kacho")
    service.book(request(lunch), actor="x")
    service.book(request(lunch, officer="hanako"), actor="x")
    assert refusal(lambda: service.book(request(lunch), actor="x")) == "slot_full"
    assert refusal(lambda: service.set_capacity("kosodate", at(THURSDAY, 18), 1, actor="k")) == "no_such_slot"
    assert [s.capacity for s in service.slots("kosodate", THURSDAY) if s.start == lunch] == [2]


def test_one_officer_is_not_booked_twice_in_a_slot(service):
    slot = at(THURSDAY, 10)
    service.set_capacity("kosodate", slot, 2, actor="kacho")
    service.book(request(slot, officer="hanako"), actor="x")
    assert refusal(lambda: service.book(request(slot, officer="hanako"), actor="x")) == "slot_full"


def test_a_booking_is_frozen(service):
    booked = service.book(request(at(THURSDAY, 10)), actor="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        booked.booking.state = BookingState.CANCELLED  # type: ignore[misc]
