"""The deadline heap shared by the router and the switchboard: order, liveness, entries added while firing."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from signaling_server.deadlines import DeadlineHeap


@dataclass(frozen=True)
class Alarm:
    name: str
    generation: int = 0


def test_due_entries_fire_in_time_order_then_in_push_order() -> None:
    heap: DeadlineHeap[Alarm] = DeadlineHeap(lambda entry: True)
    heap.push(5.0, Alarm("late"))
    heap.push(1.0, Alarm("first"))
    heap.push(1.0, Alarm("second"))
    heap.push(9.0, Alarm("not yet"))
    assert [a.name for a in heap.pop_due(5.0)] == ["first", "second", "late"]
    assert heap.next_due() == 9.0
    assert list(heap.pop_due(8.9)) == []


def test_dead_entries_are_skipped_and_do_not_wake_the_owner() -> None:
    current = {"ring": 2}
    heap: DeadlineHeap[Alarm] = DeadlineHeap(lambda a: current.get(a.name) == a.generation)
    heap.push(1.0, Alarm("ring", 1))  # superseded by generation 2
    heap.push(3.0, Alarm("ring", 2))
    assert heap.next_due() == 3.0
    assert len(heap) == 1  # the dead one was dropped on the way
    current["ring"] = 3
    assert heap.next_due() is None
    assert list(heap.pop_due(10.0)) == []


def test_an_entry_killed_by_firing_another_is_not_yielded() -> None:
    live = {"a", "b"}
    heap: DeadlineHeap[Alarm] = DeadlineHeap(lambda a: a.name in live)
    heap.push(1.0, Alarm("a"))
    heap.push(1.0, Alarm("b"))
    fired = []
    for alarm in heap.pop_due(1.0):
        fired.append(alarm.name)
        live.discard("b")  # firing a cancels b
    assert fired == ["a"]


def test_entries_pushed_while_firing_that_are_due_fire_in_the_same_pass() -> None:
    heap: DeadlineHeap[Alarm] = DeadlineHeap(lambda a: True)
    heap.push(1.0, Alarm("a"))
    fired = []
    for alarm in heap.pop_due(2.0):
        fired.append(alarm.name)
        if alarm.name == "a":
            heap.push(1.5, Alarm("follow-up"))
            heap.push(2.5, Alarm("later"))
    assert fired == ["a", "follow-up"]
    assert heap.next_due() == 2.5


@given(st.lists(st.tuples(st.floats(0, 100), st.booleans()), max_size=50), st.floats(0, 100))
def test_pop_due_yields_exactly_the_live_due_entries_sorted(items, now) -> None:
    heap: DeadlineHeap[tuple[int, float, bool]] = DeadlineHeap(lambda entry: entry[2])
    for index, (when, live) in enumerate(items):
        heap.push(when, (index, when, live))
    fired = list(heap.pop_due(now))
    expected = sorted(
        ((i, w, live) for i, (w, live) in enumerate(items) if live and w <= now), key=lambda e: (e[1], e[0])
    )
    assert fired == expected
    later = [w for w, live in items if live and w > now]
    assert heap.next_due() == (min(later) if later else None)
