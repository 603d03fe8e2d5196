"""The audit chain on both engines: appended, verified, refused UPDATE/DELETE by the engine's triggers,
and kept linear when two nodes (two connections) append at once."""

from __future__ import annotations

import threading

import pytest

from signaling_server.audit import GENESIS_HASH, AuditLog
from signaling_server.db import IntegrityError, open_database


def test_append_verify_and_the_engine_refuses_rewrites(database_target: str) -> None:
    db = open_database(database_target)
    log = AuditLog(db, clock=lambda: 1_800_000_000.5)
    first = log.append("hanako", "sign_in", "", {"address": "10.0.0.5"})
    second = log.append("hanako", "document_shown", "c1", {"doc": "d1", "page": 2})
    assert (first.seq, first.prev_hash, second.prev_hash) == (1, GENESIS_HASH, first.hash)
    assert log.head() == (2, second.hash) and log.verify().ok
    assert [e.details for e in log.entries(actor="hanako", action="document_shown")] == [
        {"doc": "d1", "page": 2}
    ]
    for statement in (
        "UPDATE audit_log SET target = 'x' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 1",
    ):
        with pytest.raises(IntegrityError, match="append-only"):
            db.execute(statement)
    if db.dialect == "postgresql":
        with pytest.raises(IntegrityError, match="append-only"):
            db.execute("TRUNCATE audit_log")
    assert log.verify().ok and log.verify(anchor=(1, first.hash)).ok
    db.close()


def test_two_nodes_appending_at_once_keep_one_chain(database_target: str) -> None:
    open_database(database_target).close()  # migrated before the race
    per_writer = 60
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def node(name: str) -> None:
        db = open_database(database_target)  # a connection of its own, as another server process
        try:
            log = AuditLog(db)
            barrier.wait(timeout=30)
            for i in range(per_writer):
                log.append(name, "remote_action", f"kiosk-{i}", {"i": i})
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=node, args=(n,)) for n in ("node-a", "node-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    db = open_database(database_target)
    log = AuditLog(db)
    result = log.verify()
    assert result.ok and result.entries == 2 * per_writer, result
    entries = log.entries(limit=1000)
    for name in ("node-a", "node-b"):
        assert [e.details["i"] for e in entries if e.actor == name] == list(range(per_writer))
    db.close()
