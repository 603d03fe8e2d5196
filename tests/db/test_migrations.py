"""Versioned migrations on both engines: from an empty database, from the previous version, from a SQLite
file the last release before versioning made (old columns missing), and a newer database refused."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import pytest

from signaling_server.audit import GENESIS_HASH, AuditLog, entry_hash
from signaling_server.case_documents import CaseDocuments, new_key, parse_key
from signaling_server.db import LATEST, DatabaseError, current_version, migrate, open_database
from signaling_server.db import schema as db_schema
from signaling_server.db.base import Database
from signaling_server.db.postgres import PostgresDatabase
from signaling_server.db.sqlite import SqliteDatabase
from signaling_server.store import CallRecord, Store

EVERY_TABLE = {re.search(r"EXISTS (\w+)", t).group(1) for t in db_schema.TABLES} | {"schema_version"}

# The tables of the last release before versioned migrations, as an older installation still has them:
# calls without business and rating, case_documents without pending (each was added on open since).
OLD_RELEASE_DDL = """
CREATE TABLE officers (username TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL,
    password_hash TEXT NOT NULL, skills TEXT NOT NULL DEFAULT '{}', disabled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL);
CREATE TABLE calls (call_id TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, department TEXT NOT NULL,
    procedure TEXT, language TEXT, officer TEXT, state TEXT NOT NULL, end_reason TEXT, outcome TEXT,
    notes TEXT, created_at REAL NOT NULL, answered_at REAL, started_at REAL, ended_at REAL);
CREATE INDEX calls_by_state ON calls(state);
CREATE TABLE case_documents (call_id TEXT NOT NULL, doc_id TEXT NOT NULL, name TEXT NOT NULL,
    mime TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, key_id TEXT NOT NULL,
    nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, saved_by TEXT NOT NULL, saved_at REAL NOT NULL,
    PRIMARY KEY (call_id, doc_id));
CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, at REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL);
CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END;
INSERT INTO officers
    VALUES ('hanako', '盛岡 花子', 'officer', 'argon2-hash', '{"kosodate": "primary"}', 0, 1.0);
INSERT INTO calls(call_id, kiosk_id, department, state, end_reason, created_at, ended_at)
    VALUES ('c-old', 'kiosk-ueda', 'kosodate', 'ended', 'completed', 10.0, 20.0);
"""


def tables(db: Database) -> set[str]:
    if db.dialect == "sqlite":
        return {r[0] for r in db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {r[0] for r in db.fetchall("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_an_empty_database_gets_every_migration_once(database_target: str) -> None:
    db = open_database(database_target)
    try:
        assert current_version(db) == LATEST
        assert tables(db) >= EVERY_TABLE and "sqlite_sequence" not in EVERY_TABLE
        versions = [tuple(r) for r in db.fetchall("SELECT version, description FROM schema_version")]
        assert [v for v, _ in versions] == list(range(1, LATEST + 1))
        assert migrate(db) == []  # opened again: nothing to do
    finally:
        db.close()
    again = open_database(database_target)
    assert current_version(again) == LATEST
    again.close()


def test_a_database_of_the_previous_version_is_brought_up_to_date(database_target: str) -> None:
    previous = open_raw(database_target)
    assert migrate(previous, upto=LATEST - 1) == list(range(1, LATEST))
    store = Store(previous)
    store.set_kiosk_token("kiosk-ueda", "hash-1")
    store.save_call(CallRecord("c1", "kiosk-ueda", "kosodate", None, "ja", "ended", 5.0, rating=4))
    previous.close()

    store = Store(database_target)  # the new release starts
    assert current_version(store.db) == LATEST
    assert store.call("c1").rating == 4 and store.kiosk_token_hash("kiosk-ueda") == "hash-1"
    # Migration 2's counter: another connection's revocation is seen (revocation.py polls this).
    before = store.db.change_counter()
    other = Store(database_target)
    other.revoke_kiosk_token("kiosk-ueda")
    other.close()
    assert store.db.change_counter() != before
    store.close()


def open_raw(target: str) -> Database:
    """A database with no migration applied (open_database would apply them all)."""
    if target.startswith("postgresql://"):
        return PostgresDatabase(target)
    return SqliteDatabase.open(target)


def test_a_sqlite_file_from_the_release_before_versioning_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "madoguchi.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(OLD_RELEASE_DDL)
    old.close()
    key = new_key()
    legacy = sqlite3.connect(path)  # a document the old release saved, and its audit entry
    legacy.execute(
        "INSERT INTO case_documents VALUES"
        " ('c-old', 'd1', 'scan.png', 'image/png', 3, 'x', 'k1', x'00', x'00', 'hanako', 15.0)"
    )
    digest = entry_hash(GENESIS_HASH, 1, 15.0, "hanako", "document_saved", "c-old", '{"size":3}')
    legacy.execute(
        "INSERT INTO audit_log VALUES (1, 15.0, 'hanako', 'document_saved', 'c-old', '{\"size\":3}', ?, ?)",
        (GENESIS_HASH, digest),
    )
    legacy.execute("INSERT INTO audit_head VALUES (1, 1, ?)", (digest,))
    legacy.commit()
    legacy.close()

    store = Store(path)
    assert current_version(store.db) == LATEST
    columns = {r[1] for r in store.db.fetchall("PRAGMA table_info(calls)")}
    assert {"business", "rating"} <= columns
    record = store.call("c-old")
    assert (record.state, record.end_reason, record.rating, record.business) == (
        "ended",
        "completed",
        None,
        None,
    )
    assert store.rate_call("c-old", 5) and store.call("c-old").rating == 5
    assert store.officer("hanako").skills == {"kosodate": "primary"}
    docs = CaseDocuments(store.db, {"k1": parse_key(key)}, "k1")
    assert [d.doc_id for d in docs.list("c-old")] == ["d1"]  # pending added as 0: the old row stays visible
    assert AuditLog(store.db).verify().ok and AuditLog(store.db).head()[0] == 1
    assert tables(store.db) >= EVERY_TABLE
    store.close()


def test_a_database_newer_than_this_release_is_refused(database_target: str) -> None:
    db = open_database(database_target)
    db.execute(
        "INSERT INTO schema_version(version, description, applied_at) VALUES (?, ?, ?)",
        (LATEST + 7, "from the future", 1.0),
    )
    db.close()
    with pytest.raises(DatabaseError, match=rf"schema version {LATEST + 7}, newer than this server knows"):
        Store(database_target)


def test_two_nodes_starting_at_once_migrate_once(postgres_url: str) -> None:
    opened: list[Database] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(open_database(postgres_url))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(opened) == 3
    rows = opened[0].fetchall("SELECT version FROM schema_version ORDER BY version")
    assert [r[0] for r in rows] == list(range(1, LATEST + 1))
    for db in opened:
        db.close()
