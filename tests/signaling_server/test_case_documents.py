"""Documents saved to a case: encrypted at rest, bound to their case, audited, purged after retention."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sqlite3
import time

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from config.schema import DocumentsConfig
from remote_call import protocol as p
from remote_call.protocol import Role
from signaling_server.access import Scope, authorise_case
from signaling_server.appkeys import STORE
from signaling_server.auth import Principal, hash_password
from signaling_server.case_documents import MAX_BYTES, CaseDocuments, DocumentError, new_key, parse_key
from signaling_server.case_routes import DOCUMENTS, _documents
from signaling_server.case_uploads import save_streamed
from signaling_server.store import CallRecord, Store
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
        server.store.add_officer(
            "boss", "係長", "supervisor", hash_password(PASSWORD), {"kosodate": "primary"}
        )
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


# ------------------------------------------------------------------ which case a member of staff may touch

DAY = 24 * 3600


def case_request(call_id: str, *, ended_ago: float | None = None, officer: str = "hanako") -> web.Request:
    """A request for ``call_id`` on an app whose store holds one call, handled by ``officer``."""
    store = Store(":memory:")
    now = time.time()
    store.save_call(
        CallRecord(
            call_id="c-1",
            kiosk_id="kiosk-ueda",
            department="kosodate",
            procedure=None,
            language="ja",
            state="ended" if ended_ago is not None else "in_call",
            created_at=now - 7 * DAY,
            officer=officer,
            ended_at=None if ended_ago is None else now - ended_ago,
        )
    )
    app = web.Application()
    app[STORE] = store
    return make_mocked_request(
        "PUT", f"/api/cases/{call_id}/documents/d1", match_info={"call_id": call_id}, app=app
    )


def staff(role: Role, identity: str = "hanako", skills: dict[str, str] | None = None) -> Principal:
    return Principal(role, identity, identity, skills or {}, "session")


def _case(request: web.Request, who: Principal, *, writing: bool) -> str:
    """The case the request may reach (``access.authorise_case``), by its id."""
    return authorise_case(request, who, Scope.CASE_SAVE if writing else Scope.CASE_READ).call_id


def refusal(request: web.Request, who: Principal, *, writing: bool) -> tuple[int, str]:
    with pytest.raises(web.HTTPException) as refused:
        _case(request, who, writing=writing)
    return refused.value.status, refused.value.text or ""


WRITE_REFUSED = (403, "only the officer who handled the call saves its documents, within a day")


def test_the_officer_of_the_call_saves_during_it_and_for_a_day_after() -> None:
    officer = staff(Role.OFFICER)
    assert _case(case_request("c-1"), officer, writing=True) == "c-1"
    assert _case(case_request("c-1", ended_ago=DAY - 60), officer, writing=True) == "c-1"
    assert refusal(case_request("c-1", ended_ago=DAY + 60), officer, writing=True) == WRITE_REFUSED
    assert _case(case_request("c-1", ended_ago=30 * DAY), officer, writing=False) == "c-1"  # reads on


@pytest.mark.parametrize(
    "who", [staff(Role.OFFICER, "jiro"), staff(Role.SUPERVISOR), staff(Role.IT_ADMIN), staff(Role.KIOSK)]
)
def test_nobody_else_saves_to_a_case(who: Principal) -> None:
    assert refusal(case_request("c-1"), who, writing=True) == WRITE_REFUSED


def test_supervisors_of_the_calls_department_read_it_it_administrators_and_others_never() -> None:
    boss = staff(Role.SUPERVISOR, "sato", {"kosodate": "primary"})
    assert _case(case_request("c-1"), boss, writing=False) == "c-1"
    elsewhere = staff(Role.SUPERVISOR, "kato", {"kenko-hoken": "primary"})
    assert refusal(case_request("c-1"), elsewhere, writing=False) == (403, "not your case")
    admin = staff(Role.IT_ADMIN, "sato", {"kosodate": "primary"})  # skills give an IT admin nothing
    assert refusal(case_request("c-1"), admin, writing=False) == (403, "not your case")
    assert refusal(case_request("c-1"), staff(Role.OFFICER, "jiro"), writing=False) == (403, "not your case")
    # A supervisor who happens to share the officer's name is not that officer.
    assert refusal(case_request("c-1"), staff(Role.SUPERVISOR), writing=True) == WRITE_REFUSED


@pytest.mark.parametrize("call_id", ["", "c 1", "c/1", "ケース", "x" * 41])
def test_a_case_id_that_cannot_be_one_is_refused_before_any_look_up(call_id: str) -> None:
    assert refusal(case_request(call_id), staff(Role.OFFICER), writing=False) == (400, "bad case id")


def test_a_case_that_does_not_exist() -> None:
    assert refusal(case_request("x" * 40), staff(Role.OFFICER), writing=False) == (404, "no such case")
    assert refusal(case_request("c-2_B"), staff(Role.OFFICER), writing=True) == (404, "no such case")


def test_documents_without_configured_keys_are_unavailable() -> None:
    request = case_request("c-1")
    with pytest.raises(web.HTTPServiceUnavailable) as refused:
        _documents(request)
    assert refused.value.text == "document storage is not configured ([documents] keys)"
    request.app[DOCUMENTS] = docs = store_with()
    assert _documents(request) is docs


async def test_retention_purges_old_documents_at_start_and_audits_the_count(make_server) -> None:
    config = test_config().model_copy(
        update={"documents": DocumentsConfig(keys={"k1": new_key()}, current_key="k1", retention_days=30)}
    )
    server = make_server(config)
    keys = {"k1": parse_key(config.documents.keys["k1"])}
    long_ago = CaseDocuments(server.store.conn, keys, "k1", clock=lambda: time.time() - 31 * DAY)
    for doc_id in ("old1", "old2"):
        long_ago.save(
            call_id="c1", doc_id=doc_id, name="", mime="image/png", data=PNG,
            sha256=hashlib.sha256(PNG).hexdigest(), saved_by="hanako",
        )  # fmt: skip
    async with server:
        audit = server.switchboard.audit

        async def purged() -> list:
            while not (entries := audit.entries(action="documents_purged")):
                await asyncio.sleep(0)  # the purge task's first round runs as the server starts
            return entries

        (entry,) = await asyncio.wait_for(purged(), 20)
        assert CaseDocuments(server.store.conn, keys, "k1").list("c1") == []
    assert (entry.actor, entry.target, entry.details) == ("retention", "", {"count": 2})


def test_every_document_is_sealed_under_a_fresh_96_bit_nonce():
    old, fresh = new_key(), new_key()
    docs = store_with(old=old)
    for doc_id in ("d1", "d2"):
        docs.save(
            call_id="c1", doc_id=doc_id, name="", mime="image/png", data=PNG,
            sha256=hashlib.sha256(PNG).hexdigest(), saved_by="hanako",
        )  # fmt: skip
    rotated = CaseDocuments(docs.conn, {"old": parse_key(old), "new": parse_key(fresh)}, "new")
    before = {row[0] for row in docs.conn.execute("SELECT nonce FROM case_documents")}
    assert rotated.rekey() == 2
    after = {row[0] for row in docs.conn.execute("SELECT nonce FROM case_documents")}
    assert {len(nonce) for nonce in before | after} == {12} and len(before | after) == 4


def test_a_document_under_a_key_no_longer_configured_says_so():
    old = new_key()
    docs = store_with(old=old)
    docs.save(
        call_id="c1", doc_id="d1", name="", mime="image/png", data=PNG,
        sha256=hashlib.sha256(PNG).hexdigest(), saved_by="hanako",
    )  # fmt: skip
    only_new = CaseDocuments(docs.conn, {"new": parse_key(new_key())}, "new")
    with pytest.raises(DocumentError) as refused:
        only_new.read("c1", "d1")
    assert str(refused.value) == "document 'd1' was encrypted with key 'old', which is no longer configured"


def test_a_key_with_a_stray_character_is_not_base64():
    key = new_key()
    for text in (key[:10] + "!" + key[10:], "not base64 at all"):
        with pytest.raises(DocumentError) as refused:
            parse_key(text)
        assert str(refused.value) == "the document key is not valid base64"


def test_the_current_key_must_be_configured():
    with pytest.raises(DocumentError) as refused:
        CaseDocuments(sqlite3.connect(":memory:"), {"k1": parse_key(new_key())}, "k2")
    assert str(refused.value) == "the current document key 'k2' is not among the configured keys"


def test_a_document_is_1_byte_to_40_mib_and_must_match_its_digest():
    docs = store_with()
    for data in (b"", bytes(MAX_BYTES + 1)):
        with pytest.raises(DocumentError) as refused:
            docs.save(
                call_id="c1", doc_id="d", name="", mime="image/png", data=data,
                sha256=hashlib.sha256(data).hexdigest(), saved_by="hanako",
            )  # fmt: skip
        assert str(refused.value) == "a document must be 1 byte to 40 MiB"
    with pytest.raises(DocumentError) as refused:
        docs.save(
            call_id="c1", doc_id="d", name="", mime="image/png", data=PNG, sha256="0" * 64, saved_by="x"
        )
    assert str(refused.value) == "the SHA-256 does not match the uploaded bytes: nothing was saved"
    largest = bytes(MAX_BYTES)
    saved = docs.save(
        call_id="c1", doc_id="big", name="", mime="application/pdf", data=largest,
        sha256=hashlib.sha256(largest).hexdigest(), saved_by="hanako",
    )  # fmt: skip
    assert saved.size == MAX_BYTES


def test_what_save_returns_is_what_is_listed_with_the_name_cut_at_200():
    docs = store_with()
    sha = hashlib.sha256(PNG).hexdigest()
    saved = docs.save(
        call_id="c1", doc_id="scan1", name="あ" * 250, mime="image/png", data=PNG,
        sha256=sha.upper(), saved_by="hanako",
    )  # fmt: skip
    assert docs.list("c1") == [saved]
    assert (saved.call_id, saved.doc_id, saved.mime, saved.saved_by, saved.sha256) == (
        "c1", "scan1", "image/png", "hanako", sha,
    )  # fmt: skip
    assert saved.name == "あ" * 200 and saved.saved_at == 1000.0


def test_a_document_is_saved_to_a_case_once():
    docs = store_with()
    document = {
        "call_id": "c1", "doc_id": "scan1", "name": "", "mime": "image/png", "data": PNG,
        "sha256": hashlib.sha256(PNG).hexdigest(), "saved_by": "hanako",
    }  # fmt: skip
    docs.save(**document)
    with pytest.raises(DocumentError) as refused:
        docs.save(**document)
    assert str(refused.value) == "document 'scan1' is already saved to this case"
    assert [d.doc_id for d in docs.list("c1")] == ["scan1"]


def test_retention_purges_a_document_half_a_second_past_its_period():
    now = [1_000_000.0]
    docs = store_with(clock=lambda: now[0])
    docs.save(
        call_id="c1", doc_id="d", name="", mime="image/png", data=PNG,
        sha256=hashlib.sha256(PNG).hexdigest(), saved_by="hanako",
    )  # fmt: skip
    now[0] += 86_400.5  # a day and half a second later
    assert docs.purge(retention_days=1) == 1


def test_a_listing_under_a_key_no_longer_configured_names_the_document_whose_name_is_sealed():
    docs = store_with(old=new_key())
    docs.save(
        call_id="c1", doc_id="d1", name="住民票.png", mime="image/png", data=PNG,
        sha256=hashlib.sha256(PNG).hexdigest(), saved_by="hanako",
    )  # fmt: skip
    only_new = CaseDocuments(docs.conn, {"new": parse_key(new_key())}, "new")
    with pytest.raises(DocumentError) as refused:
        only_new.list("c1")
    assert str(refused.value) == "the name of document 'd1' cannot be decrypted"


async def test_an_upload_cut_off_is_purged_an_hour_after_it_started_not_before():
    now = [1000.0]
    docs = store_with(clock=lambda: now[0])
    asked, never = asyncio.Event(), asyncio.Event()

    async def stalled():  # the uploader's connection hangs after the headers (then the server is killed)
        asked.set()
        await never.wait()
        yield PNG

    sha = hashlib.sha256(PNG).hexdigest()
    fields = {"call_id": "c1", "doc_id": "d1", "name": "", "mime": "image/png", "sha256": sha}
    upload = asyncio.create_task(save_streamed(docs, stalled(), size=len(PNG), saved_by="hanako", **fields))
    try:
        await asyncio.wait_for(asked.wait(), 20)  # its row is reserved, pending
        now[0] += 3600  # STALE_UPLOAD_S: not yet
        assert docs.purge(retention_days=30) == 0
        now[0] += 0.5
        assert docs.purge(retention_days=30) == 1
        assert docs.conn.execute("SELECT COUNT(*) FROM case_documents").fetchone()[0] == 0
    finally:
        upload.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await upload
