"""A clock and timers that move only when told: ``kiosk_client.idle.Timers`` for tests and the demo.

``advance(s)`` runs every callback that falls due within the next ``s`` seconds, in time order (equal times
in the order they were scheduled), each with the clock set to its own due time, as the asyncio loop would
run them on a machine with no load; callbacks scheduled by a callback run too if they fall due in the window.
``run_next()`` jumps to the next callback. Nothing here sleeps or reads the real time.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True)
class ManualHandle:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class ManualTimers:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._heap: list[ManualHandle] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> ManualHandle:
        if delay < 0:
            delay = 0.0  # as asyncio: a negative delay is "now"
        handle = ManualHandle(self.now + delay, next(self._seq), callback)
        heapq.heappush(self._heap, handle)
        return handle

    @property
    def pending(self) -> int:
        """Callbacks scheduled and not cancelled."""
        return sum(not h.cancelled for h in self._heap)

    def next_due(self) -> float | None:
        self._drop_cancelled()
        return self._heap[0].when if self._heap else None

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` on, running what falls due on the way; returns the new time."""
        if seconds < 0:
            raise ValueError(f"time only moves forward, not by {seconds} s")
        target = self.now + seconds
        while (due := self.next_due()) is not None and due <= target:
            self._run_first()
        self.now = target
        return self.now

    def run_next(self) -> float:
        """Jump to the next scheduled callback and run it; returns its time."""
        if self.next_due() is None:
            raise LookupError("nothing is scheduled")
        return self._run_first()

    def _run_first(self) -> float:
        handle = heapq.heappop(self._heap)
        self.now = max(self.now, handle.when)
        handle.callback()
        return self.now

    def _drop_cancelled(self) -> None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
