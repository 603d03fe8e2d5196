"""Callers who moved up because someone ahead left are told by one push within ``position_moved_s`` (the
server's router: ``MOVED_PUSH_S``), not at every departure: at 20,000 waiting each answer told everyone
behind (O(queue) per answer; 45 % of a cluster leader's loop). A joiner still hears its place at once."""

from __future__ import annotations

import pytest

from config.schema import AppConfig
from signaling_server.routing import QueuePosition, Router
from signaling_server.routing.positions import MOVED_PUSH_S
from signaling_server.testing import test_config


def places(decisions: list) -> list[tuple[str, int]]:
    return [(d.call_id, d.position) for d in decisions if isinstance(d, QueuePosition)]


def queue_of(router: Router, clock, n: int) -> None:
    for i in range(n):
        assert places(router.join(f"c{i}", "kosodate")) == [(f"c{i}", i + 1)]  # its place at once
        clock.advance(1)


def test_departures_within_the_batch_are_told_by_one_push(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock, position_moved_s=0.25)
    queue_of(router, clock, 5)
    periodic = router.next_deadline()
    assert places(router.leave("c0")) == []  # nobody behind is told yet
    assert router.next_deadline() == clock.now + 0.25
    clock.advance(0.125)
    assert places(router.leave("c1")) == []
    assert router.next_deadline() == clock.now + 0.125  # the same push: none added for the second move
    clock.advance(0.125)
    assert places(router.tick()) == [("c2", 1), ("c3", 2), ("c4", 3)]
    # the period restarts from this push
    assert router.next_deadline() == pytest.approx(clock.now + 15) and periodic < clock.now + 15
    assert places(router.leave("c2")) == [] and router.next_deadline() == clock.now + 0.25  # a new batch
    clock.advance(0.25)
    assert places(router.tick()) == [("c3", 1), ("c4", 2)]


def test_the_last_caller_leaving_moves_nobody(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock, position_moved_s=0.25)
    queue_of(router, clock, 3)
    periodic = router.next_deadline()
    assert places(router.leave("c2")) == [] and router.next_deadline() == periodic


def test_without_a_batch_everyone_behind_is_told_at_once(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    queue_of(router, clock, 3)
    assert places(router.leave("c0")) == [("c1", 1), ("c2", 2)]


def test_a_push_that_lapsed_with_its_queue_is_replaced_by_the_next_move(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock, position_moved_s=0.25)
    queue_of(router, clock, 2)
    router.leave("c0")  # an early push for c1 ...
    router.leave("c1")  # ... whose queue is now empty: it lapses
    queue_of(router, clock, 3)
    assert places(router.leave("c0")) == [] and router.next_deadline() == clock.now + 0.25
    clock.advance(0.25)
    assert places(router.tick()) == [("c1", 1), ("c2", 2)]


def test_a_negative_batch_is_refused_by_name(clock, department) -> None:
    with pytest.raises(ValueError, match="position_moved_s must not be negative"):
        Router([department("kosodate")], clock=clock, position_moved_s=-1)


def test_the_servers_router_batches_moves(clock) -> None:
    config: AppConfig = test_config()
    router = Router.from_config(config, clock=clock)
    for i in range(3):
        router.join(f"c{i}", "kosodate")
    assert places(router.leave("c0")) == [] and router.next_deadline() == clock.now + MOVED_PUSH_S


def test_a_caller_back_at_the_head_is_told_at_once_and_those_behind_by_one_push(clock, department) -> None:
    """An officer dropped in a call sends its resident back to the head: that resident hears its place at
    once, everyone behind by the batch's push. Telling the whole queue at each return cost O(queue) per
    officer: 250 officers' graces ending in one tick after a failover, each before ~3,000 waiting."""
    router = Router([department("kosodate")], clock=clock, position_moved_s=0.25)
    router.officer_online("o1", {"kosodate": "primary"})
    router.officer_online("o2", {"kosodate": "primary"})
    router.join("c0", "kosodate")
    router.accept("o1", "c0")
    router.join("c1", "kosodate")
    router.accept("o2", "c1")
    waiting = [f"w{i}" for i in range(4)]
    for i, call_id in enumerate(waiting):
        assert places(router.join(call_id, "kosodate")) == [(call_id, i + 1)]
    assert places(router.officer_offline("o1")) == [("c0", 1)]  # not the four behind it
    assert places(router.officer_offline("o2")) == [("c1", 2)]  # behind c0, who joined first
    assert router.next_deadline() == clock.now + 0.25
    clock.advance(0.25)
    assert places(router.tick()) == [("c0", 1), ("c1", 2), ("w0", 3), ("w1", 4), ("w2", 5), ("w3", 6)]


def test_without_a_batch_a_caller_back_at_the_head_moves_everyone_at_once(clock, department) -> None:
    router = Router([department("kosodate")], clock=clock)
    router.officer_online("o1", {"kosodate": "primary"})
    router.join("c0", "kosodate")
    router.accept("o1", "c0")
    router.join("w0", "kosodate")
    assert places(router.officer_offline("o1")) == [("c0", 1), ("w0", 2)]
