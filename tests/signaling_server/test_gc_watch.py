"""Garbage-collection pauses timed by the server process (signaling_server/gc_watch.py): a long one is
logged with its generation, a short one is not; installing twice adds one callback."""

from __future__ import annotations

import gc
import itertools
import logging

from signaling_server.gc_watch import GcWatch, install


def collect_with(watch: GcWatch, generation: int) -> None:
    gc.callbacks.append(watch)
    try:
        gc.collect(generation)
    finally:
        gc.callbacks.remove(watch)


def test_a_collection_longer_than_the_bound_is_logged_with_its_generation(caplog) -> None:
    seconds = itertools.count(step=0.75)  # each reading of the clock 0.75 s after the last
    watch = GcWatch(long_s=0.5, clock=lambda: next(seconds))
    with caplog.at_level(logging.WARNING, logger="signaling_server.gc_watch"):
        collect_with(watch, 2)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("a generation-2 garbage collection held the process for 0.75 s")
    assert watch.longest_s[2] == 0.75 and watch.paused_s == [0.0, 0.0, 0.75]


def test_a_short_collection_is_counted_not_logged(caplog) -> None:
    seconds = itertools.count(step=0.25)
    watch = GcWatch(long_s=0.5, clock=lambda: next(seconds))
    with caplog.at_level(logging.WARNING, logger="signaling_server.gc_watch"):
        collect_with(watch, 0)
        collect_with(watch, 0)
    assert caplog.records == []
    assert watch.paused_s == [0.5, 0.0, 0.0] and watch.longest_s[0] == 0.25


def test_installing_twice_adds_one_watch() -> None:
    before = list(gc.callbacks)
    try:
        first = install()
        assert install() is first
        assert [c for c in gc.callbacks if isinstance(c, GcWatch)] == [first]
    finally:
        gc.callbacks[:] = before
