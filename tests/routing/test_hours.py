"""Opening hours: weekly schedule, public holidays, 年末年始, last-join time and refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from config.schema import OpeningHours
from signaling_server.routing import JoinRefused, Ring, Router, SkillLevel
from signaling_server.routing.hours import Calendar, closed_day_reason

from .conftest import TOKYO


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TOKYO)


def test_closed_day_reasons() -> None:
    hours = OpeningHours()
    assert closed_day_reason(hours, dt.date(2026, 1, 2)) == "new_year"
    assert closed_day_reason(hours, dt.date(2026, 12, 29)) == "new_year"
    assert closed_day_reason(hours, dt.date(2026, 12, 28)) is None
    assert closed_day_reason(hours, dt.date(2026, 1, 5)) is None
    assert closed_day_reason(hours, dt.date(2026, 5, 4)) == "holiday"  # みどりの日
    assert closed_day_reason(hours, dt.date(2026, 11, 23)) == "holiday"  # 勤労感謝の日
    open_all_year = OpeningHours(closed_on_public_holidays=False, closed_new_year=False)
    assert closed_day_reason(open_all_year, dt.date(2026, 1, 2)) is None
    assert closed_day_reason(open_all_year, dt.date(2026, 5, 4)) is None


def test_calendar_checks_spans_and_last_join() -> None:
    cal = Calendar(OpeningHours(), TOKYO)
    check = cal.check(local(2026, 11, 25, 10, 0))
    assert check.open and check.can_join and check.next_open is None
    assert check.closes_at == local(2026, 11, 25, 17, 15)
    late = cal.check(local(2026, 11, 25, 17, 5))  # within 15 minutes of closing
    assert late.open and not late.can_join
    assert late.next_open == local(2026, 11, 26, 8, 30)
    early = cal.check(local(2026, 11, 25, 7, 0))
    assert not early.open and early.next_open == local(2026, 11, 25, 8, 30)
    friday_evening = cal.check(local(2026, 11, 27, 18, 0))
    assert friday_evening.next_open == local(2026, 11, 30, 8, 30)  # Monday


def test_new_year_next_opening_skips_to_january_5th() -> None:
    cal = Calendar(OpeningHours(), TOKYO)
    check = cal.check(local(2026, 1, 2, 10, 0))
    assert not check.open
    # 1/3 is 年末年始, 1/4/2026 is a Sunday: the first opening is Monday 1/5.
    assert check.next_open == local(2026, 1, 5, 8, 30)


def test_split_spans_and_a_schedule_that_never_opens() -> None:
    lunch = OpeningHours(wed=["08:30-12:00", "13:00-17:15"])
    cal = Calendar(lunch, TOKYO)
    noon = cal.check(local(2026, 11, 25, 12, 30))
    assert not noon.open and noon.next_open == local(2026, 11, 25, 13, 0)
    never = Calendar(OpeningHours(mon=[], tue=[], wed=[], thu=[], fri=[]), TOKYO)
    assert never.check(local(2026, 11, 25, 10, 0)).next_open is None


def test_join_refused_on_a_national_holiday_with_next_opening(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    clock.set_local(local(2026, 5, 4, 10, 0))  # みどりの日 (Golden Week: 5/4, 5/5, 5/6 振替休日)
    with pytest.raises(JoinRefused) as info:
        router.join("c1", "kosodate")
    assert info.value.reason == "closed"
    assert info.value.next_open == local(2026, 5, 7, 8, 30)
    status = router.department_status("kosodate")
    assert not status.open and not status.accepting and status.refusal == "closed"
    assert status.next_open == local(2026, 5, 7, 8, 30)


def test_join_refused_during_new_year(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    clock.set_local(local(2026, 1, 2, 11, 0))
    with pytest.raises(JoinRefused) as info:
        router.join("c1", "kosodate")
    assert info.value.reason == "closed"
    assert info.value.next_open == local(2026, 1, 5, 8, 30)
    assert "2026-01-05T08:30:00+09:00" in str(info.value)


def test_join_refused_after_last_join_time_but_waiting_callers_are_served(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    clock.set_local(local(2026, 11, 25, 16, 59))
    router.join("c1", "kosodate")
    clock.set_local(local(2026, 11, 25, 17, 1))
    with pytest.raises(JoinRefused) as info:
        router.join("c2", "kosodate")
    assert info.value.reason == "last_join_passed"
    assert info.value.next_open == local(2026, 11, 26, 8, 30)
    clock.set_local(local(2026, 11, 25, 17, 30))  # closed now; c1 still gets an officer
    out = router.officer_online("o1", {"kosodate": SkillLevel.PRIMARY})
    assert [(d.officer_id, d.call_id) for d in out if isinstance(d, Ring)] == [("o1", "c1")]


def test_join_refused_when_queue_full_unknown_or_not_remote(clock, department) -> None:
    router = Router([department("kosodate", max_queue=2), department("shiminzei", remote=False)], clock=clock)
    router.join("c1", "kosodate")
    router.join("c2", "kosodate")
    with pytest.raises(JoinRefused) as info:
        router.join("c3", "kosodate")
    assert info.value.reason == "queue_full" and info.value.next_open is None
    assert router.department_status("kosodate").refusal == "queue_full"
    with pytest.raises(JoinRefused) as info:
        router.join("c4", "nope")
    assert info.value.reason == "unknown_department"
    with pytest.raises(JoinRefused) as info:
        router.join("c5", "shiminzei")
    assert info.value.reason == "not_remote"
    # A caller the server puts back at the head is never refused for length.
    router.join("c6", "kosodate", head=True)
    assert router.waiting("kosodate")[0] == "c6"


def test_weekend_opening_schedule(clock, department) -> None:
    saturday = OpeningHours(sat=["09:00-12:00"])
    router = Router([department("kosodate", hours=saturday)], clock=clock)
    clock.set_local(local(2026, 11, 28, 9, 30))  # a Saturday
    router.join("c1", "kosodate")
    status = router.department_status("kosodate")
    assert status.open and status.accepting and status.waiting == 1
    clock.set_local(local(2026, 11, 29, 9, 30))  # Sunday
    with pytest.raises(JoinRefused):
        router.join("c2", "kosodate")
