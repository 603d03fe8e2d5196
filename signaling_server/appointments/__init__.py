"""Appointments (予約): the booking service, its tables, the public booking page and the staff API.

`setup_appointments(app)` builds the service on the app's Store connection (its own tables), adds the
routes and runs the once-a-minute background job (no-shows, day-before reminders). See
docs/appointments.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from remote_call.tasks import cancel_and_wait
from signaling_server.access import add_routes
from signaling_server.appkeys import CONFIG, STORE
from signaling_server.appointments import public_routes, staff_routes
from signaling_server.appointments.model import Booked, Booking, BookingRefused, BookingRequest, BookingState
from signaling_server.appointments.reminders import Reminders
from signaling_server.appointments.service import AppointmentService, CheckIn
from signaling_server.appointments.shared import APPOINTMENTS, REMINDERS
from signaling_server.appointments.tables import BookingTables
from signaling_server.audit import AuditLog
from signaling_server.business.mailer import Mailer
from signaling_server.switchboard.board import AUDIT_ACTIONS

__all__ = [
    "APPOINTMENTS",
    "REMINDERS",
    "AppointmentService",
    "Booked",
    "Booking",
    "BookingRefused",
    "BookingRequest",
    "BookingState",
    "CheckIn",
    "setup_appointments",
]

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 60.0


def setup_appointments(app: web.Application, *, clock: Callable[[], float] = time.time) -> None:
    config, store = app[CONFIG], app[STORE]
    service = AppointmentService(
        config,
        BookingTables(store.conn),
        AuditLog(store.conn, extra_actions=AUDIT_ACTIONS),
        clock=clock,
        call_answered=lambda call_id: getattr(store.call(call_id), "answered_at", None) is not None,
    )
    app[APPOINTMENTS] = service
    app[REMINDERS] = Reminders(config, service, Mailer(config.smtp), page_url="/booking")
    add_routes(app, public_routes.routes)
    add_routes(app, staff_routes.routes)
    app.cleanup_ctx.append(_background)


async def _background(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_every_minute(app[REMINDERS]), name="appointments")
    yield
    await cancel_and_wait(task)


async def _every_minute(reminders: Reminders) -> None:
    while True:
        try:
            await reminders.run_once()
        except Exception:
            log.exception("the appointments' no-show sweep or reminders failed")
        await asyncio.sleep(SWEEP_EVERY_S)
