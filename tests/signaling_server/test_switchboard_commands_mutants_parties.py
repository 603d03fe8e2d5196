"""The command handlers' rarer parties, pinned where ``./run-mutation commands`` found them unchecked: a kiosk
checking in for a booking at a switchboard with a booking desk (the real ``AppointmentService`` on the
harness's store), a family member leaving a call, and the end of a one-stop case's call written into a
kiosk's dead connection after the kiosk had hung up on an earlier department."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from remote_call import protocol as p
from remote_call.protocol import ErrorCode, ProtocolError
from signaling_server.appointments import AppointmentService, BookingRequest
from signaling_server.appointments.tables import BookingTables
from signaling_server.audit import AuditLog
from signaling_server.auth import AuthError
from signaling_server.db import DatabaseUnavailable
from signaling_server.store import Store
from signaling_server.switchboard.board import AUDIT_ACTIONS
from signaling_server.switchboard.guest_links import GuestRedeemed

from .conftest import FakeClock, Harness, kiosk, officer
from .test_switchboard_commands_mutants import business

TOKYO = ZoneInfo("Asia/Tokyo")
SLOT = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO).timestamp()  # a kosodate slot on a Wednesday


def refused(harness: Harness, client: Any, message: p.Wire) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        harness.send(client, message)
    return caught.value


# ------------------------------------------------------------------ a booking desk


def with_desk(harness: Harness, clock: FakeClock) -> tuple[AppointmentService, str]:
    """The harness's switchboard rebuilt with the booking service on its store, and one kosodate booking
    for SLOT made the day before: (service, its PIN)."""
    audit = AuditLog(harness.store.conn, extra_actions=AUDIT_ACTIONS, clock=clock)
    service = AppointmentService(harness.config, BookingTables(harness.store.conn), audit, clock=clock)
    harness.appointments = service
    harness.board = harness._build()
    clock.now = SLOT - 86_400
    booked = service.book(
        BookingRequest(department="kosodate", slot_start=SLOT, name="盛岡 花子", contact="019-000-0000"),
        actor="jiro",
    )
    return service, booked.pin


def test_a_check_in_at_exactly_the_slots_start_is_not_early(harness: Harness, clock: FakeClock) -> None:
    _service, pin = with_desk(harness, clock)
    clock.now = SLOT
    k, inbox = harness.connect(kiosk())
    harness.send(k, p.RequestCall(appointment_pin=pin))
    (checked_in,) = inbox.only(p.AppointmentCheckedIn)
    assert (checked_in.department, checked_in.slot_start, checked_in.early) == (
        "kosodate", "2026-11-25T10:00+09:00", False,
    )  # fmt: skip


def test_a_check_in_a_minute_before_the_slot_is_early(harness: Harness, clock: FakeClock) -> None:
    _service, pin = with_desk(harness, clock)
    clock.now = SLOT - 60
    k, inbox = harness.connect(kiosk())
    harness.send(k, p.RequestCall(appointment_pin=pin))
    (checked_in,) = inbox.only(p.AppointmentCheckedIn)
    assert checked_in.early is True


def test_the_desk_hears_which_kiosk_checked_in(harness: Harness, clock: FakeClock) -> None:
    _service, pin = with_desk(harness, clock)
    clock.now = SLOT - 60
    k, _ = harness.connect(kiosk("kiosk-tonan"))
    harness.send(k, p.RequestCall(appointment_pin=pin))
    (entry,) = harness.board.audit.entries(action="appointment_checked_in")
    assert entry.actor == "kiosk:kiosk-tonan"


def test_a_business_may_not_check_in_even_where_a_desk_is(harness: Harness, clock: FakeClock) -> None:
    _service, pin = with_desk(harness, clock)
    clock.now = SLOT
    b, inbox = harness.connect(business())
    error = refused(harness, b, p.RequestCall(department="kosodate", appointment_pin=pin))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.FORBIDDEN, "appointments are checked in at a kiosk", "request_call",
    )  # fmt: skip
    assert harness.board.calls == {} and inbox.only(p.AppointmentCheckedIn) == []
    assert harness.board.audit.entries(action="appointment_checked_in") == []


def test_a_booking_for_a_department_no_longer_served_remotely_is_refused(
    harness: Harness, clock: FakeClock
) -> None:
    _service, pin = with_desk(harness, clock)  # the service keeps the configuration it booked with
    departments = [
        d.model_copy(update={"remote": False}) if d.id == "kosodate" else d
        for d in harness.config.departments
    ]
    harness.config = harness.config.model_copy(update={"departments": departments})
    harness.board = harness._build()  # restarted with kosodate listed for reference only
    clock.now = SLOT
    k, inbox = harness.connect(kiosk())
    harness.send(k, p.RequestCall(appointment_pin=pin))  # a PIN alone: the booking's department
    assert inbox.only(p.CallRefused) == [p.CallRefused(department="kosodate", reason="unknown_department")]
    assert harness.board.calls == {} and inbox.only(p.AppointmentCheckedIn) == []


# ------------------------------------------------------------------ a family member


def session_of(harness: Harness, secret: str) -> str:
    """The guest session a link's secret gives (what ``POST /api/guest/redeem`` hands the browser)."""
    redeemed = harness.board.guests.redeem(secret)
    assert isinstance(redeemed, GuestRedeemed)
    return redeemed.session_token


def test_a_guest_leaves_and_the_call_goes_on(harness: Harness) -> None:
    _k, k_inbox, _o, o_inbox, call_id = harness.call_in_progress()
    guests = harness.board.guests
    _link, secret = guests.links.create(call_id, "hanako", name="盛岡 次郎")
    credentials = p.SessionCredentials(token=session_of(harness, secret))
    guest, g_inbox = harness.connect(guests.principal(credentials))
    assert harness.board.calls[call_id].guest == guest.identity
    g_inbox.take()
    k_inbox.take()
    harness.send(guest, p.LeaveCall(call_id=call_id))
    assert g_inbox.only(p.CallEnded) == [p.CallEnded(call_id=call_id, reason=p.EndReason.COMPLETED)]
    left = p.PartyLeft.model_validate({"call_id": call_id, "party": "guest", "reason": "left"})
    assert k_inbox.only(p.PartyLeft) == [left] and o_inbox.only(p.PartyLeft) == [left]
    call = harness.board.calls[call_id]
    assert call.guest is None and call.state is p.CallState.IN_CALL
    with pytest.raises(AuthError):
        guests.principal(credentials)  # single use: a guest that left does not come back


def test_a_guest_may_not_leave_a_call_it_is_not_in(harness: Harness) -> None:
    _k, _, _o, _, call_id = harness.call_in_progress()
    guests = harness.board.guests
    _link, secret = guests.links.create(call_id, "hanako")
    credentials = p.SessionCredentials(token=session_of(harness, secret))
    guest, _ = harness.connect(guests.principal(credentials))
    error = refused(harness, guest, p.LeaveCall(call_id="c404"))
    assert (error.code, error.detail, error.about) == (
        ErrorCode.NOT_FOUND, "you are not in call 'c404'", "leave_call",
    )  # fmt: skip
    assert harness.board.calls[call_id].guest == guest.identity


# ------------------------------------------------------------------ a one-stop case's end


def test_a_one_stop_cases_end_reaches_a_kiosk_that_hung_up_on_an_earlier_department(
    harness: Harness,
) -> None:
    """The kiosk hangs up on the first department: the case goes on to the next one, and the kiosk must
    still hear of the call's end when it later comes, even if written into a connection already dead."""
    k, k_inbox = harness.connect(kiosk())
    first, first_inbox = harness.connect(officer("hanako", skills={"okuyami": "primary"}))
    harness.send(k, p.RequestCall(department="okuyami"))
    call_id = first_inbox.only(p.CallOffer)[-1].call_id
    harness.send(first, p.AcceptCall(call_id=call_id))
    for client in (k, first):
        harness.send(client, p.MediaConnected(call_id=call_id))
    harness.send(k, p.EndCall(call_id=call_id))
    (moved,) = k_inbox.only(p.CallTransferred)
    call = harness.board.calls[call_id]
    assert call.state is p.CallState.QUEUED and call.record.department == moved.to_department
    # The kiosk's connection dies unnoticed; an officer of the next department answers, then ends it.
    k_inbox.take()
    nxt, nxt_inbox = harness.connect(officer("jiro", skills={moved.to_department: "primary"}))
    harness.send(nxt, p.AcceptCall(call_id=nxt_inbox.only(p.CallOffer)[-1].call_id))
    harness.send(nxt, p.EndCall(call_id=call_id, outcome="resolved"))
    assert call_id not in harness.board.calls
    assert k_inbox.only(p.CallEnded) != []  # written into the dead connection
    _again, again_inbox = harness.connect(kiosk())  # the kiosk's new connection
    assert again_inbox.only(p.CallEnded) == [p.CallEnded(call_id=call_id, reason=p.EndReason.COMPLETED)]


# ------------------------------------------------------------------ the record database gone


def test_a_call_asked_for_while_the_record_database_is_unreachable_is_refused_naming_it(
    make_harness: Callable[..., Harness], postgres_url: str
) -> None:
    """The switchboard's store on a real PostgreSQL database whose connection is then cut."""
    harness = make_harness()
    harness.store.close()
    harness.store = Store(postgres_url)
    try:
        harness.board = harness._build()
        k, _ = harness.connect(kiosk())
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(DatabaseUnavailable):
            harness.store.db.execute("SELECT 1")  # the server notices at its next statement
        assert not harness.store.db.available
        error = refused(harness, k, p.RequestCall(department="kosodate"))
        assert (error.code, error.about) == (ErrorCode.INTERNAL, "request_call")
        assert error.detail == f"{harness.store.db.unreachable()}: no new call can start now"
        assert "unreachable" in error.detail and harness.board.calls == {}
    finally:
        harness.store.close()
