"""Queue positions: who is told a new place and estimate, after an event and every position_push_s."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from signaling_server.routing.decisions import Decision, QueuePosition
from signaling_server.routing.estimate import estimate_wait, estimate_waits
from signaling_server.routing.records import Dept
from signaling_server.routing.timers import PositionPush, Timers

# Callers who moved up because someone ahead left are told within this (the server's router; 0 in a bare
# Router: at once). Telling everyone behind at each departure cost O(queue) per answer: at 20,000 waiting
# the new leader of a cluster spent 45 % of its loop building and coalescing places after accepts (py-spy,
# docs/performance.md), for kiosks whose screens change at most five times a second anyway (positions.py).
MOVED_PUSH_S = 0.2


def check_limits(max_unanswered: int, rejoin_grace_s: float, push_s: float, moved_s: float) -> None:
    """The router's numeric settings, each with the error that names it."""
    if max_unanswered < 1:
        raise ValueError(f"max_unanswered must be at least 1, not {max_unanswered}")
    if rejoin_grace_s < 0:
        raise ValueError(f"rejoin_grace_s must not be negative, not {rejoin_grace_s}")
    if push_s <= 0:
        raise ValueError(f"position_push_s must be positive, not {push_s}")
    if moved_s < 0:
        raise ValueError(f"position_moved_s must not be negative, not {moved_s}")


class Positions:
    """Marks the first index of each queue whose callers moved during an event and, when the event ends,
    gives every caller from there on a `QueuePosition` (a caller joining at the tail: just itself)."""

    def __init__(
        self,
        deps: Mapping[str, Dept],
        timers: Timers,
        push_s: float,
        *,
        moved_s: float = 0.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._deps = deps
        self._timers = timers
        self._push_s = push_s
        self._moved_s = moved_s if clock is not None else 0.0
        self._clock = clock
        self._dirty: dict[str, int] = {}  # department -> first 0-based index whose position may have changed
        self._joined: dict[str, list[str]] = {}  # department -> who joined ahead of others: told at once
        self._early: dict[str, float] = {}  # department -> when its push brought forward by a move is due

    def ewt(self, dep: Dept, position: int) -> float | None:
        return estimate_wait(position, dep.free, dep.capacity_value(), dep.handle.mean())

    def mark(self, department: str, index: int) -> None:
        current = self._dirty.get(department)
        if current is None or index < current:
            self._dirty[department] = index

    def joined(self, department: str, index: int, call_id: str) -> None:
        """A caller joined at ``index``: told its place at once; those behind it (a caller back at the
        head: everyone) moved down, told as for ``moved``. Telling the whole queue at each return to the
        head cost O(queue) per officer: when a failover's reconnect graces ended for 250 officers in a
        tick, each sent its resident back to the head of a queue of ~3,000 (20,000-kiosk runs, 2026-12-03)."""
        if self._clock is None or self._moved_s <= 0:
            self.mark(department, index)
            return
        self._joined.setdefault(department, []).append(call_id)
        self.moved(department, index + 1)

    def moved(self, department: str, index: int) -> None:
        """Callers from ``index`` on moved up (someone ahead left). Told at once without ``moved_s``; with
        it, by the department's push, brought forward to ``moved_s`` from the first such move (one push
        for every move until then; a push that has lapsed with its queue emptied or replaced is replaced
        by the next move after its time)."""
        if self._clock is None or self._moved_s <= 0:
            self.mark(department, index)
            return
        dep = self._deps[department]
        if index >= len(dep.queue):
            return  # the last one left: nobody moved
        now = self._clock()
        if self._early.get(department, -1.0) > now:
            return  # a push is due within moved_s already: it tells everyone
        self._early[department] = now + self._moved_s
        self._timers.push(now + self._moved_s, PositionPush(department, dep.push_gen))

    def flush(self, out: list[Decision]) -> list[Decision]:
        """The event's decisions `out`, followed by a position for every caller who moved during it."""
        if self._joined:
            self._tell_joined(out)
        if not self._dirty:
            return out
        for dep_id, start in self._dirty.items():
            dep = self._deps[dep_id]
            entries = dep.queue.entries_from(start)
            ewts = estimate_waits(start + 1, len(entries), dep.free, dep.capacity_value(), dep.handle.mean())
            position = start
            for key, ewt in zip(entries, ewts, strict=True):
                position += 1
                out.append(QueuePosition(key[3], dep_id, position, ewt))
        self._dirty.clear()
        return out

    def _tell_joined(self, out: list[Decision]) -> None:
        """The callers who joined during the event, each at its place now (one that left meanwhile: none;
        one inside a range ``_dirty`` tells anyway: told there)."""
        for dep_id, call_ids in self._joined.items():
            dep = self._deps[dep_id]
            start = self._dirty.get(dep_id, len(dep.queue))
            for call_id in dict.fromkeys(call_ids):
                if call_id not in dep.queue:
                    continue
                index = dep.queue.index(call_id)
                if index < start:
                    out.append(QueuePosition(call_id, dep_id, index + 1, self.ewt(dep, index + 1)))
        self._joined.clear()

    def schedule(self, dep: Dept, now: float) -> None:
        """The department's next periodic push (any earlier one scheduled is dropped)."""
        dep.push_gen += 1
        if len(dep.queue):
            self._timers.push(now + self._push_s, PositionPush(dep.id, dep.push_gen))

    def push_all_now(self, now: float) -> None:
        """After a restore: every waiting caller is told its place at the next tick."""
        self._dirty.clear()
        for dep in self._deps.values():
            if len(dep.queue):
                self._dirty[dep.id] = 0
                self._timers.push(now, PositionPush(dep.id, dep.push_gen))

    def push_live(self, entry: PositionPush) -> bool:
        dep = self._deps[entry.department]
        return dep.push_gen == entry.push_gen and bool(len(dep.queue))

    def push_due(self, entry: PositionPush, now: float, out: list[Decision]) -> None:
        self._early.pop(entry.department, None)
        self.mark(entry.department, 0)
        self.schedule(self._deps[entry.department], now)
