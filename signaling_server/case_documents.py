"""Documents an officer explicitly saves to a case: encrypted at rest, audited, removed after retention.

Scans travel kiosk → console peer to peer; nothing reaches the server unless the officer presses "save".
Then the console uploads the bytes over HTTPS with its session token; the server checks the SHA-256,
encrypts with AES-256-GCM under the configured key (the call id and document id are bound in as
associated data, so a ciphertext cannot be moved to another case), stores it in SQLite and writes an audit
entry. Only the officer who handled the call, supervisors and IT administrators can read it back (each
read audited). A retention job deletes documents older than ``documents.retention_days``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from signaling_server.db import Database, IntegrityError, as_database

MAX_BYTES = 40 * 1024 * 1024
COLUMNS = "call_id, doc_id, name, mime, size, sha256, key_id, nonce, ciphertext, saved_by, saved_at"
STALE_UPLOAD_S = 3600.0  # a streamed upload's row still pending after this was cut off (crash, kill -9)


class DocumentError(Exception):
    """A document that cannot be saved or read; the message says why (safe to show the officer)."""


NAME_PREFIX = "enc1:"  # an encrypted name: base64(nonce + AES-GCM ciphertext)


def parse_key(text: str) -> bytes:
    """A 256-bit key given as base64 (``madoguchi-admin documents new-key`` prints one)."""
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        raise DocumentError("the document key is not valid base64") from None
    if len(key) != 32:
        raise DocumentError(f"the document key must be 32 bytes (256 bits), not {len(key)}")
    return key


def new_key() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


@dataclass(frozen=True)
class SavedDocument:
    call_id: str
    doc_id: str
    name: str
    mime: str
    size: int
    sha256: str
    saved_by: str
    saved_at: float


class CaseDocuments:
    def __init__(
        self, conn: Database | sqlite3.Connection, keys: dict[str, bytes], current: str, *, clock=time.time
    ):
        if current not in keys:
            raise DocumentError(f"the current document key {current!r} is not among the configured keys")
        self.conn = as_database(conn)  # the table is made by migration 1 (signaling_server/db)
        self.keys = keys
        self.current = current
        self.clock = clock

    @staticmethod
    def aad(call_id: str, doc_id: str) -> bytes:
        return f"{call_id}/{doc_id}".encode()

    def seal_name(self, call_id: str, doc_id: str, name: str) -> str:
        """A document's name (typed by a resident or an officer: personal data) encrypted like its
        contents, under the current key, bound to the document."""
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.current]).encrypt(
            nonce, name.encode(), self.aad(call_id, doc_id) + b"/name"
        )
        return NAME_PREFIX + base64.b64encode(nonce + sealed).decode()

    def _open_name(self, call_id: str, doc_id: str, key_id: str, stored: str) -> str:
        if not stored.startswith(NAME_PREFIX):
            return stored  # saved before names were encrypted; the next rekey encrypts it
        key = self.keys.get(key_id)
        raw = base64.b64decode(stored[len(NAME_PREFIX) :])
        try:
            if key is None:
                raise InvalidTag
            return AESGCM(key).decrypt(raw[:12], raw[12:], self.aad(call_id, doc_id) + b"/name").decode()
        except (InvalidTag, ValueError):
            raise DocumentError(f"the name of document {doc_id!r} cannot be decrypted") from None

    def save(
        self, *, call_id: str, doc_id: str, name: str, mime: str, data: bytes, sha256: str, saved_by: str
    ) -> SavedDocument:
        if not data or len(data) > MAX_BYTES:
            raise DocumentError(f"a document must be 1 byte to {MAX_BYTES // (1024 * 1024)} MiB")
        if hashlib.sha256(data).hexdigest() != sha256.lower():
            raise DocumentError("the SHA-256 does not match the uploaded bytes: nothing was saved")
        nonce = os.urandom(12)
        ciphertext = AESGCM(self.keys[self.current]).encrypt(nonce, data, self.aad(call_id, doc_id))
        saved = SavedDocument(
            call_id, doc_id, name[:200], mime, len(data), sha256.lower(), saved_by, self.clock()
        )
        try:
            self.conn.execute(
                f"INSERT INTO case_documents ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    call_id,
                    doc_id,
                    self.seal_name(call_id, doc_id, saved.name),
                    mime,
                    saved.size,
                    saved.sha256,
                    self.current,
                    nonce,
                    ciphertext,
                    saved_by,
                    saved.saved_at,
                ),
            )
        except IntegrityError:
            raise DocumentError(f"document {doc_id!r} is already saved to this case") from None
        return saved

    def list(self, call_id: str) -> list[SavedDocument]:
        rows = self.conn.execute(
            "SELECT call_id, doc_id, name, mime, size, sha256, saved_by, saved_at, key_id FROM case_documents"
            " WHERE call_id = ? AND pending = 0 ORDER BY saved_at",
            (call_id,),
        )
        return [self._meta(row) for row in rows]

    def _meta(self, row: Any) -> SavedDocument:
        """The first eight columns as listed in ``list``, then the key id; the name decrypted."""
        call_id, doc_id, name, *rest = row[:8]
        return SavedDocument(call_id, doc_id, self._open_name(call_id, doc_id, row[8], name), *rest)

    def read(self, call_id: str, doc_id: str) -> tuple[SavedDocument, bytes]:
        row = self.conn.execute(
            "SELECT call_id, doc_id, name, mime, size, sha256, saved_by, saved_at, key_id, nonce, ciphertext"
            " FROM case_documents WHERE call_id = ? AND doc_id = ? AND pending = 0",
            (call_id, doc_id),
        ).fetchone()
        if row is None:
            raise DocumentError(f"no document {doc_id!r} in case {call_id!r}")
        key_id, nonce, ciphertext = row[8], row[9], row[10]
        key = self.keys.get(key_id)
        if key is None:
            raise DocumentError(
                f"document {doc_id!r} was encrypted with key {key_id!r}, which is no longer configured"
            )
        try:
            data = AESGCM(key).decrypt(nonce, ciphertext, self.aad(call_id, doc_id))
        except InvalidTag:
            raise DocumentError(
                f"document {doc_id!r} fails its integrity check (tampered or wrong key)"
            ) from None
        return self._meta(row), data

    def purge(self, retention_days: float) -> int:
        """Delete documents older than the retention period; the number deleted."""
        cutoff = self.clock() - retention_days * 86_400
        # An upload still pending after an hour was cut off by a crash: its row holds no usable document.
        stale = self.clock() - STALE_UPLOAD_S
        return self.conn.execute(
            "DELETE FROM case_documents"
            " WHERE (saved_at < ? AND pending = 0) OR (pending = 1 AND saved_at < ?)",
            (cutoff, stale),
        ).rowcount

    def rekey(self) -> int:
        """Re-encrypt every document under the current key (after rotating it); the number re-encrypted."""
        rows = self.conn.execute(
            "SELECT call_id, doc_id FROM case_documents WHERE key_id != ? AND pending = 0", (self.current,)
        ).fetchall()
        for call_id, doc_id in rows:
            meta, data = self.read(call_id, doc_id)
            nonce = os.urandom(12)
            ciphertext = AESGCM(self.keys[self.current]).encrypt(nonce, data, self.aad(call_id, doc_id))
            name = self.seal_name(call_id, doc_id, meta.name)
            self.conn.execute(
                "UPDATE case_documents SET key_id = ?, nonce = ?, ciphertext = ?, name = ?"
                " WHERE call_id = ? AND doc_id = ?",
                (self.current, nonce, ciphertext, name, call_id, doc_id),
            )
        return len(rows)
