"""Documents saved to a case: encrypted at rest, bound to their case, audited, purged after retention."""

from __future__ import annotations

import hashlib
import os
import sqlite3

import aiohttp
import pytest

from config.schema import DocumentsConfig
from remote_call import protocol as p
from signaling_server.auth import hash_password
from signaling_server.case_documents import CaseDocuments, DocumentError, new_key, parse_key
from signaling_server.testing import WireClient, test_config

PASSWORD = "correct horse battery"
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(5000)


def store_with(clock=lambda: 1000.0, **keys) -> CaseDocuments:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    keys = keys or {"k1": new_key()}
    return CaseDocuments(conn, {k: parse_key(v) for k, v in keys.items()}, next(iter(keys)), clock=clock)


def test_round_trip_and_nothing_in_clear_at_rest():
    docs = store_with()
    docs.save(
        call_id="c1",
        doc_id="scan1",
        name="住民票.png",
        mime="image/png",
        data=PNG,
        sha256=hashlib.sha256(PNG).hexdigest(),
        saved_by="hanako",
    )
    meta, data = docs.read("c1", "scan1")
    assert data == PNG and meta.name == "住民票.png" and meta.size == len(PNG)
    raw = docs.conn.execute("SELECT ciphertext FROM case_documents").fetchone()[0]
    assert PNG[:64] not in raw and PNG[-64:] not in raw


def test_refusals_are_named():
    docs = store_with()
    with pytest.raises(DocumentError, match="SHA-256 does not match"):
        docs.save(
            call_id="c1", doc_id="d", name="", mime="image/png", data=PNG, sha256="0" * 64, saved_by="x"
        )
    with pytest.raises(DocumentError, match="must be 32 bytes"):
        parse_key("c2hvcnQ=")
    with pytest.raises(DocumentError, match="no document"):
        docs.read("c1", "missing")


def test_a_ciphertext_moved_to_another_case_fails_its_check():
    docs = store_with()
    docs.save(
        call_id="c1",
        doc_id="scan1",
        name="",
        mime="image/png",
        data=PNG,
        sha256=hashlib.sha256(PNG).hexdigest(),
        saved_by="hanako",
    )
    docs.conn.execute("UPDATE case_documents SET call_id = 'c2'")
    with pytest.raises(DocumentError, match="integrity check"):
        docs.read("c2", "scan1")


def test_retention_and_key_rotation():
    now = [1000.0]
    old, fresh = new_key(), new_key()
    docs = store_with(clock=lambda: now[0], old=old)
    for i in range(3):
        docs.save(
            call_id="c1",
            doc_id=f"d{i}",
            name="",
            mime="image/png",
            data=PNG + bytes([i]),
            sha256=hashlib.sha256(PNG + bytes([i])).hexdigest(),
            saved_by="hanako",
        )
        now[0] += 86_400 * 10
    rotated = CaseDocuments(
        docs.conn, {"old": parse_key(old), "new": parse_key(fresh)}, "new", clock=lambda: now[0]
    )
    assert rotated.rekey() == 3
    only_new = CaseDocuments(docs.conn, {"new": parse_key(fresh)}, "new", clock=lambda: now[0])
    assert only_new.read("c1", "d2")[1] == PNG + b"\x02"
    assert only_new.purge(retention_days=15) == 2  # d0 (30 days old) and d1 (20 days) go
    assert [d.doc_id for d in only_new.list("c1")] == ["d2"]


async def test_rest_save_read_audit_and_access(make_server):
    config = test_config().model_copy(
        update={"documents": DocumentsConfig(keys={"k1": new_key()}, current_key="k1")}
    )
    async with make_server(config) as server:
        server.store.add_officer("boss", "係長", "supervisor", hash_password(PASSWORD), {})
        k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
        o = await WireClient.officer(server.url, "hanako", PASSWORD)
        other = await WireClient.officer(server.url, "jiro", PASSWORD)
        await other.send(p.SetStatus(status="away", reason="meeting"))
        await other.expect(p.OfficerState, state="away")
        await k.send(p.RequestCall(department="kosodate"))
        offer = await o.expect(p.CallOffer)
        await o.send(p.AcceptCall(call_id=offer.call_id))
        await o.expect(p.CallConnecting)
        url = f"{server.http_url}/api/cases/{offer.call_id}/documents"
        sha = hashlib.sha256(PNG).hexdigest()
        headers = {
            "Content-Type": "image/png",
            "X-Content-SHA256": sha,
            "X-Document-Name": "%E4%BD%8F%E6%B0%91",
        }

        def bearer(client: WireClient) -> dict:
            return {"Authorization": f"Bearer {client.seen[0].session_token}"}

        async with aiohttp.ClientSession() as http:
            async with http.put(f"{url}/scan1", data=PNG, headers=headers) as resp:
                assert resp.status == 401
            async with http.put(f"{url}/scan1", data=PNG, headers={**headers, **bearer(other)}) as resp:
                assert resp.status == 403  # not the officer of this call
            async with http.put(f"{url}/scan1", data=PNG + b"x", headers={**headers, **bearer(o)}) as resp:
                assert resp.status == 422 and "SHA-256" in await resp.text()
            async with http.put(f"{url}/scan1", data=PNG, headers={**headers, **bearer(o)}) as resp:
                assert resp.status == 201
            boss = await WireClient.connect(
                server.url,
                p.Hello(
                    v=1,
                    role=p.Role.SUPERVISOR,
                    credentials=p.PasswordCredentials(username="boss", password=PASSWORD),
                ),
            )
            await boss.expect(p.Welcome)
            async with http.get(url, headers=bearer(boss)) as resp:
                listing = await resp.json()
                assert [d["doc_id"] for d in listing] == ["scan1"] and listing[0]["name"] == "住民"
            async with http.get(f"{url}/scan1", headers=bearer(boss)) as resp:
                assert resp.status == 200 and await resp.read() == PNG
            async with http.get(url, headers=bearer(other)) as resp:
                assert resp.status == 403
        actions = [(e.actor, e.action) for e in server.switchboard.audit.entries()]
        assert ("hanako", "document_saved") in actions and ("boss", "document_opened") in actions
        for c in (k, o, other, boss):
            await c.close()


async def test_rest_without_configured_keys_says_so(server):
    o = await WireClient.officer(server.url, "hanako", PASSWORD)
    async with (
        aiohttp.ClientSession() as http,
        http.put(
            f"{server.http_url}/api/cases/abc/documents/d1",
            data=b"x",
            headers={
                "Authorization": f"Bearer {o.seen[0].session_token}",
                "Content-Type": "image/png",
                "X-Content-SHA256": "0" * 64,
            },
        ) as resp,
    ):
        assert resp.status in (404, 503)
    await o.close()
