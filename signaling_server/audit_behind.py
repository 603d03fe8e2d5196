"""The switchboard's audit log: an entry of what has happened waits with the records while PostgreSQL is
unreachable (``Database.write_behind``, signaling_server/database_watch.py), then joins the chain in order.

An entry that waits is written with the time it happened (``at``); its place in the chain (``seq``, the
hash) is given when it is written, so the chain stays one linear chain whichever node appends.
"""

from __future__ import annotations

from collections.abc import Mapping

from signaling_server.audit import AuditEntry, AuditLog, DetailValue
from signaling_server.db import DatabaseUnavailable


class WriteBehindAudit(AuditLog):
    def append(
        self,
        actor: str,
        action: str,
        target: str = "",
        details: Mapping[str, DetailValue] | None = None,
        at: float | None = None,
    ) -> AuditEntry:
        """As ``AuditLog.append``; while the database is unreachable, the entry is kept and a provisional
        one (``seq`` 0, no hash) returned."""
        when = float(self._clock() if at is None else at)
        db = self._conn
        if db.available and not db.pending_writes:
            try:
                return super().append(actor, action, target, details, when)
            except DatabaseUnavailable:
                pass  # lost during this very entry: it waits with the others
        kept = dict(details or {})
        db.write_behind(None, lambda: AuditLog.append(self, actor, action, target, kept, when))
        return AuditEntry(0, when, actor, action, target, kept, "", "")
