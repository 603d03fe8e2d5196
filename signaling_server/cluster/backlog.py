"""Moved connections' resumes, handled after the clients that wait for a welcome.

When the lead changes, the connections that survive it move to the new leader without reconnecting: each
is registered again and told where its calls and its place stand (``Switchboard.reattach`` and ``resume``).
They have their welcome and wait for nothing, while the dead node's clients wait for theirs. Handled in the
order they came, the moves went first: at 20,000 kiosks a new leader moved its own 8,193 connections in
1.4 s before it accepted a returning client, and read its follower's 6,689 resume frames before the attach
frames of the follower's returning clients, which were welcomed 15 s after their hello (p50; the leader's
own returning clients 3 s).

A ``Backlog`` keeps those resumes, in order, and handles them a slice at a time (``SLICE_S``) between the
other work of the loop, which comes first. A connection whose resume is still waiting and that asks
something, or detaches, is resumed first (``promote``): what it hears keeps its order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable

log = logging.getLogger(__name__)


class Backlog:
    """Resumes waiting their turn, by connection; a task handles them while any wait."""

    # The moves take a slice of the loop as long as the rest of its last turn, within these bounds: half
    # the loop at most while the returning clients sign in, all of it once they are in. With a fixed 20 ms
    # a slice the ~15,700 moves of a 20,000-kiosk failover took 18 s (local) and 32 s (relayed) to drain,
    # the loop's turns lasting seconds; with these bounds 7 and 10-13 s.
    SLICE_S = 0.01
    SLICE_MAX_S = 0.05

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.clock = clock
        self._waiting: dict[Hashable, Callable[[], None]] = {}
        self._task: asyncio.Task[None] | None = None
        self.handled = 0  # resumes done, since this backlog was made
        self.drained = asyncio.Event()  # nothing waits
        self.drained.set()
        self.began: float | None = None  # when the backlog last went from empty to waiting

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._waiting

    def add(self, key: Hashable, resume: Callable[[], None]) -> None:
        """Handle ``resume`` later, after every one added before it (one per connection)."""
        if not self._waiting:
            self.began = self.clock()
            self.drained.clear()
        self._waiting[key] = resume
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain(), name=self.name)

    def promote(self, key: Hashable) -> None:
        """The connection asks something or goes: its resume now, before that."""
        resume = self._waiting.pop(key, None)
        if resume is not None:
            self._run(resume)
            self._check_drained()

    def drop(self, key: Hashable) -> bool:
        """Forget a waiting resume (its connection is gone); whether one was waiting."""
        dropped = self._waiting.pop(key, None) is not None
        self._check_drained()
        return dropped

    def drop_where(self, gone: Callable[[Hashable], bool]) -> int:
        """Forget the waiting resumes whose key ``gone`` says; how many."""
        keys = [key for key in self._waiting if gone(key)]
        for key in keys:
            del self._waiting[key]
        self._check_drained()
        return len(keys)

    def clear(self) -> None:
        """Forget everything waiting (the term ended: its connections are the next leader's)."""
        self._waiting.clear()
        self._check_drained()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _check_drained(self) -> None:
        if not self._waiting:
            self.drained.set()

    async def _drain(self) -> None:
        try:
            slice_s = self.SLICE_S
            while self._waiting:
                ends = self.clock() + slice_s
                while self._waiting and self.clock() < ends:
                    self._run(self._waiting.pop(next(iter(self._waiting))))
                paused = self.clock()
                await asyncio.sleep(0)  # the rest of the loop's turn: accepts, sign-ins, frames, timers
                slice_s = min(max(self.SLICE_S, self.clock() - paused), self.SLICE_MAX_S)
        finally:
            if self._task is asyncio.current_task():
                self._task = None
        self._check_drained()
        if self.began is not None:
            log.warning(
                "%s: moved connections resumed, the last %.2f s after the first came (%d so far)",
                *(self.name, self.clock() - self.began, self.handled),
            )

    def _run(self, resume: Callable[[], None]) -> None:
        self.handled += 1
        try:
            resume()
        except Exception:
            log.exception("%s: resuming a moved connection failed", self.name)
