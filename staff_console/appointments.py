"""Appointments (予約) over the server's staff REST API (docs/appointments.md); Qt-free.

``GET /api/appointments/me?date=`` is the signed-in officer's booked slots of a day, ``GET /api/appointments
?department=&date=`` a department's bookings (officers: their departments; supervisors: those they
supervise), ``GET /api/appointments/stats?from=&to=`` the no-show rate per department (supervisors). Every
request carries the console's session token (``Authorization: Bearer``); refusals and network errors
become one ``AppointmentError``.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

TIMEOUT_S = 15.0
STATES = ("booked", "checked_in", "served", "no_show", "cancelled")


class AppointmentError(Exception):
    """The server refused, or could not be reached; ``message(language)`` is for the officer."""

    def __init__(self, code: str, *, status: int | None = None, ja: str = "", en: str = ""):
        super().__init__(f"{code} ({status})" if status else code)
        self.code = code
        self.status = status
        self.ja = ja
        self.en = en

    def message(self, language: str) -> str:
        return (self.ja if language == "ja" else self.en) or self.en or self.ja or str(self)


@dataclass(frozen=True)
class Booking:
    """One booking as the staff API lists it (``staff_view``): name and contact as the resident gave them."""

    booking_id: str
    department: str = ""
    procedure: str | None = None
    start: str = ""  # ISO 8601 in the city's zone, to the minute
    slot_start: float = 0.0
    name: str = ""
    contact: str = ""
    email: str | None = None
    state: str = "booked"
    notes: str = ""
    officer: str | None = None
    channel: str = ""

    @property
    def time(self) -> str:
        """``HH:MM`` of the slot, as the server wrote it (the city's zone)."""
        return self.start[11:16] if len(self.start) >= 16 else self.start

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Booking:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known and v is not None})


@dataclass(frozen=True)
class DepartmentDay:
    department: str
    date: str
    bookings: list[Booking]
    no_show_rate: float | None = None  # of the day's bookings that are over; None: none over yet


class AppointmentClient:
    """The read-only staff calls; ``base`` gives the server's http(s) origin, ``token`` the session token."""

    def __init__(
        self,
        base: Callable[[], str],
        token: Callable[[], str | None],
        ssl_context: Callable[[], ssl.SSLContext | None] = lambda: None,
    ):
        self._base = base
        self._token = token
        self._ssl = ssl_context

    async def my_day(self, day: dt.date) -> list[Booking]:
        data = await self._get("/api/appointments/me", {"date": day.isoformat()})
        return _bookings(data)

    async def department_day(self, department: str, day: dt.date) -> DepartmentDay:
        """A department's bookings of a day and that day's no-show rate (supervisors)."""
        query = {"department": department, "date": day.isoformat()}
        data = await self._get("/api/appointments", query)
        stats = await self._get("/api/appointments/stats", {"from": day.isoformat(), "to": day.isoformat()})
        counts = (stats.get("departments") or {}).get(department) or {}
        rate = counts.get("no_show_rate")
        return DepartmentDay(
            department=department,
            date=str(data.get("date", day.isoformat())),
            bookings=_bookings(data),
            no_show_rate=float(rate) if isinstance(rate, int | float) else None,
        )

    async def _get(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        token = self._token()
        if token is None:
            raise AppointmentError("not_signed_in")
        context = self._ssl()
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as http,
                http.get(
                    self._base() + path,
                    params=query,
                    headers={"Authorization": f"Bearer {token}"},
                    ssl=context if context is not None else True,
                ) as response,
            ):
                if response.status == 200:
                    data = await response.json()
                    return data if isinstance(data, dict) else {}
                raise await _refusal(response)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("appointments: GET %s failed: %s", path, type(exc).__name__)
            raise AppointmentError("unreachable", ja=str(exc), en=str(exc)) from exc


def _bookings(data: dict[str, Any]) -> list[Booking]:
    rows = data.get("bookings") or []
    listed = [Booking.from_json(r) for r in rows if isinstance(r, dict) and r.get("booking_id")]
    return sorted(listed, key=lambda b: (b.slot_start, b.start))


async def _refusal(response: aiohttp.ClientResponse) -> AppointmentError:
    try:
        data = await response.json(content_type=None)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return AppointmentError(f"http_{response.status}", status=response.status)
    detail = str(data.get("detail") or data.get("message") or "")
    return AppointmentError(
        str(data.get("error") or f"http_{response.status}"),
        status=response.status,
        ja=str(data.get("message_ja") or detail),
        en=str(data.get("message_en") or detail),
    )
