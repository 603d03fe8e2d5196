"""Saving an upload to a case as it arrives: hashed, encrypted and written chunk by chunk, with caps.

A document is up to 40 MiB (a business's drawing set, a 300 dpi colour scan). Read whole before saving, one
upload held its body, its ciphertext and SQLite's copy of the row at once (~3× its size), and nothing limited
how many ran together: ten officers saving at once could take 1.2 GB. Here the body is read in the request's
own chunks; each is hashed (SHA-256) and encrypted (AES-256-GCM, the same format as ``CaseDocuments.save``:
ciphertext then the 16-byte tag) and written about 1 MiB at a time: on SQLite into the row's pre-sized
blob through its incremental blob I/O; on PostgreSQL appended to the row's bytea (``ciphertext || ?``,
which rewrites the value each time: 40 appends for the largest document, about 0.8 GB written in all
for 40 MiB — acceptable for a rare upload, and nothing extra held in memory). The row is ``pending``
until the last byte checks against the announced size and SHA-256; then it becomes visible, otherwise
it is deleted. Uploads are capped per staff session and in all; one over the cap is refused at once with
the reason and a time to retry (the officer's console retries).

Each blob write opens and closes its own handle: an open handle would keep an implicit transaction open on
the shared connection across awaits, and the audit log's ``BEGIN IMMEDIATE`` (and every other writer) would
then fail or join it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from signaling_server.case_documents import COLUMNS, MAX_BYTES, CaseDocuments, DocumentError, SavedDocument
from signaling_server.db import IntegrityError
from signaling_server.db.sqlite import SqliteDatabase

TAG_BYTES = 16
WRITE_BYTES = 1 << 20  # encrypted bytes gathered before one blob write: 40 writes for the largest document
PER_SESSION = 2  # uploads one staff session may run at once (a console saves documents one after another)
TOTAL = 8  # uploads the server runs at once: at most TOTAL × WRITE_BYTES of buffers


class UploadsBusy(Exception):
    """Too many uploads at once; the message names which cap, ``retry_after_s`` when to try again."""

    retry_after_s = 5


class UploadSlots:
    """Counts uploads in progress per staff session and in all; ``take`` refuses one over either cap."""

    def __init__(self, per_session: int = PER_SESSION, total: int = TOTAL) -> None:
        self.per_session = per_session
        self.total = total
        self._running: Counter[str] = Counter()

    @contextlib.contextmanager
    def take(self, session: str) -> Iterator[None]:
        if sum(self._running.values()) >= self.total:
            raise UploadsBusy(f"the server is saving {self.total} documents already; try again in a moment")
        if self._running[session] >= self.per_session:
            raise UploadsBusy(f"you are saving {self.per_session} documents already; wait for them to finish")
        self._running[session] += 1
        try:
            yield
        finally:
            self._running[session] -= 1
            if not self._running[session]:
                del self._running[session]

    def running(self) -> int:
        return sum(self._running.values())


async def save_streamed(
    documents: CaseDocuments,
    chunks: AsyncIterator[bytes],
    *,
    call_id: str,
    doc_id: str,
    name: str,
    mime: str,
    size: int,
    sha256: str,
    saved_by: str,
) -> SavedDocument:
    """Save ``size`` bytes arriving as ``chunks``; raise DocumentError (nothing kept) when they are more or
    fewer than announced or do not match ``sha256``."""
    if not 1 <= size <= MAX_BYTES:
        raise DocumentError(f"a document must be 1 byte to {MAX_BYTES // (1024 * 1024)} MiB")
    nonce = os.urandom(12)
    rowid = _reserve(documents, call_id, doc_id, name, mime, size, sha256.lower(), nonce, saved_by)
    try:
        await _write(documents, rowid, chunks, size, sha256.lower(), nonce, call_id, doc_id)
    except BaseException:
        documents.conn.execute(
            "DELETE FROM case_documents WHERE call_id = ? AND doc_id = ? AND pending = 1", (call_id, doc_id)
        )
        raise
    saved_at = documents.clock()
    documents.conn.execute(
        "UPDATE case_documents SET pending = 0, saved_at = ? WHERE call_id = ? AND doc_id = ?",
        (saved_at, call_id, doc_id),
    )
    return SavedDocument(call_id, doc_id, name[:200], mime, size, sha256.lower(), saved_by, saved_at)


def _reserve(
    documents: CaseDocuments,
    call_id: str,
    doc_id: str,
    name: str,
    mime: str,
    size: int,
    sha256: str,
    nonce: bytes,
    saved_by: str,
) -> int | None:
    """Insert the pending row: on SQLite with a zero-filled blob the size of the ciphertext (its rowid, for
    blob I/O); on PostgreSQL with an empty one, appended to (None)."""
    sqlite = documents.conn.dialect == "sqlite"
    blob, returning = ("zeroblob(?)", " RETURNING rowid") if sqlite else ("?", "")
    try:
        cursor = documents.conn.execute(
            f"INSERT INTO case_documents ({COLUMNS}, pending)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, {blob}, ?, ?, 1){returning}",
            (
                call_id,
                doc_id,
                documents.seal_name(call_id, doc_id, name[:200]),
                mime,
                size,
                sha256,
                documents.current,
                nonce,
                size + TAG_BYTES if sqlite else b"",
                saved_by,
                documents.clock(),  # when the upload started, until it is saved
            ),
        )
    except IntegrityError:
        raise DocumentError(f"document {doc_id!r} is already saved to this case") from None
    return int(cursor.fetchone()[0]) if sqlite else None


async def _write(
    documents: CaseDocuments,
    rowid: int | None,
    chunks: AsyncIterator[bytes],
    size: int,
    sha256: str,
    nonce: bytes,
    call_id: str,
    doc_id: str,
) -> None:
    encryptor = Cipher(algorithms.AES(documents.keys[documents.current]), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(documents.aad(call_id, doc_id))
    digest = hashlib.sha256()
    pending = bytearray()
    offset = received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > size:
            raise DocumentError(f"more than the announced {size} bytes arrived: nothing was saved")
        digest.update(chunk)
        pending += encryptor.update(chunk)
        if len(pending) >= WRITE_BYTES:
            offset = _flush(documents, (call_id, doc_id, rowid), offset, pending)
    if received != size:
        raise DocumentError(f"{received} of the announced {size} bytes arrived: nothing was saved")
    if digest.hexdigest() != sha256:
        raise DocumentError("the SHA-256 does not match the uploaded bytes: nothing was saved")
    pending += encryptor.finalize() + encryptor.tag
    _flush(documents, (call_id, doc_id, rowid), offset, pending)


def _flush(
    documents: CaseDocuments, row: tuple[str, str, int | None], offset: int, pending: bytearray
) -> int:
    call_id, doc_id, rowid = row
    db = documents.conn
    if isinstance(db, SqliteDatabase) and rowid is not None:
        with db.connection.blobopen("case_documents", "ciphertext", rowid) as blob:
            blob.seek(offset)
            blob.write(pending)
    else:
        db.execute(
            "UPDATE case_documents SET ciphertext = ciphertext || ? WHERE call_id = ? AND doc_id = ?"
            " AND pending = 1",
            (bytes(pending), call_id, doc_id),
        )
    offset += len(pending)
    pending.clear()
    return offset
