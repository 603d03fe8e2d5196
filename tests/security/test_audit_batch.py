"""Audit entries a turn at a time (signaling_server.audit_batch): one transaction for the entries of a turn,
each checked when added, kept and written again when the database was busy, the chain intact."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from signaling_server.audit import AuditError, AuditLog
from signaling_server.audit_batch import AuditBatch
from signaling_server.db import migrate
from signaling_server.db.sqlite import SqliteDatabase


def _database(path: Path, timeout_s: float = 5.0) -> tuple[SqliteDatabase, list[str]]:
    """The audit's database, with every statement it runs recorded."""
    raw = sqlite3.connect(str(path), timeout=timeout_s, isolation_level=None, check_same_thread=False)
    raw.execute("PRAGMA journal_mode=WAL")
    db = SqliteDatabase(raw, owns=True, name=str(path))
    migrate(db)
    statements: list[str] = []
    raw.set_trace_callback(statements.append)
    return db, statements


async def _next_turn() -> None:
    """Return after the callbacks scheduled so far have run (call_soon keeps their order)."""
    turn = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(turn.set_result, None)
    await turn


async def test_the_entries_of_a_turn_are_written_together_in_one_transaction(tmp_path: Path):
    db, statements = _database(tmp_path / "audit.sqlite3")
    audit = AuditLog(db)
    audit.append("hanako", "sign_in", "", {"role": "officer"})  # one the chain already has
    batch = AuditBatch(audit)
    statements.clear()
    for kiosk in ("kiosk-ueda", "kiosk-tonan", "kiosk-kuriyagawa"):
        batch.add(kiosk, "sign_in", "", {"role": "kiosk", "remote": "127.0.0.1"})
    assert batch.pending == 3 and audit.entries() == audit.entries(limit=1)  # nothing written yet
    await _next_turn()
    begins = [s for s in statements if s.upper().startswith("BEGIN")]
    assert len(begins) == 1 and batch.pending == 0
    entries = audit.entries()
    assert [e.actor for e in entries] == ["hanako", "kiosk-ueda", "kiosk-tonan", "kiosk-kuriyagawa"]
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert audit.head() == (4, entries[-1].hash)
    assert audit.verify().ok
    db.close()


async def test_an_entry_keeps_the_time_it_was_added_and_a_wrong_one_fails_its_caller(tmp_path: Path):
    times = iter([100.0, 101.5])
    db, _ = _database(tmp_path / "audit.sqlite3")
    audit = AuditLog(db, clock=lambda: next(times))
    batch = AuditBatch(audit)
    batch.add("kiosk-ueda", "sign_in")
    with pytest.raises(AuditError, match="unknown audit action 'sign_on'"):
        batch.add("kiosk-ueda", "sign_on")
    with pytest.raises(AuditError, match="document contents"):
        batch.add("kiosk-ueda", "sign_in", "", {"scan": b"\x89PNG"})  # type: ignore[dict-item]
    batch.add("kiosk-tonan", "sign_in")
    assert batch.flush() == 2
    assert [(e.actor, e.at) for e in audit.entries()] == [("kiosk-ueda", 100.0), ("kiosk-tonan", 101.5)]
    db.close()


async def test_entries_wait_while_another_writer_holds_the_database_and_go_in_order_after(tmp_path: Path):
    path = tmp_path / "audit.sqlite3"
    db, _ = _database(path, timeout_s=0.05)  # SQLite's busy wait: 50 ms, then "database is locked"
    audit = AuditLog(db)
    batch = AuditBatch(audit)
    other = sqlite3.connect(str(path), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another node's long write
    batch.add("kiosk-ueda", "sign_in")
    batch.add("kiosk-tonan", "sign_in")
    assert batch.flush() == 0 and batch.pending == 2  # kept, not lost
    batch.add("kiosk-kuriyagawa", "sign_in")
    other.execute("COMMIT")
    other.close()
    assert batch.flush() == 3
    assert [e.actor for e in audit.entries()] == ["kiosk-ueda", "kiosk-tonan", "kiosk-kuriyagawa"]
    assert audit.verify().ok
    db.close()


def test_without_a_running_loop_an_entry_is_written_at_once(tmp_path: Path):
    db, _ = _database(tmp_path / "audit.sqlite3")
    audit = AuditLog(db)
    AuditBatch(audit).add("audit-cli", "sign_in")
    assert [e.actor for e in audit.entries()] == ["audit-cli"]
    db.close()
