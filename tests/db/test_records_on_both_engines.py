"""Every module's records on both engines (SQLite and PostgreSQL), through the modules' own APIs: the store
(accounts, tokens, sessions, calls, parties, the queue), business invitations, case documents saved whole
and streamed, call quality."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest

from remote_call.protocol import CallQuality
from signaling_server.business.invitations import InvitationBook, InvitationRequest, Redeemed, RedeemRefused
from signaling_server.call_quality import CallQualityLog
from signaling_server.case_documents import CaseDocuments, DocumentError, new_key, parse_key
from signaling_server.case_uploads import WRITE_BYTES, save_streamed
from signaling_server.store import CallRecord, Store

TZ = ZoneInfo("Asia/Tokyo")
NOW = 1_800_000_000.0


@pytest.fixture
def store(database_target: str):
    store = Store(database_target)
    yield store
    store.close()


def test_accounts_tokens_and_sessions(store: Store) -> None:
    store.add_officer("hanako", "盛岡 花子", "officer", "hash", {"kosodate": "primary"})
    with pytest.raises(ValueError, match="already exists"):
        store.add_officer("hanako", "別人", "officer", "hash", {})
    assert store.officer("hanako").skills == {"kosodate": "primary"} and not store.officer("hanako").disabled
    assert store.set_disabled("hanako", True) and store.officer("hanako").disabled
    store.set_kiosk_token("kiosk-ueda", "h1")
    store.set_kiosk_token("kiosk-ueda", "h2")  # re-issued: the upsert replaces it
    assert store.kiosk_token_hash("kiosk-ueda") == "h2"
    assert store.revoke_kiosk_token("kiosk-ueda") and store.kiosk_token_hash("kiosk-ueda") is None
    store.add_session("s1", "hanako", NOW + 60)
    store.add_session("s2", "hanako", NOW - 1)
    assert store.session_user("s1", NOW) == "hanako" and store.session_user("s2", NOW) is None
    store.purge_sessions(NOW)
    assert store.end_sessions("hanako") == 1


def test_call_records_parties_and_the_queue(store: Store) -> None:
    record = CallRecord("c1", "kiosk-ueda", "kosodate", "児童手当", "ja", "ringing", NOW)
    store.save_call(record)
    record.state, record.officer, record.answered_at, record.ended_at = "ended", "hanako", NOW + 5, NOW + 65
    store.save_call(record)  # the same call again: updated in place
    assert store.call("c1") == record
    assert store.record_outcome("c1", "resolved", "手続き完了") and not store.record_outcome("c1", "x", None)
    assert store.rate_call("c1", 5) and not store.rate_call("c1", 1)
    store.save_call(CallRecord("c2", "biz-1", "kosodate", None, "ja", "queued", NOW + 1, business='{"c": 1}'))
    assert [c.call_id for c in store.calls(since=NOW)] == ["c1", "c2"]
    assert [c.call_id for c in store.calls(state="queued")] == ["c2"]
    assert [c.call_id for c in store.business_calls(caller="biz-1")] == ["c2"]
    first = store.party_joined("c1", "interpreter", "tran", "vi", NOW + 10)
    second = store.party_joined("c1", "interpreter", "kim", "ko", NOW + 12)
    assert second > first > 0
    store.party_left(first, NOW + 30)
    assert [p["username"] for p in store.open_parties()] == ["kim"]
    assert store.close_open_parties(NOW + 40) == 1
    assert [(p["username"], p["left_at"]) for p in store.call_parties("c1")] == [
        ("tran", NOW + 30),
        ("kim", NOW + 40),
    ]
    assert store.load_queue() is None
    store.save_queue({"waiting": ["c2"], "名前": "盛岡"})
    store.save_queue({"waiting": ["c2", "c3"]})
    assert store.load_queue() == {"waiting": ["c2", "c3"]}


def test_an_invitation_is_redeemed_once_with_its_code(store: Store) -> None:
    book = InvitationBook(store, clock=lambda: NOW)
    request = InvitationRequest(
        department="kosodate",
        company="盛岡建設",
        contact_name="岩手 太郎",
        email="taro@example.jp",
        second_factor=True,
    )
    invitation, secret = book.create(
        request,
        created_by="hanako",
        timezone=TZ,
        link_ttl_s=3600,
        max_window_s=86400,
        second_factor_default=False,
    )
    assert book.get(invitation.invitation_id) == invitation and book.status(invitation) == "pending"
    asked = book.redeem(secret, None)
    assert isinstance(asked, RedeemRefused) and asked.code is not None
    wrong = book.redeem(secret, "000000" if asked.code != "000000" else "111111")
    assert isinstance(wrong, RedeemRefused) and wrong.tries_left == 4
    redeemed = book.redeem(secret, asked.code)
    assert isinstance(redeemed, Redeemed)
    assert book.session(redeemed.session_token).invitation_id == invitation.invitation_id
    assert isinstance(book.redeem(secret, asked.code), RedeemRefused)  # once only
    book.mail_result(invitation.invitation_id, None)
    assert [i.emailed for i in book.for_departments(["kosodate"])] == [True]
    assert book.revoke(invitation.invitation_id, "sato").revoked_by == "sato"
    assert book.session(redeemed.session_token) is None


def test_documents_saved_whole_and_streamed(store: Store) -> None:
    docs = CaseDocuments(store.db, {"k1": parse_key(new_key())}, "k1", clock=lambda: NOW)
    data = os.urandom(5000)
    docs.save(call_id="c1", doc_id="d1", name="申請書.pdf", mime="application/pdf", data=data,
              sha256=hashlib.sha256(data).hexdigest(), saved_by="hanako")  # fmt: skip
    with pytest.raises(DocumentError, match="already saved"):
        docs.save(call_id="c1", doc_id="d1", name="x", mime="image/png", data=data,
                  sha256=hashlib.sha256(data).hexdigest(), saved_by="hanako")  # fmt: skip
    assert docs.read("c1", "d1")[1] == data and docs.read("c1", "d1")[0].name == "申請書.pdf"
    rotated = CaseDocuments(store.db, {"k1": docs.keys["k1"], "k2": parse_key(new_key())}, "k2")
    assert rotated.rekey() == 1 and rotated.read("c1", "d1")[1] == data


async def test_a_streamed_upload_in_several_writes(store: Store) -> None:
    docs = CaseDocuments(store.db, {"k1": parse_key(new_key())}, "k1", clock=lambda: NOW)
    data = os.urandom(2 * WRITE_BYTES + 12345)  # three writes: two full ones and the rest with the tag

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    about = {
        "call_id": "c1",
        "name": "図面.pdf",
        "mime": "application/pdf",
        "size": len(data),
        "saved_by": "hanako",
    }
    saved = await save_streamed(docs, chunks(), doc_id="d2", sha256=hashlib.sha256(data).hexdigest(), **about)
    meta, back = docs.read("c1", "d2")
    assert back == data and meta == saved
    with pytest.raises(DocumentError, match="SHA-256 does not match"):
        await save_streamed(docs, chunks(), doc_id="d3", sha256="0" * 64, **about)
    assert [d.doc_id for d in docs.list("c1")] == ["d2"]
    assert store.db.fetchone("SELECT COUNT(*) FROM case_documents")[0] == 1  # the failed one is gone


def test_call_quality_summaries(store: Store) -> None:
    log = CallQualityLog(store.db)
    for rtt in (40.0, 90.0):
        log.add("kiosk-ueda", "kiosk", CallQuality(call_id="c1", rtt_ms=rtt, loss_in_pct=1.5), NOW)
    log.end("c1")
    summary = CallQualityLog(store.db).summary("c1")  # read back by a new log (a restarted server)
    assert summary["overall"]["samples"] == 2 and summary["overall"]["rtt_max_ms"] == 90.0
