"""Pinned where ``./run-mutation routing`` (December 2026, fourth round) found one-line bugs no test noticed
in days and departments: a new day from local midnight exactly (not from UTC's midnight, nor an hour
later), the days of history kept, and the router refusing a bad list of departments by name."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from signaling_server.routing import QueuePosition, Router, SkillLevel
from signaling_server.routing.estimate import HandleTimes

from .conftest import TOKYO, FakeClock, make_department

P = SkillLevel.PRIMARY


def test_a_new_day_starts_at_local_midnight_exactly(clock: FakeClock) -> None:
    router = Router([make_department("kosodate")], clock=clock)
    router.join("c1", "kosodate")  # 2026-11-25 10:00 in Tokyo
    clock.set_local(dt.datetime(2026, 11, 26, 0, 0, tzinfo=TOKYO))
    assert router.stats()["date"] == "2026-11-26"
    clock.set_local(dt.datetime(2026, 11, 27, 0, 30, tzinfo=TOKYO))
    assert router.stats()["date"] == "2026-11-27"


def test_the_days_of_history_kept_are_as_many_as_configured(clock: FakeClock) -> None:
    router = Router([make_department("kosodate")], clock=clock, history_days=2)
    for day in (24, 25, 26, 27):  # Tuesday to Friday
        clock.set_local(dt.datetime(2026, 11, day, 10, 0, tzinfo=TOKYO))
        router.join(f"c{day}", "kosodate")
    assert sorted(router.stats()["history"]) == ["2026-11-25", "2026-11-26"]


def test_a_bad_list_of_departments_is_refused_by_name(clock: FakeClock) -> None:
    with pytest.raises(TypeError, match=r"^departments must be config.schema.Department, not str$"):
        Router(["kosodate"], clock=clock)  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"^department 'kosodate' is given twice$"):
        Router([make_department("kosodate"), make_department("kosodate")], clock=clock)
    okuyami = make_department("okuyami", kind="one_stop", one_stop_departments=["nenkin"])
    with pytest.raises(
        ValueError, match=r"^department 'okuyami': one_stop_departments names unknown 'nenkin'$"
    ):
        Router([okuyami], clock=clock)


@pytest.mark.parametrize(
    ("setting", "refused", "accepted", "message"),
    [
        ("max_unanswered", 0, 1, "max_unanswered must be at least 1, not 0"),
        ("rejoin_grace_s", -1.0, 0.0, "rejoin_grace_s must not be negative, not -1.0"),
        ("position_push_s", 0.0, 0.5, "position_push_s must be positive, not 0.0"),
        ("tz", "Mars/Olympus", "UTC", "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_each_setting_is_refused_by_name_just_past_its_limit(
    clock: FakeClock, setting: str, refused: object, accepted: object, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Router([make_department("kosodate")], clock=clock, **{setting: refused})  # type: ignore[arg-type]
    Router([make_department("kosodate")], clock=clock, **{setting: accepted})  # type: ignore[arg-type]


def test_the_defaults_push_every_15_s_and_keep_31_days_and_50_handle_times(clock: FakeClock) -> None:
    router = Router([make_department("kosodate", wrap_up_s=0)], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    for n in range(51):  # the first call lasts 1,000 s, the 50 after it 100 s each
        router.join(f"c{n}", "kosodate")
        router.accept("o1", f"c{n}")
        clock.advance(1000 if n == 0 else 100)
        router.call_finished(f"c{n}")
    assert router.stats()["departments"]["kosodate"]["rolling_aht_s"] == pytest.approx(100.0)
    router.officer_offline("o1")
    router.join("lone", "kosodate")
    clock.advance(15)
    assert [d.call_id for d in router.tick() if isinstance(d, QueuePosition)] == ["lone"]
    start = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)
    for day in range(1, 34):  # every day a caller: 33 days before the last one
        clock.set_local(start + dt.timedelta(days=day))
        router.stats()
    assert len(router.stats()["history"]) == 31


def test_handle_times_default_and_refuse_by_name_just_past_their_limits() -> None:
    times = HandleTimes()
    assert times.mean() == 300.0
    for n in range(51):
        times.add(float(n))
    assert len(times) == 50 and times.samples()[0] == 1.0
    with pytest.raises(ValueError, match=r"^the handle-time window must hold at least one sample$"):
        HandleTimes(window=0)
    with pytest.raises(ValueError, match=r"^the default handle time must be positive$"):
        HandleTimes(default_s=0.0)
    assert HandleTimes(window=1, default_s=0.5).mean() == 0.5
