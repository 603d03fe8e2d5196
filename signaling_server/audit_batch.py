"""Audit entries written together at the end of the event loop's turn instead of one transaction each.

A sign-in's entry need not be in the chain before the client is welcomed, nor a call's start or end before
the parties are told (the call's record, written at once, is what a restart resumes from). When a cluster
node dies its clients sign in again at the survivors all at once (some 5,000 a node within seconds at
20,000 kiosks), and one transaction per entry took the audit lock for each of them and for each call
started and ended meanwhile: 9 % of the new leader's busy loop in the 25 s after a takeover (profiled,
20,000 kiosks, SQLite), on SQLite waiting for the other nodes' writes inside the loop (``busy_timeout``),
on PostgreSQL five round trips each. A batch takes the lock once per turn for every entry added in it.

Each entry is checked and timed when it is added (``AuditLog.prepare``), so a wrong one fails its caller and
a late write keeps the time the thing happened. What a process killed between the add and the end of the
turn had not written is lost: a single turn, as for any write in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Mapping

from signaling_server.audit import AuditLog, DetailValue, PendingEntry
from signaling_server.db import DatabaseUnavailable

log = logging.getLogger(__name__)

RETRY_S = 1.0  # after a write that failed (SQLite busy beyond its timeout): the entries wait and go again


class AuditBatch:
    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit
        self._pending: list[PendingEntry] = []
        self._flush: asyncio.Handle | None = None

    def add(
        self, actor: str, action: str, target: str = "", details: Mapping[str, DetailValue] | None = None
    ) -> None:
        """Check and time the entry now; write it at the end of this turn of the loop, with the others (at
        once where no loop runs: a tool, a synchronous test)."""
        self._pending.append(self.audit.prepare(actor, action, target, details))
        if self._flush is not None:
            return
        try:
            self._flush = asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:
            self.flush()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Write what waits, in one transaction; how many were written. Called at the end of a turn and on
        shutdown (before the store closes)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        entries, self._pending = self._pending, []
        if not entries:
            return 0
        try:
            self.audit.append_many(entries)
        except (sqlite3.OperationalError, DatabaseUnavailable) as exc:
            log.warning("%d audit entries not written yet (%s); again in %.0f s", len(entries), exc, RETRY_S)
            self._pending[:0] = entries
            with contextlib.suppress(RuntimeError):  # no loop: the next add or flush tries again
                self._flush = asyncio.get_running_loop().call_later(RETRY_S, self.flush)
            return 0
        return len(entries)
