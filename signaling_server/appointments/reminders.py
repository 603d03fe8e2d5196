"""The day-before e-mail reminders and the no-show sweep: what the appointments' background task does
once a minute (both only read the clock and the tables, so a test calls `run_once` directly)."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from config.schema import AppConfig
from signaling_server.appointments.model import Booking
from signaling_server.appointments.service import AppointmentService
from signaling_server.appointments.texts import text
from signaling_server.business.mailer import Mail, Mailer

log = logging.getLogger(__name__)


class Reminders:
    def __init__(self, config: AppConfig, service: AppointmentService, mailer: Mailer, page_url: str) -> None:
        self._config = config
        self._service = service
        self._mailer = mailer
        self._tz = ZoneInfo(config.city.timezone)
        self._page_url = page_url
        self._names = {d.id: (d.name_ja, d.name_en) for d in config.departments}

    def mail(self, booking: Booking) -> Mail:
        language = booking.language
        name_ja, name_en = self._names.get(booking.department, (booking.department, booking.department))
        city = self._config.city
        grace = self._service.calendar(booking.department).rules.grace_minutes
        when = dt.datetime.fromtimestamp(booking.slot_start, self._tz).strftime("%H:%M")
        values = {
            "name": booking.name,
            "department": name_en if language == "en" else name_ja,
            "city": city.name_en if language == "en" else city.name_ja,
            "phone": city.phone,
            "when": when,
            "grace": grace,
            "url": self._page_url,
        }
        assert booking.email is not None
        return Mail(
            to=booking.email,
            subject=text(language, "reminder_subject", **values),
            body=text(language, "reminder_body", **values),
        )

    async def run_once(self) -> tuple[int, int]:
        """Mark no-shows, send due reminders; returns (no-shows, reminders sent)."""
        no_shows = self._service.sweep_no_shows()
        sent = 0
        if self._mailer.enabled:
            for booking in self._service.reminders_due():
                failure = await self._mailer.send(self.mail(booking))
                if failure is None:
                    self._service.reminded(booking)
                    sent += 1
                else:
                    log.warning("reminder for booking %s not sent: %s", booking.booking_id, failure)
        return len(no_shows), sent
