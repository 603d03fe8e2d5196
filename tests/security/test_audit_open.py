"""How an AuditLog opens its database: a SQLite file (usable from a worker thread, waiting up to 30 s for
another writer, named in messages) or a PostgreSQL URL (on the suite's real cluster), the connection it
opens closed with it; ``verify_cli`` on a PostgreSQL URL."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from signaling_server.audit import AuditLog, verify_cli
from signaling_server.db import DatabaseError
from signaling_server.store import Store


def test_a_log_on_a_file_is_written_from_a_worker_thread(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    log = AuditLog(path)
    try:
        with ThreadPoolExecutor(1) as pool:  # the server appends off the loop
            entry = pool.submit(log.append, "hanako", "sign_in").result(timeout=30)
        assert entry.seq == 1 and log.verify().ok
        assert log.connection.describe() == f"SQLite {path}"
        busy_ms = log.connection.connection.execute("PRAGMA busy_timeout").fetchone()[0]  # type: ignore[attr-defined]
        assert busy_ms == 30_000
    finally:
        log.close()


def test_a_log_on_a_postgresql_url_opens_and_closes_its_own_connection(postgres_url: str) -> None:
    log = AuditLog(postgres_url)
    log.append("hanako", "sign_in", "kiosk-ueda")
    result = log.verify()
    assert (result.ok, result.entries) == (True, 1)
    log.close()
    with pytest.raises(DatabaseError):
        log.connection.execute("SELECT 1")


def test_verify_cli_on_a_postgresql_url(postgres_url: str) -> None:
    with AuditLog(postgres_url) as log:
        log.append("hanako", "sign_in")
        head = log.append("hanako", "sign_out")
    out = io.StringIO()
    assert verify_cli(postgres_url, out=out) == 0
    assert out.getvalue().splitlines()[:2] == [
        "audit log OK: 2 entries, chain intact",
        f"anchor: 2:{head.hash}",
    ]
    out = io.StringIO()
    assert verify_cli(postgres_url, (2, "0" * 64), out=out) == 1
    assert out.getvalue().startswith("audit log TAMPERED: first bad entry ")
    assert verify_cli(postgres_url, (2, head.hash), out=io.StringIO()) == 0


def test_verify_cli_on_a_postgresql_server_that_is_not_there() -> None:
    out = io.StringIO()
    assert verify_cli("postgresql://nobody@127.0.0.1:1/audit?connect_timeout=5", out=out) == 2
    assert out.getvalue().startswith("audit verify: server.database postgresql://nobody@127.0.0.1:1/audit")
    assert "cannot connect" in out.getvalue()


def test_two_logs_on_one_postgresql_database_keep_one_chain(postgres_url: str) -> None:
    """Two nodes appending at once take the audit_log lock in turn: every append lands, in one chain."""
    logs = [AuditLog(postgres_url), AuditLog(postgres_url)]
    try:

        def append_many(log: AuditLog) -> int:
            return len([log.append("hanako", "sign_in", f"kiosk-{n}") for n in range(60)])

        with ThreadPoolExecutor(2) as pool:
            counts = [
                future.result(timeout=120) for future in [pool.submit(append_many, log) for log in logs]
            ]
        assert counts == [60, 60]
        result = logs[0].verify()
        assert (result.ok, result.entries) == (True, 120)
    finally:
        for log in logs:
            log.close()


def test_a_log_on_a_store_s_database_leaves_it_open() -> None:
    store = Store(":memory:")
    try:
        log = AuditLog(store.conn)
        log.append("hanako", "sign_in")
        log.close()
        assert store.conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == 1
    finally:
        store.close()
