"""Garbage-collection pauses, timed: a long one is logged.

A collection of the oldest generation walks every tracked object of the process while holding the
interpreter lock, so nothing else runs meanwhile: not the event loop, not the heartbeat thread that renews a
leader's lease (``cluster/heartbeat.py``). Measured on this machine: 0.32 s for a heap of 2 million
objects; a leader of the 20,000-kiosk run held 1.1 GB and renewed its lease up to 3 s late, longer than a
3 s lease allows. So ``madoguchi-server`` times every collection and logs one that held the process longer
than ``LONG_S``, with its generation and what it found: a node's log then tells a pause of the collector
from a busy event loop (whose spells the heartbeat thread logs with the loop's stack).

And it acts on what it measures. The 20,000-kiosk run (three nodes, 2026-12-02) logged 179 such pauses,
up to 3.3 s and about 100 s in all on each surviving node, nearly all of them collecting **nothing**: the
heap was live state (25,000 connections and 20,000 calls), walked again every few seconds because messages
in flight survive long enough to count as long-lived. A full collection that took longer than
``FREEZE_AFTER_S`` and collected fewer than ``UNPRODUCTIVE`` objects therefore ends with ``gc.freeze()``:
what is alive now is moved out of the collector's walks, and the next full collection walks only what came
after. Frozen objects are never collected, so a cycle that dies after the freeze would stay in memory:
every ``THAW_S`` the process thaws them (``gc.unfreeze()``), the next full collection walks everything
once and frees such cycles, and freezes again if it found little. One long pause in ten minutes, not one
every ten seconds.

Most pauses were never long enough to log, and there were many. ``install`` therefore also sets the
collector's thresholds (``THRESHOLDS``): the server makes almost no cyclic garbage (a 20,000-kiosk run's
new leader had collected some 2,300 objects in 4,500 collections), but at Python's defaults (700, 10, 10)
that leader spent 2.9 s of the first 8 s after it took over collecting, of 6.5 s of CPU: 14 full
collections of about 0.15 s that found nothing, 150 of the middle generation (0.6 s), 1,650 young ones
(0.2 s), while 8,000 returning clients waited on its one core. (A sampling profiler puts a collection's
time on whatever line happened to allocate, or, sampling by signal, on a single sample: which is how the
earlier profiles of that herd missed it. ``paused_s`` measured it.)
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

LONG_S = 0.5  # a sixth of the default lease: worth a line in the log, rare enough not to flood it
FREEZE_AFTER_S = 0.2  # a full collection this long holds a 3 s lease's renewal (every 0.5 s) noticeably
UNPRODUCTIVE = 10_000  # objects collected below which such a collection was wasted (the run's: 0 to 11)
THAW_S = 600.0  # how long frozen objects stay out of the collector's walks before they are walked again
# Young objects are collected every 100,000 allocations net (700 by default), the middle generation every
# 50 of those, the oldest every 100 of the middle (and Python's own rule: when a quarter of it is new). The
# same run with these, three times: 0.8-1.6 s of collections in those 8 s, none of the two older
# generations; the nodes' peak memory unchanged (520-590 MB), 100,000 young objects being a few MB. (The
# whole run's node CPU did not tell it apart from the machine's drift: docs/performance.md.)
THRESHOLDS = (100_000, 50, 100)


class GcWatch:
    """A ``gc.callbacks`` entry: ``longest_s`` and ``paused_s`` (in all) per generation, long ones logged."""

    def __init__(
        self,
        *,
        long_s: float = LONG_S,
        freeze_after_s: float | None = FREEZE_AFTER_S,
        thaw_s: float = THAW_S,
        clock: Callable[[], float] = time.perf_counter,
        freeze: Callable[[], None] = gc.freeze,
        unfreeze: Callable[[], None] = gc.unfreeze,
    ) -> None:
        self.long_s = long_s
        self.freeze_after_s = freeze_after_s  # None: never freeze (only time and log)
        self.thaw_s = thaw_s
        self.clock = clock
        self._freeze = freeze
        self._unfreeze = unfreeze
        self.longest_s = [0.0, 0.0, 0.0]
        self.paused_s = [0.0, 0.0, 0.0]
        self.freezes = 0
        self.frozen_at: float | None = None  # when the heap was last frozen (None: nothing frozen by us)
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self.clock()
            return
        if self._started is None:  # installed during a collection
            return
        took = self.clock() - self._started
        self._started = None
        generation = int(info.get("generation", 2))
        self.paused_s[generation] += took
        self.longest_s[generation] = max(self.longest_s[generation], took)
        collected = int(info.get("collected", 0))
        if took > self.long_s:
            log.warning(
                "a generation-%d garbage collection held the process for %.2f s (%d objects collected)",
                generation,
                took,
                collected,
            )
        now = self.clock()
        if generation == 2 and self._wasted(took, collected):
            self._freeze()  # the collection is over: what survived it is what gets frozen
            self.freezes += 1
            self.frozen_at = now
        elif self.frozen_at is not None and now - self.frozen_at >= self.thaw_s:
            self._unfreeze()
            self.frozen_at = None

    def _wasted(self, took: float, collected: int) -> bool:
        return self.freeze_after_s is not None and took > self.freeze_after_s and collected < UNPRODUCTIVE


def install(thresholds: tuple[int, int, int] = THRESHOLDS) -> GcWatch:
    """The collector's ``thresholds`` set, and the process's watch added to ``gc.callbacks`` once (again:
    the same one)."""
    gc.set_threshold(*thresholds)
    for callback in gc.callbacks:
        if isinstance(callback, GcWatch):
            return callback
    watch = GcWatch()
    gc.callbacks.append(watch)
    return watch
