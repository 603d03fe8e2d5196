"""What the appointment routes share: the service's app key, JSON bodies read within bounds, refusals as
JSON with the status each reason deserves, and a booking as the pages and consoles see it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from signaling_server.appointments.model import Booked, Booking, BookingRefused
from signaling_server.appointments.reminders import Reminders
from signaling_server.appointments.service import AppointmentService
from signaling_server.web_pages import json_page

APPOINTMENTS = web.AppKey("appointments", AppointmentService)
REMINDERS = web.AppKey("appointment_reminders", Reminders)
MAX_BODY = 8 * 1024

_STATUS = {
    "slot_full": 409,
    "blocked": 409,
    "not_active": 409,
    "flood": 429,
    "pin_locked": 429,
    "pin_unknown": 404,
    "not_bookable": 404,
}


def refused(exc: BookingRefused) -> web.Response:
    body: dict[str, Any] = {"error": exc.reason, "detail": exc.detail}
    response = json_page(body, status=_STATUS.get(exc.reason, 400))
    if exc.retry_after_s is not None:
        body["retry_after_s"] = round(exc.retry_after_s)
        response = json_page(body, status=429)
        response.headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
    return response


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object (at most MAX_BODY bytes), or BookingRefused("bad_input")."""
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise BookingRefused("bad_input", "the request is too large")
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BookingRefused("bad_input", "the request is not JSON") from None
    if not isinstance(data, dict):
        raise BookingRefused("bad_input", "the request must be a JSON object")
    return data


def text_field(data: dict[str, Any], name: str, *, required: bool = False, limit: int = 500) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise BookingRefused("bad_input", name)
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BookingRefused("bad_input", name)
    return value


def number_field(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BookingRefused("bad_input", name)
    return float(value)


def day_param(request: web.Request, tz: ZoneInfo, name: str = "date") -> dt.date:
    """The date in ?name=YYYY-MM-DD, or today (the service's clock, city time)."""
    raw = request.query.get(name, "")
    try:
        if raw:
            return dt.date.fromisoformat(raw)
        return dt.datetime.fromtimestamp(request.app[APPOINTMENTS].clock(), tz).date()
    except ValueError:
        raise BookingRefused("bad_input", f"{name} must be YYYY-MM-DD") from None


def local_iso(when: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(when, tz).isoformat(timespec="minutes")


def public_view(booking: Booking, tz: ZoneInfo) -> dict[str, Any]:
    """What the resident sees of its own booking (after giving the PIN): no staff notes, no officer."""
    return {
        "booking_id": booking.booking_id,
        "department": booking.department,
        "procedure": booking.procedure,
        "slot_start": booking.slot_start,
        "slot_end": booking.slot_end,
        "start": local_iso(booking.slot_start, tz),
        "name": booking.name,
        "state": booking.state.value,
        "language": booking.language,
    }


def staff_view(booking: Booking, tz: ZoneInfo) -> dict[str, Any]:
    view = public_view(booking, tz)
    view.update(
        {
            "officer": booking.officer,
            "contact": booking.contact,
            "email": booking.email,
            "notes": booking.notes,
            "channel": booking.channel.value,
            "created_by": booking.created_by,
            "checked_in_at": booking.checked_in_at,
            "call_id": booking.call_id,
        }
    )
    return view


def booked_view(booked: Booked, tz: ZoneInfo, qr: str) -> dict[str, Any]:
    """The confirmation: the booking, its PIN (shown once) and the QR code as an SVG data URL."""
    view = public_view(booked.booking, tz)
    view.update({"pin": booked.pin, "qr": qr})
    return view
