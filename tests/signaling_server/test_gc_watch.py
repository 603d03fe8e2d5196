"""Garbage-collection pauses timed by the server process (signaling_server/gc_watch.py): a long one is
logged with its generation, a short one is not; installing twice adds one callback."""

from __future__ import annotations

import gc
import itertools
import logging

from signaling_server.gc_watch import THRESHOLDS, GcWatch, install


def collect_with(watch: GcWatch, generation: int) -> None:
    gc.callbacks.append(watch)
    try:
        gc.collect(generation)
    finally:
        gc.callbacks.remove(watch)


def test_a_collection_longer_than_the_bound_is_logged_with_its_generation(caplog) -> None:
    seconds = itertools.count(step=0.75)  # each reading of the clock 0.75 s after the last
    watch = GcWatch(long_s=0.5, freeze_after_s=None, clock=lambda: next(seconds))
    with caplog.at_level(logging.WARNING, logger="signaling_server.gc_watch"):
        collect_with(watch, 2)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("a generation-2 garbage collection held the process for 0.75 s")
    assert watch.longest_s[2] == 0.75 and watch.paused_s == [0.0, 0.0, 0.75]


def test_a_short_collection_is_counted_not_logged(caplog) -> None:
    seconds = itertools.count(step=0.25)
    watch = GcWatch(long_s=0.5, freeze_after_s=None, clock=lambda: next(seconds))
    with caplog.at_level(logging.WARNING, logger="signaling_server.gc_watch"):
        collect_with(watch, 0)
        collect_with(watch, 0)
    assert caplog.records == []
    assert watch.paused_s == [0.5, 0.0, 0.0] and watch.longest_s[0] == 0.25


def test_installing_twice_adds_one_watch() -> None:
    before, thresholds = list(gc.callbacks), gc.get_threshold()
    try:
        first = install()
        assert install() is first
        assert [c for c in gc.callbacks if isinstance(c, GcWatch)] == [first]
    finally:
        gc.callbacks[:] = before
        gc.set_threshold(*thresholds)


def test_installing_sets_the_servers_thresholds() -> None:
    """A server makes almost no cyclic garbage: its young objects are collected far less often than
    Python's default of every 700 allocations, and the older generations rarely."""
    thresholds = gc.get_threshold()
    try:
        install()
        assert gc.get_threshold() == THRESHOLDS
        young, middle, oldest = THRESHOLDS
        assert young >= 100 * 700 and middle > 10 and oldest > 10
        install((1_000, 10, 10))
        assert gc.get_threshold() == (1_000, 10, 10)
    finally:
        gc.set_threshold(*thresholds)


class Freezer:
    """Stands in for gc.freeze / gc.unfreeze: what the watch asked for, in order."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def watch(self, clock, **kwargs) -> GcWatch:
        return GcWatch(
            long_s=10.0,
            clock=clock,
            freeze=lambda: self.asked.append("freeze"),
            unfreeze=lambda: self.asked.append("unfreeze"),
            **kwargs,
        )


def test_a_long_full_collection_that_found_nothing_freezes_the_heap() -> None:
    freezer = Freezer()
    seconds = itertools.count(step=0.3)
    watch = freezer.watch(lambda: next(seconds), freeze_after_s=0.2)
    watch("start", {"generation": 2})
    watch("stop", {"generation": 2, "collected": 11})  # the 20,000 run's: 0 to 11 of millions
    assert freezer.asked == ["freeze"] and watch.freezes == 1


def test_a_productive_short_or_young_collection_freezes_nothing() -> None:
    freezer = Freezer()
    seconds = itertools.count(step=0.3)
    watch = freezer.watch(lambda: next(seconds), freeze_after_s=0.2)
    for phase, info in (
        ("start", {"generation": 2}),
        ("stop", {"generation": 2, "collected": 50_000}),  # it freed memory: worth its time
        ("start", {"generation": 1}),
        ("stop", {"generation": 1, "collected": 0}),  # a young one: never frozen for
    ):
        watch(phase, info)
    quick = freezer.watch(lambda: next(itertools.count(step=0.1)), freeze_after_s=0.2)
    quick("start", {"generation": 2})
    quick("stop", {"generation": 2, "collected": 0})  # 0.1 s: cheap enough to keep walking
    never = freezer.watch(lambda: next(seconds), freeze_after_s=None)
    never("start", {"generation": 2})
    never("stop", {"generation": 2, "collected": 0})
    assert freezer.asked == [] and watch.freezes == quick.freezes == never.freezes == 0


def test_frozen_objects_are_thawed_after_a_while_so_dead_cycles_are_freed() -> None:
    freezer = Freezer()
    now = [0.0]
    watch = freezer.watch(lambda: now[0], freeze_after_s=0.2, thaw_s=600.0)

    def collect(generation: int, took: float, collected: int) -> None:
        watch("start", {"generation": generation})
        now[0] += took
        watch("stop", {"generation": generation, "collected": collected})

    collect(2, 0.5, 0)
    now[0] += 599.0
    collect(0, 0.01, 0)  # not yet
    assert freezer.asked == ["freeze"]
    now[0] += 1.0
    collect(0, 0.01, 0)
    assert freezer.asked == ["freeze", "unfreeze"] and watch.frozen_at is None
    collect(2, 0.5, 100)  # walked everything once more and again found little: frozen again
    assert freezer.asked == ["freeze", "unfreeze", "freeze"] and watch.freezes == 2


def test_the_real_collector_is_frozen_and_thawed() -> None:
    """With gc.freeze itself: after a wasted full collection the live objects are out of its walks."""
    live = [[i] for i in range(50_000)]  # tracked, alive, and no garbage among them
    watch = GcWatch(long_s=10.0, freeze_after_s=0.0, thaw_s=3600.0)
    before = gc.get_freeze_count()
    try:
        collect_with(watch, 2)
        assert watch.freezes == 1 and gc.get_freeze_count() >= before + len(live)
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
