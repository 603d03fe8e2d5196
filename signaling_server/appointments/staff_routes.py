"""The consoles' and supervisors' appointment API (staff session, Bearer): the officer's day, a
department's bookings and slots, 電話予約 (booking for a resident on the phone), block or add slots,
the bookings a change of hours affected, and booking statistics with the no-show rate."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aiohttp import web

from remote_call.protocol import Role
from signaling_server import policy
from signaling_server.access import PRINCIPAL, Refusal, Scope, json_error, requires
from signaling_server.appkeys import CONFIG
from signaling_server.appointments.model import BookingRefused, BookingRequest, Channel
from signaling_server.appointments.shared import (
    APPOINTMENTS,
    REMINDERS,
    booked_view,
    day_param,
    json_body,
    local_iso,
    number_field,
    refused,
    staff_view,
    text_field,
)
from signaling_server.auth import Principal
from signaling_server.web_pages import json_page

routes = web.RouteTableDef()

SIGN_IN = Refusal(json_error, "sign in first", "officers and supervisors only")
SUPERVISORS = Refusal(json_error, "sign in as a supervisor", "supervisors only")
BOOKERS = frozenset({Role.OFFICER, Role.SUPERVISOR})


def _tz(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[CONFIG].city.timezone)


def _department(request: web.Request, principal: Principal, department: str | None) -> str:
    """The department asked for, which must be one of the principal's (``policy.departments_of``: an
    officer's served, a supervisor's supervised departments)."""
    if not department:
        raise BookingRefused("bad_input", "department")
    if department not in policy.departments_of(principal):
        raise web.HTTPForbidden(text=f"{department} is not one of your departments")
    return department


@routes.get("/api/appointments/me")
@requires(roles=BOOKERS, refusal=SIGN_IN, scope=Scope.OWN)
async def my_day(request: web.Request) -> web.Response:
    """The signed-in officer's booked slots of one day (?date=, default today), with notes."""
    service = request.app[APPOINTMENTS]
    tz = _tz(request)
    try:
        day = day_param(request, tz)
    except BookingRefused as exc:
        return refused(exc)
    bookings = service.bookings(officer=request[PRINCIPAL].identity, day=day)
    return json_page({"date": day.isoformat(), "bookings": [staff_view(b, tz) for b in bookings]})


@routes.get("/api/appointments")
@requires(roles=BOOKERS, refusal=SIGN_IN, scope=Scope.DEPARTMENTS)
async def department_day(request: web.Request) -> web.Response:
    """A department's bookings and slots of one day (?department=&date=)."""
    service = request.app[APPOINTMENTS]
    tz = _tz(request)
    try:
        department = _department(request, request[PRINCIPAL], request.query.get("department"))
        day = day_param(request, tz)
        slots = service.slots(department, day)
    except BookingRefused as exc:
        return refused(exc)
    return json_page(
        {
            "department": department,
            "date": day.isoformat(),
            "slots": [
                {
                    "start": s.start,
                    "time": local_iso(s.start, tz)[11:16],
                    "capacity": s.capacity,
                    "booked": s.booked,
                    "on_shift": service.on_shift(department, s.start),  # the roster's officers, or None
                }
                for s in slots
            ],
            "bookings": [staff_view(b, tz) for b in service.bookings(department=department, day=day)],
        }
    )


@routes.post("/api/appointments")
@requires(roles=BOOKERS, refusal=SIGN_IN, scope=Scope.DEPARTMENTS)
async def phone_booking(request: web.Request) -> web.Response:
    """電話予約: an officer books for a resident on the phone (same rules as the page, no address limit);
    the PIN in the answer is read out to the resident."""
    service = request.app[APPOINTMENTS]
    principal = request[PRINCIPAL]
    try:
        data = await json_body(request)
        department = _department(request, principal, text_field(data, "department", limit=64))
        booked = service.book(
            BookingRequest(
                department=department,
                slot_start=number_field(data, "slot_start"),
                name=text_field(data, "name", required=True, limit=100) or "",
                contact=text_field(data, "contact", limit=40) or "",
                email=text_field(data, "email", limit=254),
                procedure=text_field(data, "procedure", limit=64),
                language=text_field(data, "language", limit=10) or "ja",
                notes=text_field(data, "notes", limit=500) or "",
                officer=text_field(data, "officer", limit=64),
                channel=Channel.BUSINESS if data.get("channel") == "business" else Channel.PHONE,
            ),
            actor=principal.identity,
        )
    except BookingRefused as exc:
        return refused(exc)
    return json_page(booked_view(booked, _tz(request), qr=""), status=201)


@routes.put("/api/appointments/slots")
@requires(roles={Role.SUPERVISOR}, refusal=SUPERVISORS, scope=Scope.DEPARTMENTS)
async def change_slot(request: web.Request) -> web.Response:
    """Block a slot (capacity 0) or add or widen one; the answer lists bookings now over capacity."""
    service = request.app[APPOINTMENTS]
    try:
        data = await json_body(request)
        capacity = data.get("capacity")
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise BookingRefused("bad_input", "capacity")
        over = service.set_capacity(
            _department(request, request[PRINCIPAL], text_field(data, "department", limit=64)),
            number_field(data, "slot_start"),
            capacity,
            actor=request[PRINCIPAL].identity,
        )
    except BookingRefused as exc:
        return refused(exc)
    return json_page({"over_capacity": [staff_view(b, _tz(request)) for b in over]})


@routes.get("/api/appointments/affected")
@requires(roles={Role.SUPERVISOR}, refusal=SUPERVISORS, scope=Scope.DEPARTMENTS)
async def affected(request: web.Request) -> web.Response:
    """Bookings a change of hours, a holiday or a blocked slot left without a place: call them. Residents
    with an e-mail address are told at once (once per booking per change); `notified` counts them."""
    service = request.app[APPOINTMENTS]
    try:
        department = _department(request, request[PRINCIPAL], request.query.get("department"))
        notified = await request.app[REMINDERS].notify_affected(department)
        bookings = service.affected(department)
    except BookingRefused as exc:
        return refused(exc)
    return json_page({"bookings": [staff_view(b, _tz(request)) for b in bookings], "notified": notified})


@routes.get("/api/appointments/stats")
@requires(roles={Role.SUPERVISOR, Role.IT_ADMIN}, refusal=SUPERVISORS, scope=Scope.DEPARTMENTS)
async def stats(request: web.Request) -> web.Response:
    """Bookings by state and the no-show rate per department (counts only: a supervisor its departments, IT
    all), slots in ?from=&to= (default: 30 days back and 30 ahead of today)."""
    service = request.app[APPOINTMENTS]
    tz = _tz(request)
    today = dt.datetime.fromtimestamp(service.clock(), tz).date()
    try:
        to = day_param(request, tz, "to") if request.query.get("to") else today + dt.timedelta(days=30)
        since = day_param(request, tz, "from") if request.query.get("from") else today - dt.timedelta(days=30)
    except BookingRefused as exc:
        return refused(exc)
    until = to + dt.timedelta(days=1)
    start = dt.datetime.combine(since, dt.time(), tz).timestamp()
    end = dt.datetime.combine(until, dt.time(), tz).timestamp()
    principal = request[PRINCIPAL]
    seen = service.departments if principal.role is Role.IT_ADMIN else policy.departments_of(principal)
    return json_page(
        {
            "from": since.isoformat(),
            "to": (until - dt.timedelta(days=1)).isoformat(),
            "departments": {d: service.counts(d, start, end) for d in service.departments if d in seen},
        }
    )
