"""Sorted structures behind the router: a department's queue and a pool of available officers.

Both are Python lists kept sorted with `bisect`: lookups are O(log n), inserts and removals are one
`memmove` of pointers, so no decision walks every waiting caller or every officer in Python.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

# A caller's place: (priority, original join time, sequence number, call id); lower sorts first.
QueueKey = tuple[int, float, int, str]


class DepartmentQueue:
    """Callers waiting for one department, in service order.

    `entries` holds every caller in the queue (waiting or being offered right now) and gives positions;
    `pending` holds those not being offered, the ones an officer who becomes free may take.
    """

    __slots__ = ("_entries", "_keys", "_pending")

    def __init__(self) -> None:
        self._entries: list[QueueKey] = []
        self._pending: list[QueueKey] = []
        self._keys: dict[str, QueueKey] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._keys

    def add(self, key: QueueKey) -> int:
        """Insert a pending caller; returns its 0-based index in the queue."""
        call_id = key[3]
        if call_id in self._keys:
            raise ValueError(f"call {call_id!r} is already in this queue")
        self._keys[call_id] = key
        insort(self._entries, key)
        insort(self._pending, key)
        return bisect_left(self._entries, key)

    def remove(self, call_id: str) -> int:
        """Remove a caller (pending or offered); returns the 0-based index it had."""
        key = self._keys.pop(call_id)
        index = bisect_left(self._entries, key)
        del self._entries[index]
        pindex = bisect_left(self._pending, key)
        if pindex < len(self._pending) and self._pending[pindex] == key:
            del self._pending[pindex]
        return index

    def mark_offered(self, call_id: str) -> None:
        key = self._keys[call_id]
        pindex = bisect_left(self._pending, key)
        if pindex == len(self._pending) or self._pending[pindex] != key:
            raise ValueError(f"call {call_id!r} is not pending")
        del self._pending[pindex]

    def set_aside(self, call_id: str) -> None:
        """Keep a pending caller in the queue (its position counts) but out of reach of officers: an
        appointment reserved for its booked officer."""
        self.mark_offered(call_id)

    def mark_pending(self, call_id: str) -> None:
        insort(self._pending, self._keys[call_id])

    def is_pending(self, call_id: str) -> bool:
        key = self._keys.get(call_id)
        if key is None:
            return False
        pindex = bisect_left(self._pending, key)
        return pindex < len(self._pending) and self._pending[pindex] == key

    def index(self, call_id: str) -> int:
        return bisect_left(self._entries, self._keys[call_id])

    def head_pending(self) -> QueueKey | None:
        return self._pending[0] if self._pending else None

    def pending(self) -> Iterator[QueueKey]:
        return iter(self._pending)

    def pending_count(self) -> int:
        return len(self._pending)

    def call_ids(self) -> list[str]:
        return [key[3] for key in self._entries]

    def entries_from(self, index: int) -> list[QueueKey]:
        return self._entries[index:]

    def head(self) -> QueueKey | None:
        return self._entries[0] if self._entries else None


# An officer's place in a pool: a strategy-specific sort key ending with the officer id.
PoolKey = tuple


class OfficerPool:
    """Available officers of one department at one skill level, best first for its strategy."""

    __slots__ = ("_keys", "_sorted")

    def __init__(self) -> None:
        self._sorted: list[PoolKey] = []
        self._keys: dict[str, PoolKey] = {}

    def __len__(self) -> int:
        return len(self._sorted)

    def __contains__(self, officer_id: object) -> bool:
        return officer_id in self._keys

    def add(self, officer_id: str, key: PoolKey) -> None:
        if officer_id in self._keys:
            raise ValueError(f"officer {officer_id!r} is already in this pool")
        self._keys[officer_id] = key
        insort(self._sorted, key)

    def discard(self, officer_id: str) -> None:
        key = self._keys.pop(officer_id, None)
        if key is not None:
            del self._sorted[bisect_left(self._sorted, key)]

    def first(self) -> str | None:
        return self._sorted[0][-1] if self._sorted else None

    def officers(self) -> list[str]:
        return [key[-1] for key in self._sorted]
