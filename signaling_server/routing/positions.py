"""Queue positions: who is told a new place and estimate, after an event and every position_push_s."""

from __future__ import annotations

from collections.abc import Mapping

from signaling_server.routing.decisions import Decision, QueuePosition
from signaling_server.routing.estimate import estimate_wait, estimate_waits
from signaling_server.routing.records import Dept
from signaling_server.routing.timers import PositionPush, Timers


class Positions:
    """Marks the first index of each queue whose callers moved during an event and, when the event ends,
    gives every caller from there on a `QueuePosition` (a caller joining at the tail: just itself)."""

    def __init__(self, deps: Mapping[str, Dept], timers: Timers, push_s: float) -> None:
        self._deps = deps
        self._timers = timers
        self._push_s = push_s
        self._dirty: dict[str, int] = {}  # department -> first 0-based index whose position may have changed

    def ewt(self, dep: Dept, position: int) -> float | None:
        return estimate_wait(position, dep.free, dep.capacity_value(), dep.handle.mean())

    def mark(self, department: str, index: int) -> None:
        current = self._dirty.get(department)
        if current is None or index < current:
            self._dirty[department] = index

    def flush(self, out: list[Decision]) -> list[Decision]:
        """The event's decisions `out`, followed by a position for every caller who moved during it."""
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
        self.mark(entry.department, 0)
        self.schedule(self._deps[entry.department], now)
