"""One heap of deadlines with a typed entry per kind, for pure logic that runs on an injected clock.

The router and the switchboard each keep one: an entry is a small frozen dataclass naming what falls due
(`RingTimeout(call_id, generation)`, `SetupTimeout(call_id, generation)`…), the owner fires due entries
from its `tick()` and sleeps until `next_due()`. Entries are never removed when their reason goes away
(a ring answered, a party back in time): cancelling in a heap costs O(n), so the owner says whether an
entry is still live when it reaches the top and dead ones are dropped there (lazy deletion, as asyncio's
own timer heap does for cancelled handles).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

Entry = TypeVar("Entry")


class DeadlineHeap(Generic[Entry]):
    """Entries ordered by due time, then by insertion (two entries due at once fire in the order pushed)."""

    def __init__(self, is_live: Callable[[Entry], bool]) -> None:
        self._heap: list[tuple[float, int, Entry]] = []
        self._seq = itertools.count()
        self._is_live = is_live

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, when: float, entry: Entry) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), entry))

    def next_due(self) -> float | None:
        """When the earliest live entry falls due, or None; dead entries on top are dropped on the way."""
        heap = self._heap
        while heap and not self._is_live(heap[0][2]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> Iterator[Entry]:
        """Every live entry due at or before `now`, earliest first. Entries pushed while iterating that
        are already due are yielded too; liveness is checked as each entry is reached, so firing one
        entry may kill another."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _when, _seq, entry = heapq.heappop(heap)
            if self._is_live(entry):
                yield entry

    def clear(self) -> None:
        self._heap.clear()
