"""The hash-chained audit log: appends, every kind of tampering, concurrent writers, the CLI check."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from signaling_server.audit import (
    GENESIS_HASH,
    AuditError,
    AuditLog,
    VerifyResult,
    canonical_details,
    entry_hash,
    parse_anchor,
    verify_cli,
    verify_rows,
)
from signaling_server.db import IntegrityError


def _filled(path: Path, n: int = 6) -> AuditLog:
    log = AuditLog(path)
    actions = ["sign_in", "call_started", "document_shown", "slip_printed", "call_ended", "sign_in_failed"]
    for i in range(n):
        log.append(
            actor=f"officer-{i % 2}",
            action=actions[i % len(actions)],
            target=f"call-{i}",
            details={"page": i, "sha256": hashlib.sha256(bytes([i])).hexdigest(), "ok": True, "ratio": 0.5},
            at=1_700_000_000 + i,
        )
    return log


def _attacker(path: Path) -> sqlite3.Connection:
    """Raw write access to the file: first drops the append-only triggers, as a real attacker would."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    return conn


def test_append_and_verify(tmp_path: Path) -> None:
    log = _filled(tmp_path / "a.sqlite3")
    result = log.verify()
    assert result.ok and result.entries == 6 and result.first_bad_seq is None and result.problem is None
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert entries[2].details == {
        "page": 2, "sha256": hashlib.sha256(b"\x02").hexdigest(), "ok": True, "ratio": 0.5,
    }  # fmt: skip
    assert log.head() == (6, entries[-1].hash) == (result.head_seq, result.head_hash)
    assert [e.seq for e in log.entries(since_seq=4)] == [5, 6]
    assert [e.seq for e in log.entries(limit=2)] == [1, 2]
    assert [e.seq for e in log.entries(actor="officer-1")] == [2, 4, 6]
    assert [e.target for e in log.entries(action="document_shown")] == ["call-2"]


def test_hash_matches_an_independent_computation(tmp_path: Path) -> None:
    log = AuditLog(sqlite3.connect(tmp_path / "h.sqlite3"))
    entry = log.append("officer-1", "document_shown", "call-9", {"b": 2, "a": "x"}, at=12.5)
    details = '{\\"a\\":\\"x\\",\\"b\\":2}'
    payload = '["' + "0" * 64 + '",1,12.5,"officer-1","document_shown","call-9","' + details + '"]'
    assert entry.hash == hashlib.sha256(payload.encode()).hexdigest()
    args = ("officer-1", "document_shown", "call-9", '{"a":"x","b":2}')
    assert entry.hash == entry_hash(GENESIS_HASH, 1, 12.5, *args)


def test_triggers_refuse_update_and_delete(tmp_path: Path) -> None:
    log = _filled(tmp_path / "t.sqlite3")
    conn = log.connection
    with pytest.raises(IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET target = 'x' WHERE seq = 2")
    assert not conn.in_transaction  # the refused statement left nothing open
    with pytest.raises(IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 6")
    assert log.verify().ok


def test_edit_detected(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    log = _filled(path)
    _attacker(path).execute("UPDATE audit_log SET target = 'call-other' WHERE seq = 3")
    result = log.verify()
    assert (result.ok, result.first_bad_seq, result.entries) == (False, 3, 2)
    assert "modified" in (result.problem or "")


def test_edit_of_details_detected(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite3"
    log = _filled(path)
    _attacker(path).execute("UPDATE audit_log SET details = '{}' WHERE seq = 5")
    assert log.verify().first_bad_seq == 5


def test_edit_with_rehashed_row_breaks_the_next_link(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    log = _filled(path)
    e3 = log.entries(since_seq=2, limit=1)[0]
    details = canonical_details(e3.details)
    forged = entry_hash(e3.prev_hash, 3, e3.at, "officer-9", e3.action, e3.target, details)
    _attacker(path).execute("UPDATE audit_log SET actor = 'officer-9', hash = ? WHERE seq = 3", (forged,))
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "link" in (result.problem or "")


@pytest.mark.parametrize(("deleted", "first_bad"), [(1, 1), (3, 3), (5, 5)])
def test_deletion_detected(tmp_path: Path, deleted: int, first_bad: int) -> None:
    path = tmp_path / "del.sqlite3"
    log = _filled(path)
    _attacker(path).execute("DELETE FROM audit_log WHERE seq = ?", (deleted,))
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, first_bad)
    assert "missing" in (result.problem or "")


def test_deleting_the_newest_entries_detected(tmp_path: Path) -> None:
    path = tmp_path / "tail.sqlite3"
    log = _filled(path)
    _attacker(path).execute("DELETE FROM audit_log WHERE seq >= 5")
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 5)
    assert "deleted from the end" in (result.problem or "")


def test_truncation_with_head_rewritten_needs_an_anchor(tmp_path: Path) -> None:
    path = tmp_path / "anchor.sqlite3"
    log = _filled(path)
    anchor = log.head()
    attacker = _attacker(path)
    e4 = log.entries(since_seq=3, limit=1)[0]
    attacker.execute("DELETE FROM audit_log WHERE seq >= 5")
    attacker.execute("UPDATE audit_head SET seq = 4, hash = ?", (e4.hash,))
    assert log.verify().ok  # self-consistent after a full rewrite: only an outside record can tell
    result = log.verify(anchor=anchor)
    assert (result.ok, result.first_bad_seq) == (False, 5)
    assert "anchored entry 6" in (result.problem or "")


@pytest.mark.parametrize("forge_hash", [False, True])
def test_insertion_detected(tmp_path: Path, forge_hash: bool) -> None:
    path = tmp_path / "ins.sqlite3"
    log = _filled(path)
    e2 = log.entries(since_seq=1, limit=1)[0]
    attacker = _attacker(path)
    # Make room at seq 3 (renumber from the top down so the primary key never collides).
    for seq in range(6, 2, -1):
        attacker.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", (seq + 1, seq))
    details = json.dumps({"page": 1})
    digest = entry_hash(e2.hash, 3, e2.at + 0.5, "officer-0", "document_shown", "call-x", details)
    attacker.execute(
        "INSERT INTO audit_log VALUES (3, ?, 'officer-0', 'document_shown', 'call-x', ?, ?, ?)",
        (e2.at + 0.5, details, e2.hash, digest if forge_hash else "f" * 64),
    )
    attacker.execute("UPDATE audit_head SET seq = 7")
    result = log.verify()
    # A forged but self-consistent row passes itself; the renumbered row after it cannot.
    assert (result.ok, result.first_bad_seq) == (False, 4 if forge_hash else 3)


def test_reordering_detected(tmp_path: Path) -> None:
    path = tmp_path / "swap.sqlite3"
    log = _filled(path)
    attacker = _attacker(path)
    attacker.execute("UPDATE audit_log SET seq = 100 WHERE seq = 2")
    attacker.execute("UPDATE audit_log SET seq = 2 WHERE seq = 3")
    attacker.execute("UPDATE audit_log SET seq = 3 WHERE seq = 100")
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 2)


@pytest.mark.parametrize(
    ("details", "fragment"),
    [
        ({"text": "あ" * 501}, "501 characters"),
        ({"scan": b"\x89PNG"}, "type bytes"),
        ({"nested": {"a": 1}}, "type dict"),
        ({"ratio": float("nan")}, "finite"),
        ({"": 1}, "key"),
        ({f"k{i}": i for i in range(40)}, "keys"),
    ],
)
def test_bad_details_refused(tmp_path: Path, details: dict, fragment: str) -> None:  # type: ignore[type-arg]
    log = AuditLog(tmp_path / "bad.sqlite3")
    with pytest.raises(AuditError, match=fragment):
        log.append("officer-1", "document_saved", "doc-1", details)
    assert log.entries() == [] and log.verify().ok


def test_long_value_error_explains_why(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "why.sqlite3")
    with pytest.raises(AuditError, match="document contents"):
        log.append("officer-1", "document_saved", "doc-1", {"ocr": "x" * 600})
    log.append("officer-1", "document_saved", "doc-1", {"ocr_chars": 600, "id": "x" * 500})


def test_bad_fields_refused(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "f.sqlite3")
    with pytest.raises(AuditError, match="unknown audit action 'document_viewed'"):
        log.append("officer-1", "document_viewed")
    with pytest.raises(AuditError, match="actor must not be empty"):
        log.append("", "sign_in")
    with pytest.raises(AuditError, match="control characters"):
        log.append("officer-1\nforged line", "sign_in")
    custom = AuditLog(log.connection, extra_actions=["queue_reassigned"])
    assert custom.append("supervisor-1", "queue_reassigned", "kodomo").seq == 1


def test_append_inside_an_open_transaction_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "tx.sqlite3")
    log = AuditLog(conn)
    conn.execute("CREATE TABLE other (x)")
    conn.execute("INSERT INTO other VALUES (1)")
    assert conn.in_transaction
    with pytest.raises(RuntimeError, match="inside another transaction"):
        log.append("officer-1", "sign_in")
    conn.commit()
    assert log.append("officer-1", "sign_in").seq == 1


@pytest.mark.parametrize("store_like", [False, True], ids=["path", "wal-autocommit-connection"])
def test_concurrent_appends_from_two_connections(tmp_path: Path, store_like: bool) -> None:
    path = tmp_path / "c.sqlite3"
    AuditLog(path).close()
    if store_like:  # the way signaling_server.store opens its database
        sqlite3.connect(path, isolation_level=None).execute("PRAGMA journal_mode=WAL")

    def open_log() -> AuditLog:
        if store_like:
            return AuditLog(sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30))
        return AuditLog(path)

    per_writer = 150
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            with open_log() as log:
                barrier.wait(timeout=10)
                for i in range(per_writer):
                    log.append(name, "remote_action", f"kiosk-{i}", {"i": i})
                log.connection.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("it-admin-a", "it-admin-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    with AuditLog(path) as log:
        result = log.verify()
        assert result.ok and result.entries == 2 * per_writer, result
        entries = log.entries(limit=1000)
    assert [e.seq for e in entries] == list(range(1, 2 * per_writer + 1))
    for name in ("it-admin-a", "it-admin-b"):
        assert [e.details["i"] for e in entries if e.actor == name] == list(range(per_writer))


def test_verify_cli(tmp_path: Path) -> None:
    path = tmp_path / "cli.sqlite3"
    _filled(path).close()
    out = io.StringIO()
    assert verify_cli(path, out=out) == 0
    assert "audit log OK: 6 entries" in out.getvalue()
    anchor_line = next(line for line in out.getvalue().splitlines() if line.startswith("anchor:"))
    anchor = parse_anchor(anchor_line.removeprefix("anchor:"))
    assert anchor[0] == 6
    assert verify_cli(path, anchor=anchor, out=io.StringIO()) == 0
    out = io.StringIO()
    assert verify_cli(path, anchor=(6, "a" * 64), out=out) == 1
    assert "differs from the anchor" in out.getvalue()

    _attacker(path).execute("UPDATE audit_log SET action = 'sign_in' WHERE seq = 4")
    out = io.StringIO()
    assert verify_cli(path, out=out) == 1
    assert "TAMPERED: first bad entry 4" in out.getvalue()

    missing = tmp_path / "nope.sqlite3"
    out = io.StringIO()
    assert verify_cli(missing, out=out) == 2
    assert "no such database" in out.getvalue() and not missing.exists()

    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE x (y)")
    out = io.StringIO()
    assert verify_cli(other, out=out) == 2
    assert "no audit log" in out.getvalue()


_WRITER = """
import sys
from signaling_server.audit import AuditLog
path, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with AuditLog(path) as log:
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(n):
        log.append(name, "remote_action", "kiosk-ueda", {"i": i})
print("done", flush=True)
"""


def test_concurrent_appends_from_two_processes(tmp_path: Path) -> None:
    """Two server processes sharing one database file (e.g. the server and madoguchi-admin)."""
    path = tmp_path / "p.sqlite3"
    AuditLog(path).close()
    per_writer = 200
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), name, str(per_writer)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("server-1", "admin-cli")
    ]
    try:
        for proc in procs:  # both have opened the log before either starts writing
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            out, _ = proc.communicate(timeout=60)
            assert proc.returncode == 0 and out.strip() == "done"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    with AuditLog(path) as log:
        result = log.verify()
        entries = log.entries(limit=1000)
    assert result.ok and result.entries == 2 * per_writer, result
    for name in ("server-1", "admin-cli"):
        assert [e.details["i"] for e in entries if e.actor == name] == list(range(per_writer))


@pytest.mark.parametrize("text", ["", "6", "x:" + "a" * 64, "0:" + "a" * 64, "6:" + "A" * 64, "6:abc"])
def test_parse_anchor_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="SEQ:HASH"):
        parse_anchor(text)


def test_entries_appended_behind_the_logs_back_detected(tmp_path: Path) -> None:
    path = tmp_path / "append.sqlite3"
    log = _filled(path)
    last = log.entries(since_seq=5)[0]
    details = canonical_details({})
    digest = entry_hash(last.hash, 7, last.at + 1, "officer-0", "sign_in", "", details)
    _attacker(path).execute(
        "INSERT INTO audit_log VALUES (7, ?, 'officer-0', 'sign_in', '', ?, ?, ?)",
        (last.at + 1, details, last.hash, digest),
    )
    result = log.verify()
    assert (result.ok, result.first_bad_seq) == (False, 7)
    assert "added after the head record" in (result.problem or "")


def test_verify_while_another_connection_appends(tmp_path: Path) -> None:
    """verify() reads head and rows from one snapshot: concurrent appends never look like tampering."""
    path = tmp_path / "live.sqlite3"
    sqlite3.connect(path, isolation_level=None).execute("PRAGMA journal_mode=WAL")
    reader = AuditLog(sqlite3.connect(path, isolation_level=None, timeout=30))
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with AuditLog(path) as log:
                for i in range(400):
                    log.append("officer-1", "document_shown", f"call-{i}", {"i": i})
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    results = []
    while not done.is_set():
        results.append(reader.verify())
    thread.join(timeout=60)
    results.append(reader.verify())
    assert not errors, errors
    assert all(r.ok for r in results), next(r for r in results if not r.ok)
    assert results[-1].entries == 400 and len(results) > 1


# ------------------------------------------------------------------ what a refusal says, and the limits


def test_the_canonical_details_keep_unicode_and_refuse_nan() -> None:
    assert canonical_details({"label": "住民票", "a": 1}) == '{"a":1,"label":"住民票"}'
    with pytest.raises(ValueError):
        canonical_details({"ratio": float("nan")})


def test_an_entry_as_appended_is_the_entry_read_back() -> None:
    log = AuditLog(":memory:")
    entry = log.append("officer-1", "document_saved", "call-1", {"doc_id": "d1"}, at=12.5)
    assert log.entries() == [entry]
    assert log.append("officer-1", "sign_in").target == ""  # no target: the empty one


def test_a_fresh_log_has_the_genesis_head() -> None:
    assert AuditLog(":memory:").head() == (0, GENESIS_HASH)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"actor": 42}, "audit actor must be a string, got int"),
        ({"actor": "x" * 201}, "audit actor is 201 characters long; at most 200 allowed"),
        ({"target": "call\t1"}, "audit target 'call\\t1' contains control characters"),
        ({"at": float("inf")}, "audit time inf is not a finite number"),
        ({"details": [("page", 1)]}, "audit details must be a mapping, got list"),
        (
            {"details": {"ocr": "x" * 600}},
            "audit detail 'ocr' is 600 characters long; at most 500 are kept, and document contents, images "
            "or chat text must never go into the audit log (store an id, a size or a SHA-256 instead)",
        ),
        (
            {"details": {"scan": b"\x89PNG"}},
            "audit detail 'scan' has type bytes; only str, int, float, bool or None are stored "
            "(never document contents)",
        ),
    ],
)
def test_a_refusal_names_the_field_and_the_reason(fields: dict, message: str) -> None:  # type: ignore[type-arg]
    log = AuditLog(":memory:")
    with pytest.raises(AuditError) as refused:
        log.append(**{"actor": "officer-1", "action": "sign_in", **fields})
    assert str(refused.value) == message
    assert log.entries() == []


def test_a_control_character_is_shown_in_the_first_40_characters() -> None:
    log = AuditLog(":memory:")
    actor = "a" * 39 + "\n" + "b" * 10
    with pytest.raises(AuditError, match=f"^audit actor {re.escape(repr(actor[:40]))} contains control"):
        log.append(actor, "sign_in")


def test_an_unknown_action_lists_the_known_ones() -> None:
    with pytest.raises(AuditError, match=r"; known: account_changed, account_created, call_ended, "):
        AuditLog(":memory:").append("officer-1", "document_viewed")


def test_the_largest_fields_and_details_are_kept() -> None:
    log = AuditLog(":memory:")
    details = {f"k{i}": i for i in range(32)}
    entry = log.append("x" * 200, "sign_in", "Hanako Yamada", details)  # a space is no control character
    assert log.entries() == [entry] and len(entry.details) == 32


def test_the_transaction_refusal_says_what_to_do() -> None:
    conn = sqlite3.connect(":memory:")
    log = AuditLog(conn)
    conn.execute("CREATE TABLE other (x)")
    conn.execute("INSERT INTO other VALUES (1)")
    with pytest.raises(RuntimeError) as refused:
        log.append("officer-1", "sign_in")
    assert str(refused.value) == (
        "AuditLog.append must not run inside another transaction on the same connection (commit it first): "
        "it takes its own BEGIN IMMEDIATE lock to keep the chain linear"
    )


def test_entries_by_target_and_their_limits() -> None:
    log = AuditLog(":memory:")
    for i in range(1001):
        log.append("officer-1", "sign_in", f"call-{i % 3}", at=float(i))
    assert len(log.entries()) == 1000  # the default page
    assert len(log.entries(limit=10_000)) == 1001  # the largest page
    assert [e.seq for e in log.entries(target="call-1", limit=3)] == [2, 5, 8]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"limit": 0}, "limit must be between 1 and 10000, got 0"),
        ({"limit": 10_001}, "limit must be between 1 and 10000, got 10001"),
        ({"limit": 2.5}, "limit must be between 1 and 10000, got 2.5"),
        ({"since_seq": -1}, "since_seq must be a non-negative int, got -1"),
        ({"since_seq": 1.5}, "since_seq must be a non-negative int, got 1.5"),
    ],
)
def test_entries_refuse_a_bad_page(arguments: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError) as refused:
        AuditLog(":memory:").entries(**arguments)
    assert str(refused.value) == message


def test_the_first_entry_can_be_an_anchor() -> None:
    assert parse_anchor(" 1:" + "a" * 64 + "\n") == (1, "a" * 64)


# ------------------------------------------------------------------ the CLI check, line by line


def test_verify_cli_prints_the_anchor_to_keep(tmp_path: Path) -> None:
    path = tmp_path / "ok.sqlite3"
    head = _filled(path).head()
    out = io.StringIO()
    assert verify_cli(path, out=out) == 0
    assert out.getvalue().splitlines() == [
        "audit log OK: 6 entries, chain intact",
        f"anchor: {head[0]}:{head[1]}",
        "(keep the anchor outside the server; a later run with --anchor checks against it)",
    ]


def test_verify_cli_says_where_the_chain_breaks(tmp_path: Path) -> None:
    path = tmp_path / "bad.sqlite3"
    _filled(path).close()
    _attacker(path).execute("UPDATE audit_log SET action = 'sign_in' WHERE seq = 4")
    out = io.StringIO()
    assert verify_cli(path, out=out) == 1
    assert out.getvalue().splitlines() == [
        "audit log TAMPERED: first bad entry 4: entry 4 was modified (its hash does not match its contents)",
        "entries verified before it: 3",
    ]


def test_verify_cli_a_dropped_head_table_is_tampering(tmp_path: Path) -> None:
    path = tmp_path / "nohead.sqlite3"
    _filled(path).close()
    _attacker(path).execute("DROP TABLE audit_head")
    out = io.StringIO()
    assert verify_cli(path, out=out) == 1
    assert "first bad entry 6: the head record is missing" in out.getvalue()


def test_verify_cli_a_file_that_is_no_database_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"not a database, " * 100)
    out = io.StringIO()
    assert verify_cli(path, out=out) == 2
    assert out.getvalue().startswith(f"audit verify: cannot read {path}: ")


def test_verify_cli_a_database_that_cannot_be_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked-away.sqlite3"
    _filled(path).close()

    def refuse(*args: object, **kwargs: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(sqlite3, "connect", refuse)  # as for a file this user may not read
    out = io.StringIO()
    assert verify_cli(path, out=out) == 2
    assert out.getvalue() == f"audit verify: cannot open {path}: unable to open database file\n"


# ------------------------------------------------------------------ verify_rows: the whole verdict, per fault


def _chain(n: int) -> list[tuple[object, ...]]:
    """n well-linked rows as SQLite returns them: (seq, at, actor, action, target, details, prev, hash)."""
    rows: list[tuple[object, ...]] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        fields = (seq, 1000.0 + seq, "盛岡 花子", "document_shown", f"call-{seq}", '{"page":1}')
        digest = entry_hash(prev, *fields)  # type: ignore[arg-type]
        rows.append((*fields, prev, digest))
        prev = digest
    return rows


def _hash(rows: list[tuple[object, ...]], seq: int) -> str:
    return str(rows[seq - 1][7])


def test_an_intact_chain_and_its_head() -> None:
    rows = _chain(3)
    assert verify_rows(rows, (3, _hash(rows, 3))) == VerifyResult(True, 3, None, None, 3, _hash(rows, 3))
    assert verify_rows([], None) == VerifyResult(True, 0, None, None, 0, GENESIS_HASH)
    assert verify_rows(rows, (3, _hash(rows, 3)), anchor=(0, GENESIS_HASH)).ok  # "nothing yet" as an anchor


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda r: [*r[:2], r[0], *r[2:]], (2, 1, "entry 1 appears out of order")),
        (lambda r: [r[0], r[2]], (1, 2, "entry 2 is missing (next entry present is 3)")),
        (
            lambda r: [r[0], (*r[1][:6], "f" * 64, r[1][7]), r[2]],
            (1, 2, "entry 2 does not link to entry 1 (inserted, reordered or replaced)"),
        ),
        (
            lambda r: [r[0], (*r[1][:2], "佐藤", *r[1][3:]), r[2]],
            (1, 2, "entry 2 was modified (its hash does not match its contents)"),
        ),
        (
            lambda r: [r[0], (r[1][0], "noon", *r[1][2:]), r[2]],
            (1, 2, "entry 2 cannot be re-hashed: could not convert string to float: 'noon'"),
        ),
    ],
)
def test_the_first_bad_entry_and_what_was_verified_before_it(tamper, expected) -> None:  # type: ignore[no-untyped-def]
    rows = _chain(3)
    verified, first_bad, problem = expected
    result = verify_rows(tamper(rows), (3, _hash(rows, 3)))
    assert result == VerifyResult(False, verified, first_bad, problem, verified, _hash(rows, verified))


def test_the_newest_entries_deleted_appended_or_replaced() -> None:
    rows = _chain(6)
    assert verify_rows(rows[:4], (6, _hash(rows, 6))) == VerifyResult(
        False, 4, 5, "entries 5..6 were deleted from the end", 4, _hash(rows, 4)
    )
    assert verify_rows(rows, (4, _hash(rows, 4))) == VerifyResult(
        False,
        4,
        5,
        "entries 5..6 were added after the head record (appended outside the log)",
        4,
        _hash(rows, 4),
    )
    assert verify_rows(rows, (6, "f" * 64)) == VerifyResult(
        False,
        6,
        6,
        "the head record does not match entry 6 (the newest entry was replaced)",
        6,
        _hash(rows, 6),
    )
    assert verify_rows(rows, None) == VerifyResult(
        False, 6, 6, "the head record is missing", 6, _hash(rows, 6)
    )


def test_an_anchor_that_differs_or_is_gone() -> None:
    rows = _chain(6)
    head = (6, _hash(rows, 6))
    assert verify_rows(rows, head, anchor=(3, "f" * 64)) == VerifyResult(
        False, 2, 3, "entry 3 differs from the anchor recorded earlier (chain rewritten)", 2, _hash(rows, 2)
    )
    assert verify_rows(rows, head, anchor=(9, "f" * 64)) == VerifyResult(
        False, 6, 7, "anchored entry 9 no longer exists (log truncated or rewritten)", 6, _hash(rows, 6)
    )
    gone = verify_rows([], None, anchor=(1, _hash(rows, 1)))
    assert (gone.ok, gone.first_bad_seq) == (False, 1)


def test_the_hash_keeps_unicode_as_is_and_refuses_nan() -> None:
    payload = json.dumps([GENESIS_HASH, 1, 2.0, "盛岡", "sign_in", "", "{}"], ensure_ascii=False)
    expected = hashlib.sha256(payload.replace(", ", ",").encode("utf-8")).hexdigest()
    assert entry_hash(GENESIS_HASH, 1, 2, "盛岡", "sign_in", "", "{}") == expected
    with pytest.raises(ValueError):
        entry_hash(GENESIS_HASH, 1, float("nan"), "盛岡", "sign_in", "", "{}")


def test_a_log_closes_only_the_connection_it_opened(tmp_path: Path) -> None:
    shared = sqlite3.connect(tmp_path / "shared.sqlite3")
    AuditLog(shared).close()
    assert shared.execute("SELECT COUNT(*) FROM audit_log").fetchone() == (0,)
    own = AuditLog(tmp_path / "own.sqlite3")
    own.close()
    with pytest.raises(sqlite3.ProgrammingError):
        own.connection.execute("SELECT 1")


def test_a_log_refuses_a_bad_extra_action_and_an_open_transaction() -> None:
    with pytest.raises(AuditError) as refused:
        AuditLog(":memory:", extra_actions=["Queue Moved"])
    assert str(refused.value) == "audit action 'Queue Moved' must match ^[a-z][a-z0-9_]{0,63}$"
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE other (x)")
    conn.execute("INSERT INTO other VALUES (1)")
    with pytest.raises(RuntimeError) as busy:
        AuditLog(conn)
    assert str(busy.value) == "AuditLog needs a connection with no open transaction to create its tables"
