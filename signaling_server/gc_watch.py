"""Garbage-collection pauses, timed: a long one is logged.

A collection of the oldest generation walks every tracked object of the process while holding the
interpreter lock, so nothing else runs meanwhile: not the event loop, not the heartbeat thread that renews a
leader's lease (``cluster/heartbeat.py``). Measured on this machine: 0.32 s for a heap of 2 million
objects; a leader of the 20,000-kiosk run held 1.1 GB and renewed its lease up to 3 s late, longer than a
3 s lease allows. So ``madoguchi-server`` times every collection and logs one that held the process longer
than ``LONG_S``, with its generation and what it found: a node's log then tells a pause of the collector
from a busy event loop (whose spells the heartbeat thread logs with the loop's stack).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

LONG_S = 0.5  # a sixth of the default lease: worth a line in the log, rare enough not to flood it


class GcWatch:
    """A ``gc.callbacks`` entry: ``longest_s`` and ``paused_s`` (in all) per generation, long ones logged."""

    def __init__(self, *, long_s: float = LONG_S, clock: Callable[[], float] = time.perf_counter) -> None:
        self.long_s = long_s
        self.clock = clock
        self.longest_s = [0.0, 0.0, 0.0]
        self.paused_s = [0.0, 0.0, 0.0]
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
        if took > self.long_s:
            log.warning(
                "a generation-%d garbage collection held the process for %.2f s (%d objects collected)",
                generation,
                took,
                info.get("collected", 0),
            )


def install() -> GcWatch:
    """The process's watch, added to ``gc.callbacks`` once (again: the same one)."""
    for callback in gc.callbacks:
        if isinstance(callback, GcWatch):
            return callback
    watch = GcWatch()
    gc.callbacks.append(watch)
    return watch
