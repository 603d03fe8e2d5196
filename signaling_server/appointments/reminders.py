"""The day-before e-mail reminders, the no-show sweep, and the mail telling residents that the hours changed
under their booking: what the appointments' background task does once a minute (all only read the clock
and the tables, so a test calls `run_once` directly). The supervisor's `affected` route sends the
hours-changed mail at once, too; each resident gets it once per booking per change."""

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

    def mail(self, booking: Booking, kind: str = "reminder") -> Mail:
        """The mail of ``kind`` (reminder: the day before; changed: the hours changed) for ``booking``."""
        language = booking.language
        name_ja, name_en = self._names.get(booking.department, (booking.department, booking.department))
        city = self._config.city
        grace = self._service.calendar(booking.department).rules.grace_minutes
        start = dt.datetime.fromtimestamp(booking.slot_start, self._tz)
        when = start.strftime("%H:%M")
        day = start.strftime("%Y-%m-%d") if language == "en" else f"{start.month}月{start.day}日"
        values = {
            "name": booking.name,
            "department": name_en if language == "en" else name_ja,
            "city": city.name_en if language == "en" else city.name_ja,
            "phone": city.phone,
            "when": when,
            "day": day,
            "grace": grace,
            "url": self._page_url,
        }
        assert booking.email is not None
        return Mail(
            to=booking.email,
            subject=text(language, f"{kind}_subject", **values),
            body=text(language, f"{kind}_body", **values),
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
            for department in self._service.departments:
                await self.notify_affected(department)
        return len(no_shows), sent

    async def notify_affected(self, department: str) -> int:
        """Mail each affected booking's resident (with an address) once per change; returns how many."""
        if not self._mailer.enabled:
            return 0
        sent = 0
        for booking, change in self._service.notices_due(department):
            failure = await self._mailer.send(self.mail(booking, "changed"))
            if failure is None:
                self._service.noticed(booking, change)
                sent += 1
            else:
                log.warning("hours-changed mail for booking %s not sent: %s", booking.booking_id, failure)
        return sent
