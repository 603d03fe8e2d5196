"""The public booking page (/booking, no sign-in) and its JSON API: departments and procedures, free
slots, book, and with the PIN look up, cancel, reschedule and download the .ics file.

Abuse limits: a booking flood from one address is refused by the service (per day, persisted); wrong
PINs lock the address out with growing lockouts; every POST must come from this server's own page.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from signaling_server.access import Refusal, public
from signaling_server.appkeys import CONFIG
from signaling_server.appointments.ics import booking_ics
from signaling_server.appointments.model import BookingRefused, BookingRequest, Channel
from signaling_server.appointments.qr import qr_svg
from signaling_server.appointments.service import PUBLIC
from signaling_server.appointments.shared import (
    APPOINTMENTS,
    booked_view,
    day_param,
    json_body,
    local_iso,
    number_field,
    public_view,
    refused,
    text_field,
)
from signaling_server.appointments.texts import LANGUAGES, text
from signaling_server.web_pages import json_page, json_page_error, static_response

BOOKING_DIR = Path(__file__).resolve().parent.parent / "web" / "booking"
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SAME_ORIGIN = Refusal(json_page_error)

routes = web.RouteTableDef()


def _tz(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[CONFIG].city.timezone)


def _address(request: web.Request) -> str:
    return request.remote or "unknown"


@routes.get("/booking")
@public()
async def booking_page(request: web.Request) -> web.StreamResponse:
    return web.Response(
        body=(BOOKING_DIR / "index.html").read_bytes(),
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": PAGE_CSP,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


@routes.get("/booking/static/{name}")
@public()
async def booking_static(request: web.Request) -> web.StreamResponse:
    return static_response(BOOKING_DIR, request.match_info["name"])


@routes.get("/api/booking/departments")
@public()
async def bookable_departments(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    service = request.app[APPOINTMENTS]
    bookable = set(service.departments)
    return json_page(
        {
            "city": {
                "name_ja": config.city.name_ja,
                "name_en": config.city.name_en,
                "phone": config.city.phone,
                "timezone": config.city.timezone,
            },
            "departments": [
                {
                    "id": d.id,
                    "name_ja": d.name_ja,
                    "name_en": d.name_en,
                    "slot_minutes": service.calendar(d.id).rules.slot_minutes,
                    "procedures": [
                        {"id": p.id, "name_ja": p.name_ja, "name_en": p.name_en}
                        for p in config.procedures
                        if p.department == d.id
                    ],
                }
                for d in config.departments
                if d.id in bookable
            ],
        }
    )


@routes.get("/api/booking/days")
@public()
async def bookable_days(request: web.Request) -> web.Response:
    """Days up to the horizon with at least one free slot."""
    service = request.app[APPOINTMENTS]
    try:
        department = request.query.get("department", "")
        calendar = service.calendar(department)
        days = [
            d.isoformat()
            for d in calendar.bookable_days(service.clock())
            if service.slots(department, d, bookable_only=True)
        ]
    except BookingRefused as exc:
        return refused(exc)
    return json_page({"department": department, "days": days})


@routes.get("/api/booking/slots")
@public()
async def free_slots(request: web.Request) -> web.Response:
    service = request.app[APPOINTMENTS]
    tz = _tz(request)
    try:
        department = request.query.get("department", "")
        slots = service.slots(department, day_param(request, tz), bookable_only=True)
    except BookingRefused as exc:
        return refused(exc)
    return json_page(
        {
            "department": department,
            "slots": [
                {"start": s.start, "end": s.end, "time": local_iso(s.start, tz)[11:16], "free": s.free}
                for s in slots
            ],
        }
    )


@routes.post("/api/booking")
@public(same_origin=True, refusal=SAME_ORIGIN)
async def book(request: web.Request) -> web.Response:
    service = request.app[APPOINTMENTS]
    try:
        data = await json_body(request)
        language = text_field(data, "language", limit=10) or "ja"
        if language not in LANGUAGES:
            raise BookingRefused("bad_input", "language")
        booked = service.book(
            BookingRequest(
                department=text_field(data, "department", required=True, limit=64) or "",
                slot_start=number_field(data, "slot_start"),
                name=text_field(data, "name", required=True, limit=100) or "",
                contact=text_field(data, "contact", limit=40) or "",
                email=text_field(data, "email", limit=254),
                procedure=text_field(data, "procedure", limit=64),
                language=language,
                notes=text_field(data, "notes", limit=500) or "",
                channel=Channel.WEB,
            ),
            actor=PUBLIC,
            address=_address(request),
        )
    except BookingRefused as exc:
        return refused(exc)
    qr = "data:image/svg+xml;base64," + base64.b64encode(qr_svg(booked.qr_payload)).decode()
    return json_page(booked_view(booked, _tz(request), qr), status=201)


async def _pin(request: web.Request) -> tuple[dict, str]:
    data = await json_body(request)
    return data, text_field(data, "pin", required=True, limit=40) or ""


@routes.post("/api/booking/lookup")
@public(same_origin=True, refusal=SAME_ORIGIN)
async def lookup(request: web.Request) -> web.Response:
    service = request.app[APPOINTMENTS]
    try:
        _data, pin = await _pin(request)
        booking = service.lookup(pin, address=_address(request))
    except BookingRefused as exc:
        return refused(exc)
    return json_page(public_view(booking, _tz(request)))


@routes.post("/api/booking/cancel")
@public(same_origin=True, refusal=SAME_ORIGIN)
async def cancel(request: web.Request) -> web.Response:
    service = request.app[APPOINTMENTS]
    try:
        _data, pin = await _pin(request)
        booking = service.cancel(pin, address=_address(request))
    except BookingRefused as exc:
        return refused(exc)
    return json_page(public_view(booking, _tz(request)))


@routes.post("/api/booking/reschedule")
@public(same_origin=True, refusal=SAME_ORIGIN)
async def reschedule(request: web.Request) -> web.Response:
    service = request.app[APPOINTMENTS]
    try:
        data, pin = await _pin(request)
        booking = service.reschedule(pin, number_field(data, "slot_start"), address=_address(request))
    except BookingRefused as exc:
        return refused(exc)
    return json_page(public_view(booking, _tz(request)))


@routes.post("/api/booking/ics")
@public(same_origin=True, refusal=SAME_ORIGIN)
async def ics(request: web.Request) -> web.StreamResponse:
    """The booking's calendar file (POST: the PIN stays out of URLs and logs)."""
    service = request.app[APPOINTMENTS]
    config = request.app[CONFIG]
    try:
        _data, pin = await _pin(request)
        booking = service.lookup(pin, address=_address(request))
    except BookingRefused as exc:
        return refused(exc)
    dep = config.department(booking.department)
    english = booking.language == "en"
    values = {
        "city": config.city.name_en if english else config.city.name_ja,
        "department": dep.name_en if english else dep.name_ja,
    }
    body = booking_ics(
        booking,
        summary=text(booking.language, "summary", **values),
        location=text(booking.language, "location"),
        description=text(booking.language, "description"),
        host=request.host.split(":")[0] or "madoguchi",
    )
    day = dt.datetime.fromtimestamp(booking.slot_start, _tz(request)).strftime("%Y%m%d-%H%M")
    return web.Response(
        body=body.encode(),
        headers={
            "Content-Type": "text/calendar; charset=utf-8",
            "Content-Disposition": f'attachment; filename="madoguchi-{day}.ics"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
