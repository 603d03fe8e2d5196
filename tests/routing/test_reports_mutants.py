"""Pinned where ``./run-mutation routing`` (December 2026, fourth round) found one-line bugs no test noticed
in what supervisors and consoles read: the live statistics' every field (ringing callers, the estimate of
the next caller, officers per state, each officer's reason and skills), earlier days' figures for a
department no longer configured, a call's fields in each state, and the day's counters a snapshot keeps."""

from __future__ import annotations

import datetime as dt

import pytest

from signaling_server.routing import Router, SkillLevel
from signaling_server.routing.stats import DailyStats, DepartmentCounters, OfficerCounters

from .conftest import TOKYO, FakeClock, make_department

P, S = SkillLevel.PRIMARY, SkillLevel.SECONDARY


def _busy_morning(clock: FakeClock) -> Router:
    """Three callers for kosodate (two ringing, one waiting), an officer of nenkin on a break."""
    router = Router([make_department("kosodate", service_level_s=45), make_department("nenkin")], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.officer_online("o2", {"kosodate": P, "nenkin": S})
    router.officer_online("o3", {"nenkin": P})
    router.set_away("o3", "break")
    for call_id in ("c1", "c2", "c3"):
        router.join(call_id, "kosodate")
        clock.advance(10)
    return router


def test_the_live_figures_of_a_department(clock: FakeClock) -> None:
    router = _busy_morning(clock)
    stats = router.stats()
    assert stats["at"] == clock() and stats["date"] == "2026-11-25"
    kosodate = stats["departments"]["kosodate"]
    live = ("waiting", "ringing", "rings", "longest_wait_s", "ewt_s", "service_level_s", "wait_state")
    # Two of the three ring (o1 and o2); the next caller is 4th with 2 free officers of 2 at 300 s each.
    assert {key: kosodate[key] for key in live} == {
        "waiting": 3,
        "ringing": 2,
        "rings": 2,
        "longest_wait_s": 30.0,
        "ewt_s": 300.0,
        "service_level_s": 45,
        "wait_state": "wait",
    }
    assert kosodate["wait_minutes"] == 5
    assert kosodate["officers"] == {
        "offline": 0,
        "available": 0,
        "ringing": 2,
        "in_call": 0,
        "wrap_up": 0,
        "away": 0,
    }
    assert stats["departments"]["nenkin"]["officers"]["away"] == 1  # o2 serves nenkin as secondary only
    assert stats["departments"]["nenkin"]["service_level_s"] == 120  # the default


def test_the_live_figures_of_each_officer(clock: FakeClock) -> None:
    router = _busy_morning(clock)
    officers = router.stats()["officers"]
    mine = ("state", "reason", "calls_today", "departments")
    assert {officer: {key: data[key] for key in mine} for officer, data in officers.items()} == {
        "o1": {"state": "ringing", "reason": None, "calls_today": 0, "departments": {"kosodate": "primary"}},
        "o2": {
            "state": "ringing",
            "reason": None,
            "calls_today": 0,
            "departments": {"kosodate": "primary", "nenkin": "secondary"},
        },
        "o3": {"state": "away", "reason": "break", "calls_today": 0, "departments": {"nenkin": "primary"}},
    }


def test_earlier_days_keep_each_departments_service_level_even_one_no_longer_configured(
    clock: FakeClock,
) -> None:
    before = Router([make_department("kosodate", service_level_s=45), make_department("nenkin")], clock=clock)
    before.officer_online("o1", {"kosodate": P})
    before.join("c1", "kosodate")
    before.accept("o1", "c1")
    before.join("c2", "nenkin")
    before.leave("c2")
    clock.set_local(dt.datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO))
    after = Router([make_department("kosodate", service_level_s=45)], clock=clock)  # nenkin is gone
    after.restore({**before.snapshot(), "callers": []})
    day = after.stats()["history"]["2026-11-25"]
    assert day["departments"]["kosodate"]["service_level_s"] == 45
    assert day["departments"]["kosodate"]["service_level"] == 1.0
    assert day["departments"]["nenkin"]["service_level_s"] == 0  # not configured: no service level known
    assert day["departments"]["nenkin"]["abandoned"] == 1
    assert day["officers"]["o1"]["answered"] == 1


def _info_keys(info: dict[str, object]) -> dict[str, object]:
    keys = ("call_id", "kiosk_id", "state", "officer_id", "transfer_pending")
    return {key: info[key] for key in keys}


def test_what_a_console_reads_of_a_call_in_each_state(clock: FakeClock) -> None:
    router = Router([make_department("kosodate"), make_department("nenkin")], clock=clock)
    router.join("c1", "kosodate", kiosk_id="k1")
    assert _info_keys(router.call_info("c1")) == {
        "call_id": "c1",
        "kiosk_id": "k1",
        "state": "queued",
        "officer_id": None,
        "transfer_pending": False,
    }
    router.officer_online("o1", {"kosodate": P})
    router.accept("o1", "c1")
    assert _info_keys(router.call_info("c1")) == {
        "call_id": "c1",
        "kiosk_id": "k1",
        "state": "connected",
        "officer_id": "o1",
        "transfer_pending": False,
    }
    router.transfer("c1", "nenkin", warm=True)
    assert _info_keys(router.call_info("c1")) == {
        "call_id": "c1",
        "kiosk_id": "k1",
        "state": "queued",
        "officer_id": "o1",
        "transfer_pending": True,
    }


def test_a_snapshot_keeps_todays_counters_of_officers_too_as_they_were(clock: FakeClock) -> None:
    router = Router([make_department("kosodate")], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    saved = router.queue_snapshot()
    router.call_finished("c1")
    router.join("c2", "kosodate")
    assert saved.today is not None
    assert saved.today.officers["o1"].answered == 1
    assert saved.today.departments["kosodate"].offered == 1  # a copy: later calls do not change it


def test_a_days_copy_is_whole_and_independent() -> None:
    day = DailyStats(
        "2026-11-25", {"kosodate": DepartmentCounters(offered=3)}, {"o1": OfficerCounters(answered=2)}
    )
    copy = day.copy()
    assert copy == day
    copy.officer("o1").answered += 1
    copy.department("kosodate").offered += 1
    assert (day.officers["o1"].answered, day.departments["kosodate"].offered) == (2, 3)


@pytest.mark.parametrize("service_level_s", [45, 0])
def test_a_departments_summary_names_its_service_level(service_level_s: float) -> None:
    assert DepartmentCounters().summary(service_level_s)["service_level_s"] == service_level_s
