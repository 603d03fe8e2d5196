"""Statistics per department and officer: offered, answered, abandoned, ASA, AHT, SL and SL2."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from signaling_server.routing import Router, SkillLevel

from .conftest import TOKYO

P = SkillLevel.PRIMARY


def test_department_and_officer_statistics(clock, department) -> None:
    router = Router([department("kosodate", service_level_s=60, wrap_up_s=10)], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("fast", "kosodate")  # rings o1 at once
    clock.advance(20)
    router.accept("o1", "fast")  # answered after 20 s: within 60 s
    router.join("slow", "kosodate")
    router.join("gone_fast", "kosodate")
    router.join("gone_slow", "kosodate")
    clock.advance(30)
    router.leave("gone_fast")  # abandoned after 30 s: within
    clock.advance(70)
    router.leave("gone_slow")  # abandoned after 100 s: outside
    router.call_finished("fast")  # handle: 100 s in call
    clock.advance(10)
    router.tick()  # wrap-up over after 10 s: handle time 110 s; o1 is offered "slow" (waited 110 s)
    clock.advance(5)
    router.accept("o1", "slow")  # answered after 115 s: outside
    clock.advance(7)
    stats = router.stats()
    json.dumps(stats)
    k = stats["departments"]["kosodate"]
    assert (k["offered"], k["answered"], k["abandoned"]) == (4, 2, 2)
    assert k["asa_s"] == pytest.approx((20 + 115) / 2)
    assert k["mean_abandon_wait_s"] == pytest.approx((30 + 100) / 2)
    assert k["aht_s"] == pytest.approx(110)
    assert k["service_level"] == pytest.approx(1 / 2)
    assert k["service_level_sl2"] == pytest.approx((1 + 1) / (2 + 2))
    assert k["waiting"] == 0 and k["longest_wait_s"] == 0
    assert k["officers"]["in_call"] == 1
    o = stats["officers"]["o1"]
    assert (o["offered"], o["answered"], o["handled"], o["state"]) == (2, 2, 1, "in_call")
    assert o["aht_s"] == pytest.approx(110)


def test_longest_current_wait_and_unanswered_counts(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    router.join("a", "kosodate")
    clock.advance(40)
    router.join("b", "kosodate")
    router.officer_online("o1", {"kosodate": P})
    clock.advance(20)
    router.tick()  # o1 misses "a"
    stats = router.stats()
    assert stats["departments"]["kosodate"]["longest_wait_s"] == pytest.approx(60)
    assert stats["departments"]["kosodate"]["ring_timeouts"] == 1
    assert stats["officers"]["o1"]["missed"] == 1


def test_statistics_are_kept_per_day(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    router.join("a", "kosodate")
    router.leave("a")
    clock.set_local(dt.datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO))
    router.join("b", "kosodate")
    stats = router.stats()
    assert stats["date"] == "2026-11-26"
    assert stats["departments"]["kosodate"]["offered"] == 1
    assert stats["history"]["2026-11-25"]["departments"]["kosodate"]["abandoned"] == 1


def test_fewest_calls_counts_reset_at_midnight(clock, department) -> None:
    router = Router([department("kosodate", strategy="fewest_calls", wrap_up_s=0)], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.officer_online("o2", {"kosodate": P})
    router.join("a", "kosodate")
    router.accept("o1", "a")
    router.call_finished("a")
    assert router.stats()["officers"]["o1"]["calls_today"] == 1
    clock.set_local(dt.datetime(2026, 11, 26, 9, 0, tzinfo=TOKYO))
    router.set_away("o2", "break")
    router.set_available("o2")  # o1 idle for longer, both with no call today
    assert router.stats()["officers"]["o1"]["calls_today"] == 0
    out = router.join("b", "kosodate")
    assert [d.officer_id for d in out if type(d).__name__ == "Ring"] == ["o1"]
