"""The officers' roster (勤務表) as pure logic: who is on shift for a department during a whole slot.

A department named by any shift of `[[appointments.shifts]]` has its slots' bookable capacity follow the
roster (slots.py); a department no shift names keeps `bookable_officers` (and a supervisor's changes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from config.schema import OfficerShift

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _minutes(span: str) -> tuple[int, int]:
    start, end = span.split("-")
    h1, m1 = (int(x) for x in start.split(":"))
    h2, m2 = (int(x) for x in end.split(":"))
    return h1 * 60 + m1, h2 * 60 + m2


class Roster:
    """Weekly working hours per officer and department, in the city's time zone."""

    def __init__(self, shifts: Iterable[OfficerShift], tz: dt.tzinfo) -> None:
        self._tz = tz
        # (department, weekday) -> [(officer, start minute, end minute)]
        self._spans: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
        for shift in shifts:
            for department in shift.departments:
                for day in shift.days:
                    spans = self._spans.setdefault((department, day), [])
                    spans.extend((shift.officer, *_minutes(span)) for span in shift.hours)
        self._departments = frozenset(department for department, _day in self._spans)

    def covers(self, department: str) -> bool:
        """Whether the roster decides this department's capacity (some shift names it)."""
        return department in self._departments

    def on_shift(self, department: str, start: float, end: float) -> frozenset[str]:
        """The officers on shift for `department` from `start` to `end` (the whole time, one day)."""
        begin = dt.datetime.fromtimestamp(start, self._tz)
        first = begin.hour * 60 + begin.minute + begin.second / 60
        last = first + (end - start) / 60
        spans = self._spans.get((department, WEEKDAYS[begin.weekday()]), [])
        return frozenset(officer for officer, s, e in spans if s <= first and last <= e)
