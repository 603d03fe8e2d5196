"""Writes kept in memory, in order, while the database is unreachable (docs/deployment-cluster.md).

The switchboard records what has already happened (a call ended with its outcome, the queue changed, an
interpreter left): it cannot refuse it. While PostgreSQL is down those writes wait here, in the order they
were made, and run when the connection is back, before anything else reads the database. A write that
sets a whole row (the queue snapshot, a call's record: upserts of the full state, keyed ``queue``,
``call:<id>``) replaces the earlier one of the same key and takes its place at the end: the journal grows
with the number of things that changed, not the number of changes, and each row ends as last written.
Writes without a key (audit entries: a chain) are each kept, in order.

Pure: no I/O of its own; the database runs ``flush`` on its new connection.
"""

from __future__ import annotations

from collections.abc import Callable


class PendingWrites:
    def __init__(self) -> None:
        # Insertion-ordered: the oldest first. An unkeyed write gets a key of its own (a new object).
        self._waiting: dict[object, tuple[str | None, Callable[[], object]]] = {}
        self.written = 0  # writes flushed since start (metrics, logs)

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, key: str | None, write: Callable[[], object]) -> None:
        """Keep ``write`` for later, after every other; an earlier write of the same key goes."""
        slot: object = key if key is not None else object()
        self._waiting.pop(slot, None)
        self._waiting[slot] = (key, write)

    def flush(self, gone: type[BaseException], failed: Callable[[str | None, Exception], None]) -> int:
        """Run the waiting writes in order; each leaves the journal once it ran. ``gone`` (the database
        lost again) propagates with that write and the rest still waiting; any other error is the write's
        own (a refused row): ``failed`` reports it (logged, never silent) and the next one runs. How many
        ran."""
        ran = 0
        while self._waiting:
            slot, (key, write) = next(iter(self._waiting.items()))
            try:
                write()
            except gone:
                raise
            except Exception as exc:
                failed(key, exc)
            else:
                ran += 1
                self.written += 1
            del self._waiting[slot]
        return ran
