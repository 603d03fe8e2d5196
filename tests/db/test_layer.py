"""The database layer on both engines: placeholders, rows, constraint errors, transactions, the locks
that serialise writers across processes, and the change counter revocation polls."""

from __future__ import annotations

import threading

import pytest

from signaling_server.audit import AuditLog
from signaling_server.db import Database, DatabaseUnavailable, IntegrityError, open_database
from signaling_server.db.postgres import PostgresDatabase, pyformat, redact

WAIT_S = 30.0


def test_placeholders_become_psycopg_ones_outside_literals_only() -> None:
    assert pyformat("SELECT a FROM t WHERE b = ? AND c = ?") == "SELECT a FROM t WHERE b = %s AND c = %s"
    assert (
        pyformat("SELECT '?', \"odd?name\" FROM t WHERE b = ?")
        == "SELECT '?', \"odd?name\" FROM t WHERE b = %s"
    )
    assert pyformat("SELECT 'it''s ?' WHERE x LIKE '%a' AND y = ?") == (
        "SELECT 'it''s ?' WHERE x LIKE '%%a' AND y = %s"
    )


def test_a_url_is_shown_without_its_password() -> None:
    shown = redact("postgresql://madoguchi:s3cret@db.example.lg.jp:5433/records")
    assert "s3cret" not in shown and shown == "postgresql://madoguchi@db.example.lg.jp:5433/records"


def test_rows_by_name_and_position_and_a_literal_percent(engine_db: Database) -> None:
    engine_db.execute(
        "INSERT INTO kiosk_tokens(kiosk_id, token_hash, revoked, issued_at) VALUES (?, ?, 0, ?)",
        ("kiosk-100%", "h", 1.5),
    )
    row = engine_db.fetchone(
        "SELECT * FROM kiosk_tokens WHERE kiosk_id LIKE '%100\\%' ESCAPE '\\' AND 1 = ?", (1,)
    )
    assert row is not None and row["kiosk_id"] == row[0] == "kiosk-100%"
    assert dict(row) == {"kiosk_id": "kiosk-100%", "token_hash": "h", "revoked": 0, "issued_at": 1.5}
    kiosk_id, token_hash, *_ = row
    assert (kiosk_id, token_hash) == ("kiosk-100%", "h")


def test_a_duplicate_key_is_one_error_on_both_engines(engine_db: Database) -> None:
    insert = "INSERT INTO sessions(token_hash, username, expires_at) VALUES (?, ?, ?)"
    engine_db.execute(insert, ("t1", "hanako", 10.0))
    with pytest.raises(IntegrityError) as refused:
        engine_db.execute(insert, ("t1", "jiro", 20.0))
    assert refused.value.mentions("token_hash") or refused.value.mentions("sessions_pkey")
    assert not engine_db.in_transaction


def test_a_transaction_rolls_back_on_an_exception(engine_db: Database) -> None:
    insert = "INSERT INTO sessions(token_hash, username, expires_at) VALUES (?, ?, ?)"
    with pytest.raises(RuntimeError), engine_db.transaction(lock="sessions"):
        engine_db.execute(insert, ("t1", "hanako", 10.0))
        assert engine_db.in_transaction
        raise RuntimeError("changed my mind")
    assert not engine_db.in_transaction
    assert engine_db.fetchone("SELECT COUNT(*) FROM sessions")[0] == 0
    with engine_db.transaction():
        engine_db.execute(insert, ("t2", "hanako", 10.0))
    assert engine_db.fetchone("SELECT username FROM sessions")[0] == "hanako"


def test_writers_with_one_lock_take_turns_across_connections(postgres_url: str) -> None:
    first, second = open_database(postgres_url), open_database(postgres_url)
    holding, done = threading.Event(), threading.Event()
    order: list[str] = []

    def other_node() -> None:
        holding.wait(WAIT_S)
        with second.transaction(lock="appointments"):
            order.append("second")
        done.set()

    thread = threading.Thread(target=other_node)
    thread.start()
    try:
        with first.transaction(lock="appointments"):
            holding.set()
            # The other node's transaction is now waiting for the advisory lock, not running.
            assert wait_for_lock_waiter(first), "the second writer never queued for the lock"
            order.append("first")
        assert done.wait(WAIT_S)
    finally:
        thread.join(WAIT_S)
        first.close()
        second.close()
    assert order == ["first", "second"]


def wait_for_lock_waiter(db: Database) -> bool:
    """A session other than ours waits for an advisory lock (bounded by WAIT_S)."""
    deadline = threading.Event()
    timer = threading.Timer(WAIT_S, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            row = db.fetchone(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND pid <> pg_backend_pid()"
            )
            if row[0]:
                return True
            deadline.wait(0.01)  # poll the engine's own view of its locks
        return False
    finally:
        timer.cancel()


def test_another_connections_credential_change_moves_the_counter(database_target: str) -> None:
    server, admin = open_database(database_target), open_database(database_target)
    try:
        admin.execute("INSERT INTO kiosk_tokens VALUES ('kiosk-ueda', 'h', 0, 1.0)")
        seen = server.change_counter()
        assert server.change_counter() == seen  # nothing changed
        admin.execute("UPDATE kiosk_tokens SET revoked = 1 WHERE kiosk_id = 'kiosk-ueda'")
        assert server.change_counter() != seen
    finally:
        server.close()
        admin.close()


def test_a_lost_connection_makes_the_database_unavailable_until_recovered(postgres_url: str) -> None:
    """The loss is told to the caller and to the watch (no silent retry, no reconnect on the caller's
    thread); writes that cannot be refused wait, in order, and run on the new connection."""
    db, other = open_database(postgres_url), open_database(postgres_url)
    assert isinstance(db, PostgresDatabase)
    lost: list[str] = []
    db.on_lost.append(lost.append)
    try:
        pid = db.fetchone("SELECT pg_backend_pid()")[0]
        other.execute("SELECT pg_terminate_backend(?)", (pid,))  # as a PostgreSQL restart would
        with pytest.raises(DatabaseUnavailable, match=r"PostgreSQL .* is unreachable: terminating"):
            db.fetchone("SELECT 1")
        assert not db.available and len(lost) == 1 and "terminating" in lost[0]
        with pytest.raises(DatabaseUnavailable):
            db.fetchone("SELECT 1")  # at once: the watch connects again, not the caller
        db.write_behind("table", lambda: db.execute("CREATE TABLE kept (x integer)"))
        db.write_behind("table", lambda: db.execute("CREATE TABLE kept (y integer)"))  # replaces the first
        db.write_behind(None, lambda: db.execute("INSERT INTO kept VALUES (1)"))
        db.write_behind(None, lambda: db.execute("INSERT INTO kept VALUES (2)"))  # unkeyed: each kept
        assert db.pending_writes == 3
        assert db.recovered(db.open_connection()) == 3
        assert db.available and db.pending_writes == 0 and not db.in_transaction
        assert [row[0] for row in db.fetchall("SELECT y FROM kept ORDER BY y")] == [1, 2]
        assert db.fetchone("SELECT pg_backend_pid()")[0] != pid
        with pytest.raises(Exception, match="syntax"):
            db.execute("SELEKT 1")  # a statement's own error is not an outage
        assert db.available and len(lost) == 1
    finally:
        db.close()
        other.close()


def test_a_batch_on_sqlite_is_one_transaction_another_connection_sees_whole(tmp_path) -> None:
    """A failover's thousands of call ends take the shared file's lock once, not once a write; a transaction
    inside the batch (an audit chain's append) is a savepoint: its rollback undoes its own writes only."""
    path = tmp_path / "records.sqlite3"
    node, other = open_database(path), open_database(path)
    insert = "INSERT INTO sessions(token_hash, username, expires_at) VALUES (?, ?, ?)"
    try:
        with node.batch():
            node.execute(insert, ("t1", "hanako", 10.0))
            with pytest.raises(RuntimeError), node.transaction(lock="sessions"):
                node.execute(insert, ("t2", "jiro", 10.0))
                raise RuntimeError("changed my mind")
            with node.transaction(lock="sessions"):
                node.execute(insert, ("t3", "saburo", 10.0))
            assert AuditLog(node).append("hanako", "sign_in").seq == 1  # the chain's lock is held already
            assert node.in_transaction
            assert other.fetchone("SELECT COUNT(*) FROM sessions")[0] == 0  # nothing committed yet
        assert not node.in_transaction
        assert [r[0] for r in other.fetchall("SELECT username FROM sessions ORDER BY token_hash")] == [
            "hanako",
            "saburo",
        ]
        assert [e.actor for e in AuditLog(other).entries()] == ["hanako"]
    finally:
        node.close()
        other.close()


def test_a_batch_on_postgresql_leaves_each_write_on_its_own(postgres_url: str) -> None:
    """No transaction: a write lost with the connection waits in write_behind instead of vanishing with a
    rolled-back batch."""
    node, other = open_database(postgres_url), open_database(postgres_url)
    try:
        with node.batch():
            node.execute("INSERT INTO sessions(token_hash, username, expires_at) VALUES ('t1', 'hanako', 1)")
            assert not node.in_transaction
            assert other.fetchone("SELECT COUNT(*) FROM sessions")[0] == 1
    finally:
        node.close()
        other.close()
