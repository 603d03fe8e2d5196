"""Records: accounts, kiosk tokens, sessions, call records and the waiting queue.

A call record's ``business`` column holds the invitation (``BusinessInfo`` as JSON) when the caller was a
business (docs/business.md); it is NULL for a kiosk's call. ``rating`` is the resident's satisfaction
(1..5, ``rate_call``), NULL until given. Databases made before these columns get them
added by migration 1 (signaling_server/db/migrations.py). The invitations themselves live in
``signaling_server.business`` on the same database.

``server.database`` is a SQLite file (the embedded default: created on first use, WAL mode) or a
``postgresql://`` URL (several nodes, docs/deployment-cluster.md); either is opened through
``signaling_server.db`` with its migrations applied, and every module's tables live in it. Every method is
a short synchronous statement; the server calls them from its event loop (a call's three saves and one
read on this 2-core machine: SQLite 0.13 ms, PostgreSQL over its unix socket 0.56 ms; 0.81 and 5.9 ms
when the machine was saturated; bench/bench_store_pg.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signaling_server.db import Database, IntegrityError, open_database


@dataclass(frozen=True)
class OfficerAccount:
    username: str
    display_name: str
    role: str
    password_hash: str
    skills: dict[str, str]
    disabled: bool


@dataclass
class CallRecord:
    call_id: str
    kiosk_id: str
    department: str
    procedure: str | None
    language: str | None
    state: str
    created_at: float
    officer: str | None = None
    end_reason: str | None = None
    outcome: str | None = None
    notes: str | None = None
    answered_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    business: str | None = None  # the caller was a business: its BusinessInfo as JSON; None for a kiosk
    rating: int | None = None  # the resident's satisfaction, 1..5, given once after the call (rate_call)


_CALL_FIELDS = tuple(CallRecord.__dataclass_fields__)


class Store:
    def __init__(self, database: str | Path | Database):
        """``database``: ``server.database`` (a SQLite path or a ``postgresql://`` URL), or one opened."""
        self.db = database if isinstance(database, Database) else open_database(str(database))
        self.conn = self.db  # every module's tables are on this one database (it was a sqlite3 connection)
        # What to open again (a restarted server in tests); a URL may hold a password: never log it.
        self.path = self.db.describe() if isinstance(database, Database) else str(database)

    def close(self) -> None:
        self.conn.close()

    def party_joined(self, call_id: str, party: str, username: str, language: str | None, at: float) -> int:
        """A third party (an interpreter) joined a call: the row's id, to close when it leaves."""
        row = self.conn.fetchone(
            "INSERT INTO call_parties(call_id, party, username, language, joined_at) VALUES (?, ?, ?, ?, ?)"
            " RETURNING id",
            (call_id, party, username, language, at),
        )
        return int(row[0])

    def party_left(self, row_id: int, at: float) -> None:
        """Written behind while PostgreSQL is unreachable (``Database.write_behind``): it has happened."""
        self.conn.write_behind(
            f"party:{row_id}",
            lambda: self.conn.execute(
                "UPDATE call_parties SET left_at = ? WHERE id = ? AND left_at IS NULL", (at, row_id)
            ),
        )

    def call_parties(self, call_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT * FROM call_parties WHERE call_id = ? ORDER BY id", (call_id,))
        return [dict(row) for row in rows]

    def open_parties(self) -> list[dict[str, Any]]:
        """Stays not yet ended (after a restart: those the previous process left open)."""
        return [dict(row) for row in self.conn.execute("SELECT * FROM call_parties WHERE left_at IS NULL")]

    def close_open_parties(self, at: float) -> int:
        """After a restart: stays left open by the previous process end now (their media is gone)."""
        return self.conn.execute("UPDATE call_parties SET left_at = ? WHERE left_at IS NULL", (at,)).rowcount

    # ------------------------------------------------------------- officers

    def add_officer(
        self, username: str, display_name: str, role: str, password_hash: str, skills: dict[str, str]
    ) -> None:
        try:
            self.conn.execute(
                "INSERT INTO officers(username, display_name, role, password_hash, skills, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (username, display_name, role, password_hash, json.dumps(skills), time.time()),
            )
        except IntegrityError:
            raise ValueError(f"an account named {username!r} already exists") from None

    def officer(self, username: str) -> OfficerAccount | None:
        row = self.conn.execute("SELECT * FROM officers WHERE username = ?", (username,)).fetchone()
        if row is None:
            return None
        return OfficerAccount(
            username=row["username"],
            display_name=row["display_name"],
            role=row["role"],
            password_hash=row["password_hash"],
            skills=json.loads(row["skills"]),
            disabled=bool(row["disabled"]),
        )

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self.conn.execute(
            "UPDATE officers SET password_hash = ? WHERE username = ?", (password_hash, username)
        )

    def set_disabled(self, username: str, disabled: bool) -> bool:
        cur = self.conn.execute(
            "UPDATE officers SET disabled = ? WHERE username = ?", (int(disabled), username)
        )
        return cur.rowcount > 0

    def end_sessions(self, username: str) -> int:
        """Every session of the account ends (REST at once, live connections at the next revocation check)."""
        return self.conn.execute("DELETE FROM sessions WHERE username = ?", (username,)).rowcount

    def officers(self) -> list[OfficerAccount]:
        names = [r[0] for r in self.conn.execute("SELECT username FROM officers ORDER BY username")]
        return [a for a in (self.officer(n) for n in names) if a is not None]

    # ------------------------------------------------------------- kiosk tokens

    def set_kiosk_token(self, kiosk_id: str, token_hash: str) -> None:
        self.conn.execute(
            "INSERT INTO kiosk_tokens(kiosk_id, token_hash, revoked, issued_at) VALUES (?, ?, 0, ?)"
            " ON CONFLICT(kiosk_id) DO UPDATE SET token_hash = excluded.token_hash, revoked = 0,"
            " issued_at = excluded.issued_at",
            (kiosk_id, token_hash, time.time()),
        )

    def revoke_kiosk_token(self, kiosk_id: str) -> bool:
        cur = self.conn.execute("UPDATE kiosk_tokens SET revoked = 1 WHERE kiosk_id = ?", (kiosk_id,))
        return cur.rowcount > 0

    def kiosk_token_hash(self, kiosk_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT token_hash FROM kiosk_tokens WHERE kiosk_id = ? AND revoked = 0", (kiosk_id,)
        ).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------- sessions

    def add_session(self, token_hash: str, username: str, expires_at: float) -> None:
        self.conn.execute(
            "INSERT INTO sessions(token_hash, username, expires_at) VALUES (?, ?, ?)",
            (token_hash, username, expires_at),
        )

    def session_user(self, token_hash: str, now: float) -> str | None:
        row = self.conn.execute(
            "SELECT username FROM sessions WHERE token_hash = ? AND expires_at > ?", (token_hash, now)
        ).fetchone()
        return row[0] if row else None

    def purge_sessions(self, now: float) -> None:
        self.conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))

    # ------------------------------------------------------------- calls

    def save_call(self, record: CallRecord) -> None:
        """The record as it stands now (its values taken at once); written behind, in order with the
        others, while PostgreSQL is unreachable (``Database.write_behind``): the call has moved on."""
        values = tuple(getattr(record, f) for f in _CALL_FIELDS)
        placeholders = ", ".join("?" for _ in _CALL_FIELDS)
        updates = ", ".join(f"{f} = excluded.{f}" for f in _CALL_FIELDS if f != "call_id")
        sql = (
            f"INSERT INTO calls({', '.join(_CALL_FIELDS)}) VALUES ({placeholders})"
            f" ON CONFLICT(call_id) DO UPDATE SET {updates}"
        )
        self.conn.write_behind(f"call:{record.call_id}", lambda: self.conn.execute(sql, values))

    def call(self, call_id: str) -> CallRecord | None:
        row = self.conn.execute("SELECT * FROM calls WHERE call_id = ?", (call_id,)).fetchone()
        return CallRecord(**{f: row[f] for f in _CALL_FIELDS}) if row else None

    def rate_call(self, call_id: str, rating: int) -> bool:
        """Store an ended call's rating; False when the call is not ended or was rated already (once only:
        the check and the write are one statement)."""
        cur = self.conn.execute(
            "UPDATE calls SET rating = ? WHERE call_id = ? AND state = 'ended' AND rating IS NULL",
            (rating, call_id),
        )
        return cur.rowcount > 0

    def record_outcome(self, call_id: str, outcome: str | None, notes: str | None) -> bool:
        """The officer's outcome for a call that ended before it was given (the resident hung up while the
        officer was writing the note); False when the call is not ended or already has an outcome."""
        cur = self.conn.execute(
            "UPDATE calls SET outcome = ?, notes = ? WHERE call_id = ? AND state = 'ended'"
            " AND outcome IS NULL",
            (outcome, notes, call_id),
        )
        return cur.rowcount > 0

    def calls(self, *, state: str | None = None, since: float | None = None) -> Iterator[CallRecord]:
        query = "SELECT * FROM calls WHERE 1 = 1"
        args: list[str | float] = []
        if state is not None:
            query += " AND state = ?"
            args.append(state)
        if since is not None:
            query += " AND created_at >= ?"
            args.append(since)
        for row in self.conn.execute(query + " ORDER BY created_at", args):
            yield CallRecord(**{f: row[f] for f in _CALL_FIELDS})

    def business_calls(self, *, since: float | None = None, caller: str | None = None) -> list[CallRecord]:
        """Business callers' call records (oldest first): since a time, or of one business identity."""
        query = "SELECT * FROM calls WHERE business IS NOT NULL"
        args: list[str | float] = []
        if since is not None:
            query += " AND created_at >= ?"
            args.append(since)
        if caller is not None:
            query += " AND kiosk_id = ?"
            args.append(caller)
        rows = self.conn.execute(query + " ORDER BY created_at", args)
        return [CallRecord(**{f: row[f] for f in _CALL_FIELDS}) for row in rows]

    # ------------------------------------------------------------- queue snapshot

    def save_queue(self, snapshot: dict[str, Any]) -> None:
        """Written behind while PostgreSQL is unreachable; only the newest snapshot waits."""
        values = (json.dumps(snapshot, ensure_ascii=False), time.time())
        self.conn.write_behind(
            "queue",
            lambda: self.conn.execute(
                "INSERT INTO queue_state(id, snapshot, saved_at) VALUES (1, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET snapshot = excluded.snapshot, saved_at = excluded.saved_at",
                values,
            ),
        )

    def load_queue(self) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT snapshot FROM queue_state WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else None
