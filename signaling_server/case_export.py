"""Hand finished calls from the internet-side instance to the LGWAN side: an export file, not a live link.

A business (業者) joins from its own office, so its calls run on a server instance in a zone the city's
policy allows for the internet (docs/security.md §4); the case belongs to the division on the LGWAN side.
The zones may exchange files only through the city's approved transfer (無害化/ファイル転送), never by a
connection, so the internet side exports a finished call to one file and the LGWAN side imports it.

The file is ``MAGIC + nonce + AES-256-GCM(zip)`` under a transfer key both instances hold (separate from
the at-rest document keys, ``madoguchi-admin case new-transfer-key``). The zip holds ``manifest.json`` —
the call records, their audit trail and, per document, name, type, size and SHA-256 — and the documents'
bytes. Import decrypts (a wrong key or a changed byte fails as a whole), checks every document against
the manifest's size and SHA-256, stores the records and documents (encrypted under the LGWAN side's own
key) and audits the import with the file's SHA-256, which both sides write in their transfer ledger.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from signaling_server.audit import AuditLog
from signaling_server.case_documents import CaseDocuments, DocumentError
from signaling_server.db import IntegrityError
from signaling_server.store import CallRecord, Store

MAGIC = b"MADOGUCHI-CASE-EXPORT/1\n"
FORMAT = "madoguchi-case-export/1"
MAX_EXPORT_BYTES = 512 * 1024 * 1024  # a dozen calls with 40 MiB documents each; more is split by calls
EXPORT_ACTIONS = ("case_exported", "case_imported")


class ExportError(Exception):
    """The export or import cannot go ahead; the message names the call, document or check that failed."""


@dataclass(frozen=True)
class Result:
    calls: list[str]
    documents: int
    sha256: str  # of the export file: the entry both sides write in their transfer ledger


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_calls(
    store: Store, documents: CaseDocuments, call_ids: list[str], *, key: bytes, actor: str
) -> tuple[bytes, Result]:
    """The encrypted export file of finished calls and what it holds; audited on this side."""
    if not call_ids:
        raise ExportError("name at least one call to export")
    audit = AuditLog(store.conn, extra_actions=EXPORT_ACTIONS)
    manifest: dict[str, Any] = {"format": FORMAT, "exported_at": time.time(), "calls": []}
    archive = io.BytesIO()
    count = 0
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for call_id in call_ids:
            entry, files = _call_entry(store, documents, audit, call_id)
            manifest["calls"].append(entry)
            for path, data in files:
                zf.writestr(path, data)
                count += 1
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    blob = _seal(archive.getvalue(), key)
    digest = file_sha256(blob)
    for call_id in call_ids:
        audit.append(actor, "case_exported", call_id, {"export_sha256": digest})
    return blob, Result(list(call_ids), count, digest)


def _call_entry(
    store: Store, documents: CaseDocuments, audit: AuditLog, call_id: str
) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    record = store.call(call_id)
    if record is None:
        raise ExportError(f"no call {call_id!r} in this server's records")
    if record.state != "ended":
        raise ExportError(f"call {call_id!r} is {record.state}: only a finished call can be exported")
    files, listed = [], []
    for meta in documents.list(call_id):
        _, data = documents.read(call_id, meta.doc_id)
        path = f"documents/{call_id}/{meta.doc_id}"
        files.append((path, data))
        listed.append({**asdict(meta), "path": path})
    trail = [
        {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "details": e.details, "hash": e.hash}
        for e in audit.entries(target=call_id, limit=10_000)
    ]
    return {"record": asdict(record), "documents": listed, "audit": trail}, files


def _seal(data: bytes, key: bytes) -> bytes:
    nonce = os.urandom(12)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, data, FORMAT.encode())


def _open(blob: bytes, key: bytes) -> bytes:
    if not blob.startswith(MAGIC):
        raise ExportError("not a Remote Madoguchi case export (its first line is wrong)")
    if len(blob) > MAX_EXPORT_BYTES:
        raise ExportError(f"the export is larger than {MAX_EXPORT_BYTES // 2**20} MiB")
    nonce, sealed = blob[len(MAGIC) : len(MAGIC) + 12], blob[len(MAGIC) + 12 :]
    try:
        return AESGCM(key).decrypt(nonce, sealed, FORMAT.encode())
    except InvalidTag:
        raise ExportError(
            "the export fails its integrity check: wrong transfer key or altered file"
        ) from None


def import_calls(store: Store, documents: CaseDocuments, blob: bytes, *, key: bytes, actor: str) -> Result:
    """Check and store an export on this (LGWAN) side. Nothing is stored unless every document checks;
    a call already imported or already known here is refused by name."""
    digest = file_sha256(blob)
    with zipfile.ZipFile(io.BytesIO(_open(blob, key))) as zf:
        manifest = _manifest(zf)
        checked = [(entry, _checked_documents(zf, entry)) for entry in manifest["calls"]]
    for entry, _ in checked:
        call_id = entry["record"]["call_id"]
        if store.call(call_id) is not None:
            raise ExportError(f"call {call_id!r} is already in this server's records: nothing was imported")
    audit = AuditLog(store.conn, extra_actions=EXPORT_ACTIONS)
    count = 0
    for entry, docs in checked:
        count += _store_call(store, documents, entry, docs, digest, actor)
        call_id = entry["record"]["call_id"]
        audit.append(actor, "case_imported", call_id, {"export_sha256": digest, "documents": len(docs)})
    return Result([e["record"]["call_id"] for e, _ in checked], count, digest)


def _manifest(zf: zipfile.ZipFile) -> dict[str, Any]:
    try:
        manifest = json.loads(zf.read("manifest.json"))
    except (KeyError, ValueError):
        raise ExportError("the export has no readable manifest.json") from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("calls"), list):
        raise ExportError(f"the manifest is not format {FORMAT}")
    return manifest


def _checked_documents(zf: zipfile.ZipFile, entry: dict[str, Any]) -> list[tuple[dict[str, Any], bytes]]:
    docs = []
    for meta in entry.get("documents", []):
        try:
            data = zf.read(meta["path"])
        except KeyError:
            raise ExportError(
                f"document {meta.get('doc_id')!r} is listed but missing from the export"
            ) from None
        if len(data) != meta["size"] or file_sha256(data) != meta["sha256"]:
            raise ExportError(
                f"document {meta['doc_id']!r} of call {entry['record']['call_id']!r} does not match its "
                "size and SHA-256 in the manifest: nothing was imported"
            )
        docs.append((meta, data))
    return docs


def _store_call(
    store: Store,
    documents: CaseDocuments,
    entry: dict[str, Any],
    docs: list[tuple[dict[str, Any], bytes]],
    digest: str,
    actor: str,
) -> int:
    record = CallRecord(**entry["record"])
    store.save_call(record)
    for meta, data in docs:
        try:
            documents.save(
                call_id=record.call_id,
                doc_id=meta["doc_id"],
                name=meta["name"],
                mime=meta["mime"],
                data=data,
                sha256=meta["sha256"],
                saved_by=meta["saved_by"],
            )
        except DocumentError as exc:
            raise ExportError(f"document {meta['doc_id']!r}: {exc}") from None
    try:
        store.conn.execute(
            "INSERT INTO case_imports VALUES (?, ?, ?, ?, ?)",
            (record.call_id, digest, json.dumps(entry["audit"], ensure_ascii=False), time.time(), actor),
        )
    except IntegrityError:
        raise ExportError(f"call {record.call_id!r} was imported before") from None
    return len(docs)
