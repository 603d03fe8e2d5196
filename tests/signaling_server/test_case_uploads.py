"""Uploads saved as they arrive: bounded memory, nothing kept from a bad or cut-off upload, capped."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator

import aiohttp
import pytest

from config.schema import DocumentsConfig
from signaling_server.case_documents import CaseDocuments, DocumentError, new_key, parse_key
from signaling_server.case_routes import DOCUMENTS
from signaling_server.case_uploads import UploadsBusy, UploadSlots, save_streamed
from signaling_server.store import Store
from signaling_server.testing import call_in_progress, test_config

PASSWORD = "correct horse battery"
MIB = 1024 * 1024


def documents() -> CaseDocuments:
    return CaseDocuments(Store(":memory:").conn, {"k1": parse_key(new_key())}, "k1")


async def pieces(data: bytes, size: int = 65536, *, cut_at: int | None = None) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        if cut_at is not None and start >= cut_at:
            raise ConnectionResetError("the officer's console went away")
        yield data[start : start + size]


def rows(docs: CaseDocuments) -> int:
    return docs.conn.execute("SELECT count(*) FROM case_documents").fetchone()[0]


async def save(docs: CaseDocuments, data: bytes, chunks: AsyncIterator[bytes] | None = None, **overrides):
    fields = {
        "call_id": "c1",
        "doc_id": "d1",
        "name": "配置図.pdf",
        "mime": "application/pdf",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "saved_by": "hanako",
    } | overrides
    return await save_streamed(docs, chunks or pieces(data), **fields)


async def test_a_streamed_document_reads_back_as_one_saved_whole_would():
    docs = documents()
    data = os.urandom(3 * MIB + 5)
    saved = await save(docs, data)
    meta, back = docs.read("c1", "d1")
    assert back == data and meta == saved and meta.name == "配置図.pdf"
    assert [d.doc_id for d in docs.list("c1")] == ["d1"]
    docs.save(call_id="c1", doc_id="d2", name="x", mime="image/png", data=data,
              sha256=hashlib.sha256(data).hexdigest(), saved_by="hanako")  # fmt: skip
    stored = [
        r[0] for r in docs.conn.execute("SELECT length(ciphertext) FROM case_documents ORDER BY doc_id")
    ]
    assert stored == [len(data) + 16] * 2  # the same format as a document saved whole


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"sha256": "0" * 64}, "SHA-256 does not match"),
        ({"size": 3 * MIB + 6}, "of the announced"),
        ({"size": 3 * MIB + 4}, "more than the announced"),
        ({"size": 41 * MIB}, "1 byte to 40 MiB"),
    ],
)
async def test_a_bad_upload_keeps_nothing_and_says_why(change, named):
    docs = documents()
    data = os.urandom(3 * MIB + 5)
    with pytest.raises(DocumentError, match=named):
        await save(docs, data, **change)
    assert rows(docs) == 0


async def test_an_upload_cut_off_midway_leaves_no_row_and_a_crashed_one_is_purged():
    docs = documents()
    data = os.urandom(2 * MIB)
    with pytest.raises(ConnectionResetError):
        await save(docs, data, chunks=pieces(data, cut_at=MIB))
    assert rows(docs) == 0
    # kill -9 in the middle: the pending row stays, invisible, until the retention job removes it.
    docs.conn.execute(
        "INSERT INTO case_documents (call_id, doc_id, name, mime, size, sha256, key_id, nonce, ciphertext,"
        " saved_by, saved_at, pending) VALUES ('c1', 'd9', '', 'image/png', 5, '', 'k1', x'00', zeroblob(21),"
        " 'hanako', ?, 1)",
        (docs.clock() - 7200,),
    )
    assert docs.list("c1") == [] and rows(docs) == 1
    with pytest.raises(DocumentError, match="no document"):
        docs.read("c1", "d9")
    assert docs.purge(retention_days=30) == 1 and rows(docs) == 0


def test_uploads_are_capped_per_session_and_in_all():
    slots = UploadSlots(per_session=2, total=3)
    with slots.take("a"), slots.take("a"):
        with pytest.raises(UploadsBusy, match="you are saving 2"):
            slots.take("a").__enter__()
        with slots.take("b"), pytest.raises(UploadsBusy, match="the server is saving 3"):
            slots.take("c").__enter__()
        assert slots.running() == 2
    assert slots.running() == 0


async def test_a_40_mib_upload_through_the_server_holds_a_few_mib(make_server):
    config = test_config().model_copy(
        update={"documents": DocumentsConfig(keys={"k1": new_key()}, current_key="k1")}
    )
    data = os.urandom(40 * MIB)
    async with make_server(config) as server:
        tokens = server.fleet.kiosk_tokens
        kiosk, officer, call_id = await call_in_progress(
            server.url, "kiosk-ueda", tokens["kiosk-ueda"], "hanako", PASSWORD
        )
        headers = {
            "Authorization": f"Bearer {officer.seen[0].session_token}",
            "Content-Type": "application/pdf",
            "X-Content-SHA256": hashlib.sha256(data).hexdigest(),
        }
        url = f"{server.http_url}/api/cases/{call_id}/documents/plans"
        tracemalloc.start()
        try:
            async with aiohttp.ClientSession() as http:
                # The client streams too (a generator body), so the peak measured is the server's.
                headers["Content-Length"] = str(len(data))
                async with http.put(url, data=pieces(data), headers=headers) as resp:
                    assert resp.status == 201, await resp.text()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # Read whole it was the body plus its ciphertext plus the row: > 80 MiB. Streamed: a write buffer.
        assert peak < 8 * MIB, peak
        _, back = server.app[DOCUMENTS].read(call_id, "plans")
        assert back == data
        for client in (kiosk, officer):
            await client.close()
