"""Zone hand-over across engines: a case exported from a SQLite node, imported into a PostgreSQL one (the
LGWAN side run as several nodes), its second import refused by the constraint on either engine."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from signaling_server.audit import AuditLog
from signaling_server.case_documents import CaseDocuments, new_key, parse_key
from signaling_server.case_export import ExportError, export_calls, import_calls
from signaling_server.store import Store
from tests.signaling_server.test_case_export import PDF, ended_call


def test_a_case_from_a_sqlite_node_lands_whole_in_postgresql(tmp_path: Path, postgres_url: str) -> None:
    key = parse_key(new_key())
    internet = Store(tmp_path / "internet.sqlite3")
    internet_docs = CaseDocuments(internet.db, {"k1": parse_key(new_key())}, "k1")
    ended_call(internet)
    sha = hashlib.sha256(PDF).hexdigest()
    internet_docs.save(call_id="c0ffee01", doc_id="d1", name="配置図.pdf", mime="application/pdf", data=PDF,
                       sha256=sha, saved_by="hanako")  # fmt: skip
    AuditLog(internet.db).append("hanako", "document_saved", "c0ffee01", {"sha256": sha})
    blob, exported = export_calls(internet, internet_docs, ["c0ffee01"], key=key, actor="it-sato")

    lgwan = Store(postgres_url)
    lgwan_docs = CaseDocuments(lgwan.db, {"k9": parse_key(new_key())}, "k9")
    imported = import_calls(lgwan, lgwan_docs, blob, key=key, actor="it-kudo")
    assert (imported.calls, imported.documents, imported.sha256) == (["c0ffee01"], 1, exported.sha256)
    meta, data = lgwan_docs.read("c0ffee01", "d1")
    assert data == PDF and meta.name == "配置図.pdf"
    assert lgwan.call("c0ffee01") == internet.call("c0ffee01")
    trail = lgwan.db.fetchone("SELECT source_audit FROM case_imports")[0]
    assert "document_saved" in trail
    into = AuditLog(lgwan.db, extra_actions=("case_imported",)).entries(action="case_imported")
    assert into[0].details["export_sha256"] == exported.sha256
    with pytest.raises(ExportError, match="already in this server's records"):
        import_calls(lgwan, lgwan_docs, blob, key=key, actor="it-kudo")
    internet.close()
    lgwan.close()
