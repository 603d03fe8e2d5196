"""The edge's deadlines: one heap, a small frozen entry per kind, fired by ``tick()`` on the injected clock.

Each entry has a ``key`` naming what it is about (a call's setup, a party's grace) and a generation drawn when
it is made; scheduling a key again or cancelling it kills the older entry, which the heap drops when it
reaches the top (see signaling_server.deadlines). No event loop timer is involved, so tests drive the whole
edge with a fake clock and ``tick()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field

from remote_call.protocol import Role
from signaling_server.deadlines import DeadlineHeap

# The queue snapshot is saved at a tick after it changed, and the router's deadlines can move earlier inside
# its calls: sleeping at most this long bounds both (what a kill -9 loses, how late a deadline may fire).
MAX_SLEEP_S = 1.0

_generations = itertools.count(1)


def _generation() -> int:
    return next(_generations)


@dataclass(frozen=True, slots=True)
class SetupTimeout:
    """The call's media did not come up within server.setup_timeout_s."""

    call_id: str
    generation: int = field(default_factory=_generation)

    @property
    def key(self) -> Hashable:
        return self.key_of(self.call_id)

    @staticmethod
    def key_of(call_id: str) -> Hashable:
        return (SetupTimeout, call_id)


@dataclass(frozen=True, slots=True)
class GraceEnds:
    """A dropped kiosk or officer did not come back within server.reconnect_grace_s."""

    role: Role
    identity: str
    generation: int = field(default_factory=_generation)

    @property
    def key(self) -> Hashable:
        return self.key_of(self.role, self.identity)

    @staticmethod
    def key_of(role: Role, identity: str) -> Hashable:
        return (GraceEnds, role, identity)


# Kinds with one entry at a time use the class itself as the key.


@dataclass(frozen=True, slots=True)
class FlushPositions:
    """Send the coalesced queue places."""

    generation: int = field(default_factory=_generation)

    @property
    def key(self) -> Hashable:
        return FlushPositions


@dataclass(frozen=True, slots=True)
class PushStats:
    """Push live statistics to supervisors and officers."""

    generation: int = field(default_factory=_generation)

    @property
    def key(self) -> Hashable:
        return PushStats


@dataclass(frozen=True, slots=True)
class CheckSessions:
    """Re-validate the staff sessions of long connections."""

    generation: int = field(default_factory=_generation)

    @property
    def key(self) -> Hashable:
        return CheckSessions


Deadline = SetupTimeout | GraceEnds | FlushPositions | PushStats | CheckSessions


class EdgeTimers:
    """The heap, which entry is live for each key, and the wake-up of the task that sleeps until the next."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._heap: DeadlineHeap[Deadline] = DeadlineHeap(self._is_live)
        self._live: dict[Hashable, int] = {}  # key -> generation of its one live entry
        self._wake = asyncio.Event()
        self._sleeping_until = -math.inf  # while awake nothing needs waking

    def _is_live(self, entry: Deadline) -> bool:
        return self._live.get(entry.key) == entry.generation

    def after(self, delay_s: float, entry: Deadline) -> None:
        """Schedule ``entry`` ``delay_s`` from now, replacing any live entry with the same key."""
        self.at(self.clock() + delay_s, entry)

    def at(self, when: float, entry: Deadline) -> None:
        self._live[entry.key] = entry.generation
        self._heap.push(when, entry)
        self.wake_by(when)

    def cancel(self, key: Hashable) -> None:
        self._live.pop(key, None)

    def pending(self, key: Hashable) -> bool:
        return key in self._live

    def next_due(self) -> float | None:
        return self._heap.next_due()

    def pop_due(self, now: float) -> Iterator[Deadline]:
        """Every live entry due by ``now``, earliest first; each is dead once yielded."""
        for entry in self._heap.pop_due(now):
            del self._live[entry.key]
            yield entry

    def clear(self) -> None:
        self._heap.clear()
        self._live.clear()

    def wake_by(self, when: float | None) -> None:
        """Something falls due at ``when``: wake the sleeper early if it would sleep past it."""
        if when is not None and when < self._sleeping_until:
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def sleep_until(self, when: float | None) -> None:
        """Sleep until ``when`` (at most MAX_SLEEP_S), or until something new falls due before it."""
        now = self.clock()
        timeout = MAX_SLEEP_S if when is None else min(MAX_SLEEP_S, max(0.0, when - now))
        self._sleeping_until = now + timeout
        self._wake.clear()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            self._sleeping_until = -math.inf
