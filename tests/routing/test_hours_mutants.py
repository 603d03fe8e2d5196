"""Pinned where ``./run-mutation routing`` (December 2026, fourth round) found one-line bugs no test noticed
at the edges of the opening hours (open from the opening minute, closed at the closing one, no join from
the last-join minute, each answer's fields exactly) and in the estimate of a caller who has a free officer
(no wait, never a negative one)."""

from __future__ import annotations

import datetime as dt

from config.schema import OpeningHours
from signaling_server.routing.estimate import estimate_waits
from signaling_server.routing.hours import Calendar, HoursCheck

from .conftest import TOKYO


def _at(hour: int, minute: int) -> dt.datetime:
    return dt.datetime(2026, 11, 25, hour, minute, tzinfo=TOKYO)  # a Wednesday: 08:30–17:15, last join 17:00


def test_the_opening_hours_edges_answer_exactly() -> None:
    calendar = Calendar(OpeningHours(), TOKYO)
    closes = _at(17, 15)
    next_morning = dt.datetime(2026, 11, 26, 8, 30, tzinfo=TOKYO)
    assert calendar.check(_at(8, 30)) == HoursCheck(True, True, closes, None)
    assert calendar.check(_at(17, 0)) == HoursCheck(True, False, closes, next_morning)
    assert calendar.check(_at(17, 15)) == HoursCheck(False, False, None, next_morning)
    for answer in (calendar.check(_at(17, 0)), calendar.check(_at(17, 15))):
        assert answer.can_join is False
    assert calendar.check(_at(17, 15)).open is False


def test_a_caller_with_a_free_officer_waits_nothing() -> None:
    assert estimate_waits(1, 4, 2, 2.0, 300.0) == [0.0, 0.0, 150.0, 300.0]


def test_the_new_year_holidays_end_with_the_third_of_january() -> None:
    calendar = Calendar(OpeningHours(), TOKYO)
    assert calendar.check(dt.datetime(2027, 1, 3, 10, 0, tzinfo=TOKYO)).open is False  # a Sunday anyway
    assert calendar.check(dt.datetime(2028, 1, 3, 10, 0, tzinfo=TOKYO)).open is False  # a Monday
    assert calendar.check(dt.datetime(2028, 1, 4, 10, 0, tzinfo=TOKYO)).open is True  # a Tuesday
