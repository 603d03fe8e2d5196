"""The public wait board: ``/board`` (the page) and ``/api/board`` (its JSON). No login, no personal data:
department ids and names, open or closed, how many wait and the estimated wait, and the booking slots still
free today (``/booking``). The wait is the router's one estimate (``routing.estimate.wait_estimate``: a state
and minutes), rendered in six languages by the page (``?lang=ja|ja-easy|en|zh|ko|vi``)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from config.schema import NAME_FIELDS, AppConfig, localized_name
from signaling_server.access import public
from signaling_server.appkeys import CONFIG
from signaling_server.appointments.shared import APPOINTMENTS
from signaling_server.cluster.views import live_view
from signaling_server.monitor import MONITOR
from signaling_server.web_pages import html_page, json_page

BOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "form-action 'none'; base-uri 'none'"
)

routes = web.RouteTableDef()


def bookable_today(app: web.Application, now: float) -> dict[str, dict[str, Any]]:
    """Per department taking bookings: how many slots can still be booked today and the next one's time
    (city time, "HH:MM"), from the booking service's own rules (lead time, capacity, blocks)."""
    service = app.get(APPOINTMENTS)
    if service is None:
        return {}
    tz = ZoneInfo(app[CONFIG].city.timezone)
    today = dt.datetime.fromtimestamp(now, tz).date()
    found = {}
    for department in service.departments:
        slots = service.slots(department, today, bookable_only=True)
        first = min((s.start for s in slots), default=None)
        next_time = None if first is None else dt.datetime.fromtimestamp(first, tz).strftime("%H:%M")
        found[department] = {"free_slots_today": len(slots), "next_free_slot": next_time}
    return found


def department_names(config: AppConfig) -> dict[str, dict[str, str]]:
    """Each remote department's name in every language the board speaks (config.schema.localized_name:
    the shipped translations, else the Japanese or English name)."""
    return {
        dep.id: {lang: localized_name(dep, lang) for lang in NAME_FIELDS}
        for dep in config.departments
        if dep.remote
    }


def board_data(app: web.Application) -> dict[str, Any]:
    """The public wait board: departments' open state, waiting count and estimated wait, and for those
    taking bookings the slots still free today. No personal data."""
    monitor = app[MONITOR]
    view = live_view(app)  # on a follower, the leader's snapshot (cluster/views.py)
    free = bookable_today(app, monitor.clock())
    names = department_names(app[CONFIG])
    return {
        "generated_at": monitor.clock(),
        "city": monitor.city,
        "refresh_s": monitor.settings.board_refresh_s,
        "departments": [
            {
                "id": d.id,
                "name_ja": d.name_ja,
                "name_en": d.name_en,
                "names": names.get(d.id, {}),  # per board language; ja-easy with readings as {漢字|かんじ}
                "open": d.open,
                "waiting": d.waiting,
                "ewt_s": d.ewt_s,
                "wait_state": d.wait_state,  # the one estimate the kiosk tiles and the console show too
                "wait_minutes": d.wait_minutes,
                "next_open": d.next_open,
                "free_slots_today": free.get(d.id, {}).get("free_slots_today"),  # None: takes no bookings
                "next_free_slot": free.get(d.id, {}).get("next_free_slot"),
            }
            for d in view.department_infos()
        ],
    }


@routes.get("/board")
@public()
async def board_page(request: web.Request) -> web.StreamResponse:
    return html_page("board.html", BOARD_CSP)


@routes.get("/api/board")
@public()
async def board_json(request: web.Request) -> web.StreamResponse:
    response = json_page(board_data(request.app))
    response.headers["Access-Control-Allow-Origin"] = "*"  # the city website may show it
    response.headers["Cache-Control"] = "public, max-age=5"
    return response
