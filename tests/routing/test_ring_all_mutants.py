"""Pinned where ``./run-mutation routing`` (December 2026, fourth round) found one-line bugs no test noticed
in ring-all: which ring an officer who becomes free joins (a ring about to time out, a department of another
strategy or with nobody waiting listed first, a secondary department before its overflow time), the rings
counted, and a decline that leaves the caller ringing someone else."""

from __future__ import annotations

from typing import Any

import pytest

from signaling_server.routing import OfficerState, Router, SkillLevel
from signaling_server.routing.decisions import Ring

from .conftest import FakeClock, make_department

P, S = SkillLevel.PRIMARY, SkillLevel.SECONDARY


def _ring_all(dep_id: str, **overrides: Any) -> Any:
    return make_department(dep_id, strategy="ring_all", **overrides)


def test_an_officer_does_not_join_a_ring_that_is_timing_out_this_instant(clock: FakeClock) -> None:
    router = Router([_ring_all("a", ring_timeout_s=20, overflow_after_s=None)], clock=clock)
    router.officer_online("o1", {"a": P})
    router.join("c1", "a")
    clock.advance(20)  # the ring's deadline: the timeout is due, not yet handled
    router.officer_online("o2", {"a": P})
    assert router.officer_state("o2") is OfficerState.AVAILABLE
    assert router.officer_info("o2")["ringing_call"] is None


@pytest.mark.parametrize("first_strategy", ["longest_idle", "ring_all"])
def test_an_officer_joins_a_ring_past_a_department_with_nobody_ringing(
    clock: FakeClock, first_strategy: str
) -> None:
    deps = [make_department("a", strategy=first_strategy), _ring_all("b")]  # "a" has nobody waiting
    router = Router(deps, clock=clock)
    router.officer_online("o1", {"b": P})
    router.join("c1", "b")
    router.officer_online("o2", {"a": P, "b": P})
    assert router.officer_info("o2")["ringing_call"] == "c1"
    assert router.stats()["departments"]["b"]["rings"] == 2  # o1's ring, and o2 joining it


def test_an_officer_joins_a_later_ring_past_one_timing_out_this_instant(clock: FakeClock) -> None:
    deps = [_ring_all("a", ring_timeout_s=20), _ring_all("b", ring_timeout_s=60)]
    router = Router(deps, clock=clock)
    router.officer_online("o1", {"a": P})
    router.officer_online("o3", {"b": P})
    router.join("ca", "a")
    router.join("cb", "b")
    clock.advance(20)  # a's ring is due to time out; b's rings on
    router.officer_online("o2", {"a": P, "b": P})
    assert router.officer_info("o2")["ringing_call"] == "cb"


def test_a_secondary_officer_joins_a_ring_only_from_its_overflow_time(clock: FakeClock) -> None:
    router = Router([_ring_all("b", ring_timeout_s=120, overflow_after_s=60)], clock=clock)
    router.officer_online("o1", {"b": P})
    router.join("c1", "b")
    clock.advance(10)
    router.officer_online("o2", {"b": S})
    assert router.officer_state("o2") is OfficerState.AVAILABLE  # the caller has waited 10 s of 60
    router.officer_offline("o2")
    clock.advance(50)  # exactly the overflow time (its check is due, not yet handled)
    router.officer_online("o2", {"b": S})
    assert router.officer_info("o2")["ringing_call"] == "c1"
    assert router.stats()["departments"]["b"]["rings"] == 2


def test_a_secondary_officer_joins_an_overflowed_ring_past_a_young_one(clock: FakeClock) -> None:
    deps = [_ring_all(d, ring_timeout_s=120, overflow_after_s=60) for d in ("a", "b")]
    router = Router(deps, clock=clock)
    router.officer_online("o1", {"a": P})
    router.officer_online("o3", {"b": P})
    router.join("cb", "b")
    clock.advance(50)
    router.join("ca", "a")
    clock.advance(10)  # cb has waited 60 s, ca 10 s
    router.officer_online("o2", {"a": S, "b": S})
    assert router.officer_info("o2")["ringing_call"] == "cb"


def test_a_decline_leaves_the_caller_to_those_still_ringing(clock: FakeClock) -> None:
    router = Router([_ring_all("a", ring_timeout_s=20, overflow_after_s=None)], clock=clock)
    router.officer_online("o1", {"a": P})
    router.officer_online("o2", {"a": P})
    router.join("c1", "a")
    clock.advance(20)
    router.officer_online("o3", {"a": P})  # too late to join the ring
    decisions = router.decline("o1", "c1")
    assert router.officer_state("o2") is OfficerState.RINGING
    assert router.officer_state("o3") is OfficerState.AVAILABLE
    assert router.officer_info("o1")["ringing_call"] is None
    assert not any(isinstance(decision, Ring) for decision in decisions)  # nobody else is rung


def test_every_ring_counts_for_the_department_and_each_officer_rung(clock: FakeClock) -> None:
    router = Router([_ring_all("a", wrap_up_s=0)], clock=clock)
    router.officer_online("o1", {"a": P})
    router.officer_online("o2", {"a": P})
    router.join("c1", "a")  # rings o1 and o2
    router.accept("o2", "c1")
    router.join("c2", "a")  # rings o1
    router.call_finished("c1")  # o2 is free and joins c2's ring
    assert router.officer_info("o2")["ringing_call"] == "c2"
    stats = router.stats()
    assert stats["departments"]["a"]["rings"] == 4
    assert (stats["officers"]["o1"]["offered"], stats["officers"]["o2"]["offered"]) == (2, 2)


def test_a_ring_runs_its_whole_time_after_an_earlier_ring_was_declined(clock: FakeClock) -> None:
    router = Router([make_department("a", ring_timeout_s=20)], clock=clock)
    router.officer_online("o1", {"a": P})
    router.officer_online("o2", {"a": P})
    router.join("c1", "a")  # rings o1 until 20 s
    clock.advance(5)
    router.decline("o1", "c1")  # rings o2 until 25 s
    clock.advance(15)
    router.tick()  # the first ring's timeout is stale
    assert router.officer_info("o2")["ringing_call"] == "c1"
    clock.advance(5)
    router.tick()
    assert router.officer_info("o2")["ringing_call"] is None
