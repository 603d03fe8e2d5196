"""Zone hand-over: a finished business call exported on the internet side, imported on the LGWAN side."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signaling_server.audit import AuditLog
from signaling_server.case_documents import CaseDocuments, new_key, parse_key
from signaling_server.case_export import MAGIC, ExportError, export_calls, import_calls
from signaling_server.store import CallRecord, Store

PDF = b"%PDF-1.7\n" + os.urandom(300_000) + b"\n%%EOF\n"


def ended_call(store: Store, call_id: str = "c0ffee01", state: str = "ended") -> CallRecord:
    record = CallRecord(
        call_id=call_id,
        kiosk_id="biz-inv1",
        department="kenchiku",
        procedure=None,
        language="ja",
        state=state,
        created_at=1000.0,
        officer="hanako",
        end_reason="completed" if state == "ended" else None,
        outcome="resolved",
        notes="図面の確認",
        ended_at=1600.0,
    )
    store.save_call(record)
    return record


def side(tmp_path: Path, name: str) -> tuple[Store, CaseDocuments]:
    store = Store(tmp_path / f"{name}.sqlite3")
    return store, CaseDocuments(store.conn, {"k1": parse_key(new_key())}, "k1")


def internet_side_with_a_case(tmp_path: Path) -> tuple[Store, CaseDocuments]:
    store, docs = side(tmp_path, "internet")
    ended_call(store)
    sha = hashlib.sha256(PDF).hexdigest()
    docs.save(
        call_id="c0ffee01",
        doc_id="d1",
        name="配置図.pdf",
        mime="application/pdf",
        data=PDF,
        sha256=sha,
        saved_by="hanako",
    )
    AuditLog(store.conn).append("hanako", "document_saved", "c0ffee01", {"sha256": sha})
    return store, docs


def test_a_finished_call_and_its_documents_arrive_whole_and_audited_on_both_sides(tmp_path):
    key = parse_key(new_key())
    internet, internet_docs = internet_side_with_a_case(tmp_path)
    blob, exported = export_calls(internet, internet_docs, ["c0ffee01"], key=key, actor="it-sato")
    assert blob.startswith(MAGIC) and PDF[:64] not in blob  # encrypted in transit too
    lgwan, lgwan_docs = side(tmp_path, "lgwan")
    imported = import_calls(lgwan, lgwan_docs, blob, key=key, actor="it-kudo")
    assert (imported.calls, imported.documents, imported.sha256) == (["c0ffee01"], 1, exported.sha256)
    meta, data = lgwan_docs.read("c0ffee01", "d1")
    assert data == PDF and meta.name == "配置図.pdf" and meta.saved_by == "hanako"
    assert lgwan.call("c0ffee01") == internet.call("c0ffee01")
    out = AuditLog(internet.conn).entries(action="case_exported")
    into = AuditLog(lgwan.conn, extra_actions=("case_imported",)).entries(action="case_imported")
    assert out[0].details["export_sha256"] == into[0].details["export_sha256"] == exported.sha256
    trail = lgwan.conn.execute("SELECT source_audit FROM case_imports").fetchone()[0]
    assert "document_saved" in trail  # the internet side's audit trail of the call travels with it


def test_a_changed_byte_a_wrong_key_a_live_call_and_a_second_import_are_refused_by_name(tmp_path):
    key = parse_key(new_key())
    internet, internet_docs = internet_side_with_a_case(tmp_path)
    blob, _ = export_calls(internet, internet_docs, ["c0ffee01"], key=key, actor="it-sato")
    lgwan, lgwan_docs = side(tmp_path, "lgwan")
    flipped = bytearray(blob)
    flipped[len(MAGIC) + 40] ^= 1
    with pytest.raises(ExportError, match="integrity check"):
        import_calls(lgwan, lgwan_docs, bytes(flipped), key=key, actor="it-kudo")
    with pytest.raises(ExportError, match="wrong transfer key"):
        import_calls(lgwan, lgwan_docs, blob, key=parse_key(new_key()), actor="it-kudo")
    assert lgwan.call("c0ffee01") is None  # nothing stored by a refused import
    import_calls(lgwan, lgwan_docs, blob, key=key, actor="it-kudo")
    with pytest.raises(ExportError, match="already in this server's records"):
        import_calls(lgwan, lgwan_docs, blob, key=key, actor="it-kudo")
    ended_call(internet, "live0001", state="in_call")
    with pytest.raises(ExportError, match="only a finished call"):
        export_calls(internet, internet_docs, ["live0001"], key=key, actor="it-sato")


def admin(*args: str, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "signaling_server.admin", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_admin_commands_hand_over_a_case_and_refuse_a_key_others_can_read(tmp_path):
    doc_key = new_key()
    configs = {}
    for name in ("internet", "lgwan"):
        configs[name] = tmp_path / f"{name}.toml"
        configs[name].write_text(
            f'[server]\ndatabase = "{tmp_path / name}.sqlite3"\n'
            f'[documents]\ncurrent_key = "k1"\nkeys = {{ k1 = "{doc_key}" }}\n'
            '[[departments]]\nid = "kenchiku"\nname_ja = "建築指導課"\nname_en = "Building Guidance"\n'
            'audience = "businesses"\n'
        )
    internet_store = Store(tmp_path / "internet.sqlite3")
    ended_call(internet_store)
    internet_store.close()
    key_file = tmp_path / "transfer.key"
    assert admin("case", "new-transfer-key", str(key_file), config=configs["internet"]).returncode == 0
    assert key_file.stat().st_mode & 0o777 == 0o600
    out = tmp_path / "case.export"
    done = admin(
        "case",
        "export",
        "c0ffee01",
        "--out",
        str(out),
        "--key-file",
        str(key_file),
        config=configs["internet"],
    )
    assert done.returncode == 0, done.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() in done.stdout
    key_file.chmod(0o644)
    refused = admin("case", "import", str(out), "--key-file", str(key_file), config=configs["lgwan"])
    assert refused.returncode != 0 and "readable by others" in refused.stderr
    key_file.chmod(0o600)
    done = admin("case", "import", str(out), "--key-file", str(key_file), config=configs["lgwan"])
    assert done.returncode == 0, done.stderr
    assert Store(tmp_path / "lgwan.sqlite3").call("c0ffee01") is not None
