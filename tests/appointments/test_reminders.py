"""The day-before reminder e-mail through a real local SMTP server (aiosmtpd on loopback), in the booking's
language, sent once; and the no-show sweep of the same job."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from config.schema import SmtpConfig
from signaling_server.appointments import BookingState
from signaling_server.appointments.reminders import Reminders
from signaling_server.business.mailer import Mailer

from .conftest import WEDNESDAY, at, request


class _Loopback(Controller):
    """aiosmtpd on port 0: it learns its real port before checking that it answers."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _Inbox:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.queue: asyncio.Queue[EmailMessage] = asyncio.Queue()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self._loop.call_soon_threadsafe(self.queue.put_nowait, message)
        return "250 OK"


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[_Inbox, int]]:
    inbox = _Inbox(asyncio.get_running_loop())
    controller = _Loopback(inbox, hostname="127.0.0.1", port=0)
    await asyncio.to_thread(controller.start)
    try:
        yield inbox, controller.port
    finally:
        await asyncio.to_thread(controller.stop)


async def test_the_day_before_each_booking_with_an_address_is_reminded_once_in_its_language(
    service, config, clock, smtp
):
    inbox, port = smtp
    mailer = Mailer(
        SmtpConfig(host="127.0.0.1", port=port, starttls=False, from_address="madoguchi@city.example.jp")
    )
    reminders = Reminders(config, service, mailer, page_url="https://madoguchi.example.jp/booking")
    thursday = WEDNESDAY.replace(day=26)
    ja = service.book(request(at(thursday, 10), email="hanako@example.jp"), actor="public", address="a")
    service.book(request(at(thursday, 11), email="anna@example.com", name="Anna", language="en"), actor="x")
    service.book(request(at(thursday, 13)), actor="x")  # no e-mail address: nobody to remind
    clock.now = at(WEDNESDAY, 9, 59)
    assert await reminders.run_once() == (0, 0)  # before reminder_time (10:00)
    clock.now = at(WEDNESDAY, 10)
    assert await reminders.run_once() == (0, 2)
    mails = [await inbox.queue.get() for _ in range(2)]
    by_to = {m["To"]: m for m in mails}
    japanese = by_to["hanako@example.jp"]
    assert japanese["Subject"] == "【盛岡市】明日のリモート窓口のご予約"
    body = japanese.get_content()
    assert "盛岡 花子 様" in body and "10:00" in body and "子育てあんしん課" in body
    assert ja.pin not in body  # the PIN is never mailed
    english = by_to["anna@example.com"].get_content()
    assert "Dear Anna" in english and "Child and Family Support Division" in english and "11:00" in english
    assert await reminders.run_once() == (0, 0)  # once only
    assert inbox.queue.empty()
    clock.now = at(thursday, 10, 11)
    assert await reminders.run_once() == (1, 0)  # 10:00 was not checked in: a no-show
    assert service.get(ja.booking.booking_id).state is BookingState.NO_SHOW


async def test_without_a_mail_server_there_are_no_reminders_and_nothing_is_marked(service, config, clock):
    reminders = Reminders(config, service, Mailer(SmtpConfig()), page_url="/booking")
    booked = service.book(request(at(WEDNESDAY.replace(day=26), 10), email="hanako@example.jp"), actor="x")
    clock.now = at(WEDNESDAY, 12)
    assert await reminders.run_once() == (0, 0)
    assert service.get(booked.booking.booking_id).reminded_at is None


async def test_residents_are_told_once_per_change_when_the_hours_change_under_their_booking(
    service, config, clock, smtp
):
    inbox, port = smtp
    mailer = Mailer(
        SmtpConfig(host="127.0.0.1", port=port, starttls=False, from_address="madoguchi@city.example.jp")
    )
    reminders = Reminders(config, service, mailer, page_url="https://madoguchi.example.jp/booking")
    thursday = WEDNESDAY.replace(day=26)
    ja = service.book(request(at(thursday, 10), email="hanako@example.jp"), actor="public", address="a")
    en = service.book(
        request(at(thursday, 10, 30), email="anna@example.com", name="Anna", language="en"), actor="x"
    )
    service.book(request(at(thursday, 11)), actor="x")  # no e-mail address: the supervisor phones
    assert await reminders.notify_affected("kosodate") == 0  # nothing changed yet
    service.set_capacity("kosodate", at(thursday, 10), 0, actor="kacho")
    service.set_capacity("kosodate", at(thursday, 10, 30), 0, actor="kacho")
    service.set_capacity("kosodate", at(thursday, 11), 0, actor="kacho")
    assert len(service.affected("kosodate")) == 3
    assert await reminders.notify_affected("kosodate") == 2
    by_to = {m["To"]: m for m in [await inbox.queue.get() for _ in range(2)]}
    japanese = by_to["hanako@example.jp"]
    assert japanese["Subject"] == "【盛岡市】ご予約の時間に窓口をご案内できなくなりました"
    body = japanese.get_content()
    assert "盛岡 花子 様" in body and "11月26日 10:00" in body and "子育てあんしん課" in body
    assert ja.pin not in body and "https://madoguchi.example.jp/booking" in body
    english = by_to["anna@example.com"].get_content()
    assert "Dear Anna" in english and "2026-11-26 at 10:30" in english and en.pin not in english
    assert await reminders.notify_affected("kosodate") == 0  # once per booking per change
    clock.advance(60)
    assert await reminders.run_once() == (0, 0) and inbox.queue.empty()  # the minute job does not repeat it
    moved = service.reschedule(ja.pin, at(thursday, 13), address="a")  # moved, then that slot is blocked too
    service.set_capacity("kosodate", moved.slot_start, 0, actor="kacho")
    assert await reminders.notify_affected("kosodate") == 1  # a new change for the same booking
    assert "13:00" in (await inbox.queue.get()).get_content()
    notified = [e for e in service._audit.entries() if e.action == "appointment_notified"]
    assert len(notified) == 3 and all("@" not in str(e) for e in notified)  # ids and times, no address
