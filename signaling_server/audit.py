"""An append-only, hash-chained audit log in the record store: who signed in, who saw which document,
what changed.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own fields (seq, time, actor,
action, target, canonical JSON of the details), so editing, deleting, inserting or reordering rows breaks
the chain at a predictable entry, which :meth:`AuditLog.verify` reports. Triggers refuse UPDATE and
DELETE on the table (signaling_server/db/schema.py, on SQLite and PostgreSQL), so application code cannot
rewrite history by accident; someone with raw write access to the database can drop the triggers, which
the chain then detects. Truncating the newest entries is caught by
the head record kept in the same transaction; an attacker who rewrites the whole chain *and* the head is
caught only against a head recorded elsewhere (``verify(anchor=...)``, see docs/security.md).

Details are short facts (ids, counts, page numbers, sizes, hashes): values longer than 500 characters are
refused, because document contents, images or chat text must never be stored here.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from signaling_server.db import (
    Database,
    DatabaseError,
    as_database,
    is_postgres_url,
    migrate,
    open_database,
)
from signaling_server.db.sqlite import SqliteDatabase

GENESIS_HASH = "0" * 64
MAX_DETAIL_CHARS = 500
MAX_DETAILS = 32
MAX_FIELD_CHARS = 200
MAX_LIST_LIMIT = 10_000

DetailValue = str | int | float | bool | None


class AuditAction(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    CALL_STARTED = "call_started"
    CALL_ENDED = "call_ended"
    CALL_TRANSFERRED = "call_transferred"
    CALL_OUTCOME = "call_outcome"  # the outcome given after the resident had hung up
    DOCUMENT_SHOWN = "document_shown"
    DOCUMENT_SAVED = "document_saved"
    SLIP_PRINTED = "slip_printed"
    REMOTE_ACTION = "remote_action"
    ACCOUNT_CREATED = "account_created"
    ACCOUNT_CHANGED = "account_changed"
    KIOSK_TOKEN_ISSUED = "kiosk_token_issued"
    KIOSK_TOKEN_REVOKED = "kiosk_token_revoked"
    SECRET_ROTATED = "secret_rotated"


_ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DETAIL_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class AuditError(ValueError):
    """An audit entry was refused (bad actor/action/target or details)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: float
    actor: str
    action: str
    target: str
    details: dict[str, DetailValue] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An entry checked and timed, not yet in the chain (``AuditLog.prepare``)."""

    at: float
    actor: str
    action: str
    target: str
    details: dict[str, DetailValue]
    details_json: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None
    head_seq: int = 0
    head_hash: str = GENESIS_HASH


def canonical_details(details: Mapping[str, DetailValue]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(
    prev_hash: str, seq: int, at: float, actor: str, action: str, target: str, details_json: str
) -> str:
    """SHA-256 (hex) of an unambiguous encoding (a JSON array) of the previous hash and the entry's fields."""
    payload = json.dumps(
        [prev_hash, seq, float(at), actor, action, target, details_json],
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _check_text(name: str, value: str, *, allow_empty: bool) -> None:
    if not isinstance(value, str):
        raise AuditError(f"audit {name} must be a string, got {type(value).__name__}")
    if not value and not allow_empty:
        raise AuditError(f"audit {name} must not be empty")
    if len(value) > MAX_FIELD_CHARS:
        raise AuditError(f"audit {name} is {len(value)} characters long; at most {MAX_FIELD_CHARS} allowed")
    if any(ord(c) < 0x20 for c in value):
        raise AuditError(f"audit {name} {value[:40]!r} contains control characters")


def _check_details(details: Mapping[str, DetailValue]) -> dict[str, DetailValue]:
    if not isinstance(details, Mapping):
        raise AuditError(f"audit details must be a mapping, got {type(details).__name__}")
    if len(details) > MAX_DETAILS:
        raise AuditError(f"audit details have {len(details)} keys; at most {MAX_DETAILS} allowed")
    clean: dict[str, DetailValue] = {}
    for key, value in details.items():
        if not isinstance(key, str) or not _DETAIL_KEY_PATTERN.match(key):
            raise AuditError(f"audit detail key {key!r} must be 1-64 characters of letters, digits, _ . -")
        if value is None or isinstance(value, bool | int):
            clean[key] = value
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise AuditError(f"audit detail {key!r} is {value}; only finite numbers are stored")
            clean[key] = value
        elif isinstance(value, str):
            if len(value) > MAX_DETAIL_CHARS:
                raise AuditError(
                    f"audit detail {key!r} is {len(value)} characters long; at most {MAX_DETAIL_CHARS} are "
                    "kept, and document contents, images or chat text must never go into the audit log "
                    "(store an id, a size or a SHA-256 instead)"
                )
            clean[key] = value
        else:
            raise AuditError(
                f"audit detail {key!r} has type {type(value).__name__}; only str, int, float, bool or None "
                "are stored (never document contents)"
            )
    return clean


class AuditLog:
    """The audit log in the record store; pass its database (shared with the app), a sqlite3 connection,
    a SQLite file path or a PostgreSQL URL (the last two are opened, and closed by ``close``)."""

    def __init__(
        self,
        db: Database | sqlite3.Connection | str | Path,
        *,
        extra_actions: Iterable[str] = (),
        clock: Callable[[], float] | None = None,
    ) -> None:
        if isinstance(db, sqlite3.Connection) and db.in_transaction:
            raise RuntimeError("AuditLog needs a connection with no open transaction to create its tables")
        if isinstance(db, Database | sqlite3.Connection):
            self._conn = as_database(db)
            self._owns = False
        elif is_postgres_url(db):
            self._conn = open_database(str(db))
            self._owns = True
        else:
            raw = sqlite3.connect(str(db), timeout=30, isolation_level=None, check_same_thread=False)
            self._conn = SqliteDatabase(raw, owns=True, name=str(db))
            self._owns = True
            migrate(self._conn)
        for action in extra_actions:
            if not _ACTION_PATTERN.match(action):
                raise AuditError(f"audit action {action!r} must match {_ACTION_PATTERN.pattern}")
        self._actions = frozenset(a.value for a in AuditAction) | frozenset(extra_actions)
        self._clock = clock or time.time

    @property
    def connection(self) -> Database:
        return self._conn

    def close(self) -> None:
        if self._owns:
            self._conn.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(
        self,
        actor: str,
        action: str,
        target: str = "",
        details: Mapping[str, DetailValue] | None = None,
        at: float | None = None,
    ) -> AuditEntry:
        """Append one entry atomically: appenders take the ``audit_log`` lock in turn (SQLite: BEGIN
        IMMEDIATE; PostgreSQL: an advisory lock, so several nodes keep one linear chain)."""
        return self.append_many([self.prepare(actor, action, target, details, at)])[0]

    def prepare(
        self,
        actor: str,
        action: str,
        target: str = "",
        details: Mapping[str, DetailValue] | None = None,
        at: float | None = None,
    ) -> PendingEntry:
        """An entry checked and timed now, for ``append_many``; AuditError names what is wrong."""
        _check_text("actor", actor, allow_empty=False)
        _check_text("target", target, allow_empty=True)
        if not isinstance(action, str) or action not in self._actions:
            raise AuditError(f"unknown audit action {action!r}; known: {', '.join(sorted(self._actions))}")
        clean = _check_details(details or {})
        when = float(self._clock() if at is None else at)
        if not math.isfinite(when):
            raise AuditError(f"audit time {when} is not a finite number")
        return PendingEntry(when, actor, str(action), target, clean, canonical_details(clean))

    def append_many(self, entries: Sequence[PendingEntry]) -> list[AuditEntry]:
        """Append prepared entries in order, in one transaction under the ``audit_log`` lock: one lock and
        one commit for many (a node's sign-ins after a takeover, batched: signaling_server.audit_batch)."""
        conn = self._conn
        if conn.in_transaction and not conn.writing:  # in our own write transaction the lock is held
            raise RuntimeError(
                "AuditLog.append must not run inside another transaction on the same connection "
                "(commit it first): it takes its own BEGIN IMMEDIATE lock to keep the chain linear"
            )
        written: list[AuditEntry] = []
        with conn.transaction(lock="audit_log"):
            row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (row[0], row[1]) if row else (0, GENESIS_HASH)
            for e in entries:
                seq += 1
                digest = entry_hash(prev_hash, seq, e.at, e.actor, e.action, e.target, e.details_json)
                conn.execute(
                    "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (seq, e.at, e.actor, e.action, e.target, e.details_json, prev_hash, digest),
                )
                entry = AuditEntry(seq, e.at, e.actor, e.action, e.target, e.details, prev_hash, digest)
                written.append(entry)
                prev_hash = digest
            if written:
                conn.execute(
                    "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                    (seq, prev_hash),
                )
        return written

    def entries(
        self,
        since_seq: int = 0,
        limit: int = 1000,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
    ) -> list[AuditEntry]:
        """Entries with seq > since_seq, oldest first, optionally filtered; at most ``limit`` of them."""
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit!r}")
        if not isinstance(since_seq, int) or since_seq < 0:
            raise ValueError(f"since_seq must be a non-negative int, got {since_seq!r}")
        sql = "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_log WHERE seq > ?"
        args: list[object] = [since_seq]
        for column, value in (("actor", actor), ("action", action), ("target", target)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)
        return [_entry(row) for row in self._conn.execute(sql, args)]

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the newest entry: record it outside this database to detect a rewritten chain."""
        row = self._conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def verify(self, anchor: tuple[int, str] | None = None) -> VerifyResult:
        """Re-hash the whole chain; report the first entry that is missing, altered or out of place.

        ``anchor`` is a (seq, hash) recorded earlier elsewhere (e.g. printed by ``audit verify``): the entry
        with that seq must still exist and carry that hash.
        """
        # The head and the rows from one snapshot, so a concurrent append cannot look like tampering.
        with self._conn.snapshot():
            return verify_rows(_rows(self._conn), _head_row(self._conn), anchor)


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    seq, at, actor, action, target, details, prev_hash, digest = row
    return AuditEntry(seq, at, actor, action, target, json.loads(details), prev_hash, digest)


def _rows(conn: Database) -> Iterator[tuple[Any, ...]]:
    yield from conn.execute(
        "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_log ORDER BY seq"
    )


def _head_row(conn: Database) -> tuple[int, str] | None:
    row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    return (row[0], row[1]) if row else None


def verify_rows(
    rows: Iterable[tuple[Any, ...]],  # database rows
    head: tuple[int, str] | None,
    anchor: tuple[int, str] | None = None,
) -> VerifyResult:
    expected_seq = 1
    prev_hash = GENESIS_HASH
    count = 0
    anchor_seen = False

    def bad(seq: int, problem: str) -> VerifyResult:
        return VerifyResult(False, count, seq, problem, expected_seq - 1, prev_hash)

    for seq, at, actor, action, target, details, stored_prev, stored_hash in rows:
        if seq < expected_seq:  # cannot happen with INTEGER PRIMARY KEY, kept for other row sources
            return bad(seq, f"entry {seq} appears out of order")
        if seq > expected_seq:
            return bad(expected_seq, f"entry {expected_seq} is missing (next entry present is {seq})")
        if stored_prev != prev_hash:
            return bad(seq, f"entry {seq} does not link to entry {seq - 1} (inserted, reordered or replaced)")
        try:
            recomputed = entry_hash(prev_hash, seq, at, actor, action, target, details)
        except (TypeError, ValueError) as exc:
            return bad(seq, f"entry {seq} cannot be re-hashed: {exc}")
        if recomputed != stored_hash:
            return bad(seq, f"entry {seq} was modified (its hash does not match its contents)")
        if anchor is not None and seq == anchor[0]:
            if stored_hash != anchor[1]:
                return bad(seq, f"entry {seq} differs from the anchor recorded earlier (chain rewritten)")
            anchor_seen = True
        prev_hash = stored_hash
        expected_seq += 1
        count += 1
    last_seq = expected_seq - 1
    if head is None:
        if count:
            return bad(last_seq, "the head record is missing")
    elif head[0] > last_seq:
        return VerifyResult(
            False, count, last_seq + 1, f"entries {last_seq + 1}..{head[0]} were deleted from the end",
            last_seq, prev_hash,
        )  # fmt: skip
    elif head[0] < last_seq:
        return VerifyResult(
            False, head[0], head[0] + 1,
            f"entries {head[0] + 1}..{last_seq} were added after the head record (appended outside the log)",
            head[0], head[1],
        )  # fmt: skip
    elif head[1] != prev_hash:
        return bad(
            last_seq, f"the head record does not match entry {last_seq} (the newest entry was replaced)"
        )
    if anchor is not None and not anchor_seen and anchor[0] > 0:
        return VerifyResult(
            False, count, min(anchor[0], last_seq + 1),
            f"anchored entry {anchor[0]} no longer exists (log truncated or rewritten)", last_seq, prev_hash,
        )  # fmt: skip
    return VerifyResult(True, count, None, None, last_seq, prev_hash)


def parse_anchor(text: str) -> tuple[int, str]:
    """Parse ``SEQ:HASH`` (as printed by ``audit verify``) for ``--anchor``."""
    seq_text, sep, digest = text.strip().partition(":")
    if not sep or not seq_text.isdigit() or int(seq_text) < 1 or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"anchor {text!r} must look like SEQ:HASH, e.g. 42:<64 lowercase hex digits>")
    return int(seq_text), digest


def verify_cli(db_path: str | Path, anchor: tuple[int, str] | None = None, out: TextIO | None = None) -> int:
    """``madoguchi-admin audit verify``: print the result; exit status 0 intact, 1 tampered, 2 unreadable.
    ``db_path`` is the SQLite file (opened read-only) or the PostgreSQL URL of ``server.database``."""
    stream = out or sys.stdout
    if is_postgres_url(db_path):
        result = _verify_postgres(str(db_path), anchor, stream)
    else:
        result = _verify_sqlite_file(Path(db_path), anchor, stream)
    if result is None:
        return 2
    if result.ok:
        print(f"audit log OK: {result.entries} entries, chain intact", file=stream)
        print(f"anchor: {result.head_seq}:{result.head_hash}", file=stream)
        print(
            "(keep the anchor outside the server; a later run with --anchor checks against it)", file=stream
        )
        return 0
    print(f"audit log TAMPERED: first bad entry {result.first_bad_seq}: {result.problem}", file=stream)
    print(f"entries verified before it: {result.entries}", file=stream)
    return 1


def _verify_sqlite_file(path: Path, anchor: tuple[int, str] | None, stream: TextIO) -> VerifyResult | None:
    """The chain in a SQLite file, opened read-only (never migrated); None after printing why not."""
    if not path.is_file():
        print(f"audit verify: {path}: no such database file", file=stream)
        return None
    try:
        raw = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        print(f"audit verify: cannot open {path}: {exc}", file=stream)
        return None
    conn = SqliteDatabase(raw, owns=True, name=str(path))
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "audit_log" not in tables:
            print(f"audit verify: {path} has no audit log (table audit_log missing)", file=stream)
            return None
        with conn.snapshot():
            head = _head_row(conn) if "audit_head" in tables else None
            return verify_rows(_rows(conn), head, anchor)
    except sqlite3.Error as exc:
        print(f"audit verify: cannot read {path}: {exc}", file=stream)
        return None
    finally:
        conn.close()


def _verify_postgres(url: str, anchor: tuple[int, str] | None, stream: TextIO) -> VerifyResult | None:
    try:
        db = open_database(url)
    except DatabaseError as exc:
        print(f"audit verify: {exc}", file=stream)
        return None
    try:
        return AuditLog(db).verify(anchor)
    finally:
        db.close()
