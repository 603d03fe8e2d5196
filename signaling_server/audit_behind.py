"""The switchboard's audit log: an entry of what has happened waits with the records while PostgreSQL is
unreachable (``Database.write_behind``, signaling_server/database_watch.py), then joins the chain in order.

An entry that waits is written with the time it happened (``at``); its place in the chain (``seq``, the
hash) is given when it is written, so the chain stays one linear chain whichever node appends.
"""

from __future__ import annotations

from collections.abc import Sequence

from signaling_server.audit import AuditEntry, AuditLog, PendingEntry
from signaling_server.db import DatabaseUnavailable


class WriteBehindAudit(AuditLog):
    def append_many(self, entries: Sequence[PendingEntry]) -> list[AuditEntry]:
        """As ``AuditLog.append_many``; while the database is unreachable, the entries are kept (each with
        the time it happened) and provisional ones (``seq`` 0, no hash) returned."""
        db = self._conn
        if db.available and not db.pending_writes:
            try:
                return super().append_many(entries)
            except DatabaseUnavailable:
                pass  # lost during these very entries: they wait with the others
        kept = list(entries)
        db.write_behind(None, lambda: AuditLog.append_many(self, kept))
        return [AuditEntry(0, e.at, e.actor, e.action, e.target, e.details, "", "") for e in kept]
