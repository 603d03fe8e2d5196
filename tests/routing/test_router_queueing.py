"""Priorities, rejoin grace, overflow to secondary officers, position pushes and wait estimates."""

from __future__ import annotations

import pytest

from signaling_server.routing import QueuePosition, Ring, Router, SkillLevel, WithdrawRing

P = SkillLevel.PRIMARY
S = SkillLevel.SECONDARY


def of(decisions: list, kind: type) -> list:
    return [d for d in decisions if isinstance(d, kind)]


def rings(decisions: list) -> list[tuple[str, str]]:
    return [(d.officer_id, d.call_id) for d in of(decisions, Ring)]


# ---------------------------------------------------------------------------- priorities


def test_head_callers_go_first_then_fifo_by_join_time(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    router.join("n1", "kosodate")
    clock.advance(1)
    router.join("n2", "kosodate")
    clock.advance(1)
    router.join("h_late", "kosodate", head=True)
    router.join("h_early", "kosodate", head=True, joined_at=clock.now - 100)
    router.join("n0", "kosodate", joined_at=clock.now - 50)  # the server knows an earlier join time
    assert router.waiting("kosodate") == ["h_early", "h_late", "n0", "n1", "n2"]


def test_rejoin_within_grace_keeps_the_place(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock, rejoin_grace_s=120)
    router.join("a", "kosodate", kiosk_id="k1")
    clock.advance(1)
    router.join("b", "kosodate", kiosk_id="k2")
    clock.advance(1)
    router.leave("a")
    assert router.waiting("kosodate") == ["b"]
    clock.advance(100)
    out = router.join("a2", "kosodate", kiosk_id="k1")
    assert router.waiting("kosodate") == ["a2", "b"]
    assert [(p.call_id, p.position) for p in of(out, QueuePosition)] == [("a2", 1), ("b", 2)]
    assert router.stats()["departments"]["kosodate"]["rejoined"] == 1


def test_rejoin_after_grace_or_from_another_kiosk_goes_to_the_back(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock, rejoin_grace_s=120)
    router.join("a", "kosodate", kiosk_id="k1")
    router.join("b", "kosodate", kiosk_id="k2")
    router.leave("a")
    router.join("x", "kosodate", kiosk_id="k3")
    assert router.waiting("kosodate") == ["b", "x"]
    clock.advance(121)
    assert router.next_deadline() is not None
    router.tick()  # the parked place expires
    router.join("a2", "kosodate", kiosk_id="k1")
    assert router.waiting("kosodate") == ["b", "x", "a2"]


def test_rejoin_within_grace_is_served_even_after_the_last_join_time(clock, department) -> None:
    from .test_hours import local

    router = Router([department("kosodate")], clock=clock)
    clock.set_local(local(2026, 11, 25, 16, 59))
    router.join("a", "kosodate", kiosk_id="k1")
    clock.set_local(local(2026, 11, 25, 17, 2))
    router.leave("a")
    clock.set_local(local(2026, 11, 25, 17, 3))
    router.join("a2", "kosodate", kiosk_id="k1")  # no JoinRefused: it keeps its place
    assert router.waiting("kosodate") == ["a2"]


# ---------------------------------------------------------------------------- overflow


def test_overflow_offers_long_waiting_callers_to_secondary_officers(clock, department) -> None:
    router = Router([department("kosodate", overflow_after_s=60), department("nenkin")], clock=clock)
    router.officer_online("primary", {"kosodate": P})
    router.join("busy", "kosodate")
    router.accept("primary", "busy")
    router.officer_online("helper", {"nenkin": P, "kosodate": S})
    out = router.join("c1", "kosodate")
    assert rings(out) == []  # secondary officers wait for overflow
    assert router.next_deadline() == pytest.approx(clock.now + 15)  # the periodic position push comes first
    clock.advance(59)
    assert rings(router.tick()) == []
    clock.advance(1)
    out = router.tick()
    assert rings(out) == [("helper", "c1")]


def test_secondary_officer_freed_later_takes_an_overflowed_caller(clock, department) -> None:
    router = Router([department("kosodate", overflow_after_s=60), department("nenkin")], clock=clock)
    router.join("c1", "kosodate")
    clock.advance(61)
    router.tick()
    out = router.officer_online("helper", {"nenkin": P, "kosodate": S})
    assert rings(out) == [("helper", "c1")]


def test_secondary_officer_prefers_its_primary_callers(clock, department) -> None:
    router = Router([department("kosodate", overflow_after_s=60), department("nenkin")], clock=clock)
    router.join("k1", "kosodate")
    clock.advance(100)
    router.join("n1", "nenkin")
    out = router.officer_online("helper", {"nenkin": P, "kosodate": S})
    assert rings(out) == [("helper", "n1")]


def test_no_overflow_when_disabled(clock, department) -> None:
    router = Router([department("kosodate", overflow_after_s=None)], clock=clock)
    router.officer_online("helper", {"kosodate": S})
    router.join("c1", "kosodate")
    clock.advance(10_000)
    assert rings(router.tick()) == []


def test_ring_all_with_overflow_rings_secondary_officers_too(clock, department) -> None:
    router = Router([department("kosodate", strategy="ring_all", overflow_after_s=30)], clock=clock)
    router.join("c1", "kosodate")
    clock.advance(31)
    router.officer_online("s1", {"kosodate": S})
    router.officer_online("s2", {"kosodate": S})
    assert router.officer_state("s1") == "ringing"
    out = router.accept("s1", "c1")
    assert WithdrawRing("s2", "c1", "answered_elsewhere") in out


# ---------------------------------------------------------------------------- positions and estimates


def test_positions_are_pushed_periodically(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock, position_push_s=15)
    router.join("c1", "kosodate")
    router.join("c2", "kosodate")
    assert router.next_deadline() == pytest.approx(clock.now + 15)
    clock.advance(15)
    out = router.tick()
    assert [(p.call_id, p.position) for p in of(out, QueuePosition)] == [("c1", 1), ("c2", 2)]
    assert router.next_deadline() == pytest.approx(clock.now + 15)
    router.leave("c1")
    router.leave("c2")
    assert router.next_deadline() is None


def test_only_callers_behind_a_change_get_a_new_position(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    for i in range(4):
        router.join(f"c{i}", "kosodate")
    out = router.leave("c2")
    assert [(p.call_id, p.position) for p in of(out, QueuePosition)] == [("c3", 3)]


def test_wait_estimate_uses_observed_handle_times_and_officers(clock, department) -> None:
    router = Router([department("kosodate", wrap_up_s=0)], clock=clock, default_handle_s=300)
    assert router.department_status("kosodate").ewt_s is None  # nobody serves it
    router.officer_online("o1", {"kosodate": P})
    router.officer_online("o2", {"kosodate": P})
    for call in ("a", "b"):
        router.join(call, "kosodate")
    router.accept("o1", "a")
    router.accept("o2", "b")
    clock.advance(100)
    router.call_finished("a")  # a handle time of 100 s
    router.join("c", "kosodate")  # rings o1 at once
    router.accept("o1", "c")
    clock.advance(200)
    router.call_finished("b")  # 300 s
    router.call_finished("c")  # 200 s
    router.set_away("o1", "break")
    router.set_away("o2", "break")
    router.set_available("o1")
    router.set_available("o2")
    # Two officers in call, rolling AHT (100 + 300 + 200) / 3 = 200 s.
    router.join("x", "kosodate")
    router.join("y", "kosodate")
    router.accept("o1", "x")
    router.accept("o2", "y")
    out = router.join("z1", "kosodate")
    assert of(out, QueuePosition) == [QueuePosition("z1", "kosodate", 1, pytest.approx(100.0))]
    out = router.join("z2", "kosodate")
    assert of(out, QueuePosition) == [QueuePosition("z2", "kosodate", 2, pytest.approx(200.0))]
    assert router.department_status("kosodate").ewt_s == pytest.approx(300.0)
    assert router.position("z2") == QueuePosition("z2", "kosodate", 2, pytest.approx(200.0))


def test_officer_serving_two_departments_counts_half_in_each(clock, department) -> None:
    router = Router([department("kosodate"), department("nenkin")], clock=clock, default_handle_s=100)
    router.officer_online("o1", {"kosodate": P, "nenkin": P})
    router.join("busy", "kosodate")
    router.accept("o1", "busy")
    out = router.join("c1", "nenkin")
    assert of(out, QueuePosition) == [QueuePosition("c1", "nenkin", 1, pytest.approx(200.0))]
