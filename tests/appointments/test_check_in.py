"""A kiosk checks in with a booking's PIN (request_call with appointment_pin): early, it waits for its slot
(appointment_checked_in), then the booked officer is rung first; wrong PINs, another department's PIN and
a check-in too early get call_refused with a reason; the booking becomes served once an officer answers."""

from __future__ import annotations

from typing import Any

import pytest

from remote_call import protocol as p
from remote_call.protocol import Role
from signaling_server.appointments import AppointmentService, BookingState
from signaling_server.appointments.tables import BookingTables
from signaling_server.audit import AuditLog
from signaling_server.auth import Principal
from signaling_server.store import Store
from signaling_server.switchboard import Client, Switchboard
from signaling_server.switchboard.board import AUDIT_ACTIONS
from signaling_server.testing import test_config

from .conftest import WEDNESDAY, FakeClock, at, request


class Inbox:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def send_raw(self, text: str) -> None:
        self.texts.append(text)

    def only(self, kind: type[Any]) -> list[Any]:
        messages = [p.parse_message(t, max_bytes=1 << 22) for t in self.texts]
        return [m for m in messages if isinstance(m, kind)]


class Desk:
    def __init__(self) -> None:
        self.clock = FakeClock(at(WEDNESDAY, 8))
        self.store = Store(":memory:")
        config = test_config()
        audit = AuditLog(self.store.conn, extra_actions=AUDIT_ACTIONS, clock=self.clock)
        self.service = AppointmentService(
            config,
            BookingTables(self.store.conn),
            audit,
            clock=self.clock,
            call_answered=lambda call_id: getattr(self.store.call(call_id), "answered_at", None) is not None,
        )
        self.board = Switchboard(config, self.store, clock=self.clock, audit=audit, appointments=self.service)

    def connect(self, principal: Principal) -> tuple[Client, Inbox]:
        inbox = Inbox()
        client = Client(principal=principal, send_raw=inbox.send_raw, close=lambda: None)
        inbox.send_raw(p.encode(self.board.attach(client)))
        self.board.resume(client)
        return client, inbox

    def officer(self, name: str) -> tuple[Client, Inbox]:
        return self.connect(Principal(Role.OFFICER, name, name, {"kosodate": "primary"}, f"s-{name}"))

    def kiosk(self, name: str = "kiosk-ueda") -> tuple[Client, Inbox]:
        return self.connect(Principal(Role.KIOSK, name, name, {}))

    def send(self, client: Client, message: p.Wire) -> None:
        self.board.handle(client, message, p.encode(message))


@pytest.fixture
def desk():
    desk = Desk()
    yield desk
    desk.store.close()


def test_an_early_check_in_waits_for_its_slot_then_rings_the_booked_officer_first(desk):
    booked = desk.service.book(request(at(WEDNESDAY, 10), officer="hanako"), actor="jiro")
    _jiro, jiro_inbox = desk.officer("jiro")  # idle longest: a walk-in would ring jiro first
    desk.clock.advance(1)
    hanako, hanako_inbox = desk.officer("hanako")
    kiosk, kiosk_inbox = desk.kiosk()
    desk.clock.now = at(WEDNESDAY, 9, 30)
    desk.send(kiosk, p.RequestCall(department="kosodate", appointment_pin=booked.pin))
    [checked] = kiosk_inbox.only(p.AppointmentCheckedIn)
    assert checked.early and checked.slot_start == "2026-11-25T10:00+09:00"
    assert kiosk_inbox.only(p.Queued) == [] and hanako_inbox.only(p.CallOffer) == []
    desk.clock.now = at(WEDNESDAY, 10)
    desk.board.tick()
    assert [o.call_id for o in hanako_inbox.only(p.CallOffer)] == [checked.call_id]
    assert jiro_inbox.only(p.CallOffer) == []
    desk.send(hanako, p.AcceptCall(call_id=checked.call_id))
    desk.service.sweep_no_shows()
    assert desk.service.get(booked.booking.booking_id).state is BookingState.SERVED


def test_wrong_pins_another_departments_pin_and_early_arrivals_are_refused_with_a_reason(desk):
    booked = desk.service.book(request(at(WEDNESDAY, 10)), actor="jiro")
    kiosk, inbox = desk.kiosk()
    desk.send(kiosk, p.RequestCall(department="kosodate", appointment_pin=booked.pin))  # 08:00, slot 10:00
    desk.send(kiosk, p.RequestCall(department="kenko-hoken", appointment_pin=booked.pin))
    wrong = "000000" if booked.pin != "000000" else "111111"
    for _ in range(6):
        desk.send(kiosk, p.RequestCall(department="kosodate", appointment_pin=wrong))
    refusals = [(r.reason, r.department, r.slot_start) for r in inbox.only(p.CallRefused)]
    assert refusals[0] == ("appointment_too_early", "kosodate", "2026-11-25T10:00+09:00")
    assert refusals[1] == ("appointment_other_department", "kosodate", "2026-11-25T10:00+09:00")
    assert [r[0] for r in refusals[2:]] == ["appointment_unknown"] * 5 + ["appointment_locked"]
    assert inbox.only(p.CallRefused)[-1].retry_after_s == pytest.approx(30)
    assert desk.board.calls == {}


def test_only_a_kiosk_checks_in_with_a_pin(desk):
    client, _inbox = desk.connect(Principal(Role.OFFICER, "x", "x", {}, "t"))
    with pytest.raises(p.ProtocolError):
        desk.send(client, p.RequestCall(department="kosodate", appointment_pin="123456"))


def test_a_pin_alone_checks_in_at_the_bookings_own_department(desk):
    procedure = next(p.id for p in test_config().procedures if p.department == "shimin-toroku")
    booked = desk.service.book(
        request(at(WEDNESDAY, 10), department="shimin-toroku", procedure=procedure), actor="jiro"
    )
    kiosk, inbox = desk.kiosk()
    wrong = "000000" if booked.pin != "000000" else "111111"
    desk.send(kiosk, p.RequestCall(appointment_pin=wrong))
    [unknown] = inbox.only(p.CallRefused)
    assert (unknown.reason, unknown.department) == ("appointment_unknown", None)
    desk.clock.now = at(WEDNESDAY, 9, 30)
    desk.send(kiosk, p.RequestCall(appointment_pin=booked.pin))  # the kiosk names no department
    [checked] = inbox.only(p.AppointmentCheckedIn)
    assert (checked.department, checked.procedure, checked.early) == ("shimin-toroku", procedure, True)
    assert desk.board.calls[checked.call_id].record.department == "shimin-toroku"
    assert desk.service.get(booked.booking.booking_id).state is BookingState.CHECKED_IN
    with pytest.raises(ValueError, match="department"):
        p.RequestCall()  # without a PIN a department is still needed
