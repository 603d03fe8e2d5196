"""The sorted queue and officer pool behind the router."""

from __future__ import annotations

import pytest

from signaling_server.routing.structures import DepartmentQueue, OfficerPool


def test_queue_orders_by_priority_then_join_time_then_sequence() -> None:
    queue = DepartmentQueue()
    assert queue.add((1, 10.0, 1, "late")) == 0
    assert queue.add((1, 5.0, 2, "early")) == 0
    assert queue.add((0, 20.0, 3, "head")) == 0
    assert queue.add((1, 10.0, 4, "late2")) == 3
    assert queue.call_ids() == ["head", "early", "late", "late2"]
    assert queue.index("late") == 2
    assert "late" in queue and len(queue) == 4


def test_offered_callers_keep_their_position_but_are_not_pending() -> None:
    queue = DepartmentQueue()
    for i, call in enumerate(["a", "b", "c"]):
        queue.add((1, float(i), i, call))
    queue.mark_offered("a")
    assert queue.head_pending() == (1, 1.0, 1, "b")
    assert queue.index("a") == 0 and not queue.is_pending("a")
    with pytest.raises(ValueError, match="not pending"):
        queue.mark_offered("a")
    queue.mark_pending("a")
    assert queue.head_pending()[3] == "a"
    assert queue.remove("b") == 1
    assert queue.call_ids() == ["a", "c"]
    assert [k[3] for k in queue.entries_from(1)] == ["c"]
    with pytest.raises(ValueError, match="already"):
        queue.add((1, 0.0, 0, "a"))


def test_pool_returns_best_officer_and_discards() -> None:
    pool = OfficerPool()
    pool.add("x", (5.0, "x"))
    pool.add("y", (1.0, "y"))
    pool.add("z", (3.0, "z"))
    assert pool.first() == "y"
    assert pool.officers() == ["y", "z", "x"]
    pool.discard("y")
    pool.discard("nobody")
    assert pool.first() == "z" and len(pool) == 2
    with pytest.raises(ValueError, match="already"):
        pool.add("z", (0.0, "z"))
