"""Bookable slots of one department, as pure logic: the grid from the bookable hours, cut to the days and
spans the department is open (its opening hours, public holidays and 年末年始, the router's calendar), with
a supervisor's changes (a slot blocked, or one added with its own capacity) laid over it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from config.schema import DepartmentAppointments, OpeningHours
from signaling_server.appointments.model import BookingRefused
from signaling_server.appointments.shifts import Roster
from signaling_server.routing.hours import Calendar, closed_day_reason


def _spans(spans: list[str]) -> list[tuple[dt.time, dt.time]]:
    result = []
    for span in spans:
        start, end = span.split("-")
        h1, m1 = (int(x) for x in start.split(":"))
        h2, m2 = (int(x) for x in end.split(":"))
        result.append((dt.time(h1, m1), dt.time(23, 59, 59) if h2 == 24 else dt.time(h2, m2)))
    return result


@dataclass(frozen=True, slots=True)
class SlotTimes:
    start: float
    end: float
    capacity: int


class SlotCalendar:
    """The slots of one department: `day()` lists them, `check()` says whether one may be booked now."""

    def __init__(
        self, rules: DepartmentAppointments, hours: OpeningHours, tz: dt.tzinfo, roster: Roster | None = None
    ) -> None:
        self.rules = rules
        self._roster = roster
        self._hours = hours
        self._tz = tz
        self._calendar = Calendar(hours, tz)
        self._bookable = _spans(rules.hours)
        self.slot_s = rules.slot_minutes * 60

    @property
    def department(self) -> str:
        return self.rules.department

    def local_day(self, when: float) -> dt.date:
        return dt.datetime.fromtimestamp(when, self._tz).date()

    def closed_reason(self, day: dt.date) -> str | None:
        """Why nobody can book on `day`: "holiday", "new_year" or "closed" (no opening span), else None."""
        reason = closed_day_reason(self._hours, day)
        if reason is None and not self._calendar.spans(day):
            return "closed"
        return reason

    def _open_at(self, day: dt.date, start: dt.datetime, end: dt.datetime) -> bool:
        return any(s <= start and end <= e for s, e in self._calendar.spans(day))

    def grid(self, day: dt.date) -> list[float]:
        """Slot starts of the configured grid on `day` that lie wholly inside an opening span."""
        if self.closed_reason(day) is not None:
            return []
        starts: list[float] = []
        step = dt.timedelta(minutes=self.rules.slot_minutes)
        for first, last in self._bookable:
            start = dt.datetime.combine(day, first, self._tz)
            stop = dt.datetime.combine(day, last, self._tz)
            while start + step <= stop:
                if self._open_at(day, start, start + step):
                    starts.append(start.timestamp())
                start += step
        return starts

    def day(self, day: dt.date, overrides: Mapping[float, int]) -> list[SlotTimes]:
        """The day's slots with their capacity: the grid, blocked or changed by `overrides` (start →
        capacity), plus slots a supervisor added where the department is open."""
        starts = set(self.grid(day))
        for start, _capacity in overrides.items():
            if self.local_day(start) == day and self.addable(start):
                starts.add(start)
        return [SlotTimes(s, s + self.slot_s, self._limit(s, overrides)) for s in sorted(starts)]

    def _limit(self, start: float, overrides: Mapping[float, int]) -> int:
        """The slot's capacity: the configured (or a supervisor's) number, never more than the roster
        allows. A configured slot keeps `walk_in_officers` of those on shift for walk-ins; a supervisor's
        number may give their time to bookings too, never the time of an officer who is not on shift."""
        configured = overrides.get(start, self.rules.bookable_officers)
        if self._roster is None or not self._roster.covers(self.department):
            return configured
        on_shift = len(self._roster.on_shift(self.department, start, start + self.slot_s))
        ceiling = on_shift if start in overrides else on_shift - self.rules.walk_in_officers
        return max(0, min(configured, ceiling))

    def officer_on_shift(self, officer: str, start: float) -> bool:
        """Whether a booked officer works for the department during the whole slot (no roster: yes)."""
        if self._roster is None or not self._roster.covers(self.department):
            return True
        return officer in self._roster.on_shift(self.department, start, start + self.slot_s)

    def addable(self, start: float) -> bool:
        """A slot may be added at `start` when the department is open for its whole length that day."""
        begin = dt.datetime.fromtimestamp(start, self._tz)
        day = begin.date()
        if self.closed_reason(day) is not None:
            return False
        return self._open_at(day, begin, begin + dt.timedelta(seconds=self.slot_s))

    def capacity(self, start: float, overrides: Mapping[float, int]) -> int:
        """The capacity of the slot starting at `start`, or BookingRefused when there is no such slot."""
        day = self.local_day(start)
        reason = self.closed_reason(day)
        if reason is not None:
            raise BookingRefused("closed_day", f"{self.department} is closed on {day.isoformat()} ({reason})")
        if start in overrides and self.addable(start):
            return self._limit(start, overrides)
        if start not in self.grid(day):
            raise BookingRefused("no_such_slot", f"{self.department} has no slot at that time")
        return self._limit(start, overrides)

    def check_window(self, start: float, now: float) -> None:
        """Lead time and horizon: BookingRefused (past, too_soon, too_far) when `start` is outside them."""
        if start <= now:
            raise BookingRefused("past", "that slot has already started")
        if start < now + self.rules.lead_minutes * 60:
            raise BookingRefused("too_soon", f"book at least {self.rules.lead_minutes} minutes ahead")
        if self.local_day(start) > self.local_day(now) + dt.timedelta(days=self.rules.horizon_days):
            raise BookingRefused("too_far", f"book at most {self.rules.horizon_days} days ahead")

    def bookable_days(self, now: float) -> list[dt.date]:
        """Days from today to the horizon on which the department is open."""
        today = self.local_day(now)
        days = (today + dt.timedelta(days=i) for i in range(self.rules.horizon_days + 1))
        return [d for d in days if self.closed_reason(d) is None]
