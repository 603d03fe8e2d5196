"""Opening hours: a weekly schedule, Japanese public holidays (jpholiday) and 年末年始 (12/29–1/3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import jpholiday

from config.schema import OpeningHours

# How far ahead next_open looks: a schedule with no span in a year is "never opens".
_SEARCH_DAYS = 400


def closed_day_reason(hours: OpeningHours, day: dt.date) -> str | None:
    """Why the department is closed all day on `day` ("new_year", "holiday"), or None."""
    if hours.closed_new_year and ((day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)):
        return "new_year"
    if hours.closed_on_public_holidays and jpholiday.is_holiday(day):
        return "holiday"
    return None


@dataclass(frozen=True, slots=True)
class HoursCheck:
    open: bool  # inside an opening span
    can_join: bool  # open and before the last-join time
    closes_at: dt.datetime | None  # end of the current span when open
    next_open: dt.datetime | None  # when a new caller may next join (None when can_join or never)


class Calendar:
    """Opening spans of one department as aware datetimes, cached per day."""

    def __init__(self, hours: OpeningHours, tz: dt.tzinfo) -> None:
        self._hours = hours
        self._tz = tz
        self._cache: dict[dt.date, list[tuple[dt.datetime, dt.datetime]]] = {}

    def spans(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        spans = self._cache.get(day)
        if spans is None:
            if closed_day_reason(self._hours, day) is not None:
                spans = []
            else:
                spans = [
                    (dt.datetime.combine(day, start, self._tz), dt.datetime.combine(day, end, self._tz))
                    for start, end in self._hours.spans_for(day)
                ]
            if len(self._cache) > 1024:
                self._cache.clear()
            self._cache[day] = spans
        return spans

    def check(self, when: dt.datetime) -> HoursCheck:
        for start, end in self.spans(when.date()):
            if start <= when < end:
                last_join = end - dt.timedelta(minutes=self._hours.last_join_minutes_before_close)
                if when < last_join:
                    return HoursCheck(True, True, end, None)
                return HoursCheck(True, False, end, self.next_open(end))
        return HoursCheck(False, False, None, self.next_open(when))

    def next_open(self, after: dt.datetime) -> dt.datetime | None:
        """The first span start at or after `after` on an open day (None if none within a year)."""
        day = after.date()
        for _ in range(_SEARCH_DAYS):
            for start, _end in self.spans(day):
                if start >= after:
                    return start
            day += dt.timedelta(days=1)
        return None
