"""The case-document REST handlers' own work, pinned where ``./run-mutation case_documents`` found it
unchecked: what an upload must announce (``announced``), what a listing shows, what is audited and returned
on a save and a read, and the upload caps kept per staff session.

Who may reach a case is ``requires``'s and ``access``'s (``test_case_documents.py`` goes through the whole
server); here the plain functions the handlers call are served by a small aiohttp app on 127.0.0.1 with the
real document store, upload slots and switchboard audit log."""

from __future__ import annotations

import hashlib
import os
import urllib.parse
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request

from remote_call.protocol import Role
from signaling_server.appkeys import SWITCHBOARD
from signaling_server.auth import Principal
from signaling_server.case_documents import MAX_BYTES, CaseDocuments, new_key, parse_key
from signaling_server.case_routes import (
    DOCUMENTS,
    UPLOADS,
    Upload,
    announced,
    document_list,
    open_document,
    save_upload,
    setup_case_documents,
)
from signaling_server.case_uploads import UploadSlots
from signaling_server.store import Store
from signaling_server.switchboard import Switchboard
from signaling_server.testing import test_config

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)
SHA = hashlib.sha256(PNG).hexdigest()
SAVED_AT = 1_800_000_000.0


def put(doc_id: str = "scan1", **headers: str) -> web.Request:
    """A PUT as the route receives it (no body is read by ``announced``)."""
    sent = {"Content-Type": "image/png", "X-Content-SHA256": SHA, "Content-Length": str(len(PNG))}
    sent.update({k.replace("_", "-"): v for k, v in headers.items()})
    return make_mocked_request(
        "PUT", f"/api/cases/c-1/documents/{doc_id}", headers=sent, match_info={"doc_id": doc_id}
    )


def refused(request: web.Request) -> tuple[int, str]:
    with pytest.raises(web.HTTPException) as caught:
        announced(request)
    return caught.value.status, caught.value.text or ""


BAD_REQUEST = (400, "need a document id, a PNG/JPEG/PDF content type and X-Content-SHA256")


def test_an_upload_announces_its_id_type_digest_name_and_size() -> None:
    name = urllib.parse.quote("住民票の写し.png")
    assert announced(put(X_Document_Name=name)) == Upload(
        doc_id="scan1", mime="image/png", sha256=SHA, name="住民票の写し.png", size=len(PNG)
    )
    assert announced(put("d-2_x", Content_Type="application/pdf")).mime == "application/pdf"
    assert announced(put(X_Content_SHA256=SHA.upper())).sha256 == SHA.upper()


def test_an_upload_without_a_name_has_none_and_a_long_one_is_cut_at_200() -> None:
    assert announced(put()).name == ""
    assert announced(put(X_Document_Name="a" * 250)).name == "a" * 200


@pytest.mark.parametrize(
    "request_",
    [
        put("scan.1"),  # a document id that cannot be one
        put("x" * 41),
        put(Content_Type="image/gif"),
        put(Content_Type="text/plain"),
        put(X_Content_SHA256=SHA[:63]),
        put(X_Content_SHA256=SHA + "0"),
        put(X_Content_SHA256="g" * 64),
        make_mocked_request(  # no digest at all
            "PUT",
            "/api/cases/c-1/documents/scan1",
            headers={"Content-Type": "image/png", "Content-Length": "10"},
            match_info={"doc_id": "scan1"},
        ),
    ],
)
def test_each_thing_an_upload_must_announce_is_checked_alone(request_: web.Request) -> None:
    assert refused(request_) == BAD_REQUEST


def test_an_upload_of_unknown_length_is_refused_before_its_body() -> None:
    request = make_mocked_request(
        "PUT",
        "/api/cases/c-1/documents/scan1",
        headers={"Content-Type": "image/png", "X-Content-SHA256": SHA},
        match_info={"doc_id": "scan1"},
    )
    assert refused(request) == (411, "send Content-Length: uploads are saved as they arrive")


def test_an_upload_may_be_40_mib_and_not_a_byte_more() -> None:
    assert announced(put(Content_Length=str(MAX_BYTES))).size == MAX_BYTES
    status, text = refused(put(Content_Length=str(MAX_BYTES + 1)))
    assert (status, text) == (413, f"Maximum request body size {MAX_BYTES} exceeded.")


# ------------------------------------------------------------------ over HTTP


class Routes:
    """The three functions behind a small app on 127.0.0.1; the member of staff comes from the path."""

    def __init__(self, slots: UploadSlots) -> None:
        self.store = Store(":memory:")
        self.board = Switchboard(test_config(), self.store)
        clock = lambda: SAVED_AT  # noqa: E731 — the documents' clock
        self.documents = CaseDocuments(self.store.conn, {"k1": parse_key(new_key())}, "k1", clock=clock)
        app = web.Application()
        app[DOCUMENTS] = self.documents
        app[UPLOADS] = slots
        app[SWITCHBOARD] = self.board
        base = "/{session}/cases/{call_id}/documents"
        app.router.add_put(base + "/{doc_id}", self._save)
        app.router.add_get(base + "/{doc_id}", self._read)
        app.router.add_get(base, self._list)
        self.app = app

    @staticmethod
    def staff(request: web.Request) -> Principal:
        session = request.match_info["session"]
        return Principal(Role.OFFICER, "hanako", "花子", {"kosodate": "primary"}, session)

    async def _save(self, request: web.Request) -> web.Response:
        return await save_upload(request, self.staff(request), request.match_info["call_id"])

    async def _read(self, request: web.Request) -> web.Response:
        return open_document(request, self.staff(request), request.match_info["call_id"])

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response(document_list(self.documents, request.match_info["call_id"]))


@pytest.fixture
async def routes() -> AsyncIterator[tuple[Routes, aiohttp.ClientSession, str]]:
    served = Routes(UploadSlots(per_session=1, total=8))
    server = TestServer(served.app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield served, http, str(server.make_url("/session-a/cases/c-1/documents"))
    finally:
        await server.close()
        served.store.close()


HEADERS = {"Content-Type": "image/png", "X-Content-SHA256": SHA, "X-Document-Name": "%E4%BD%8F%E6%B0%91"}


async def test_a_save_is_answered_audited_listed_and_read_back(routes) -> None:
    served, http, url = routes
    async with http.put(f"{url}/scan1", data=PNG, headers=HEADERS) as resp:
        assert (resp.status, await resp.json()) == (
            201,
            {"call_id": "c-1", "doc_id": "scan1", "size": len(PNG)},
        )
    (saved,) = served.board.audit.entries(action="document_saved")
    assert (saved.actor, saved.target, saved.details) == (
        "hanako", "c-1", {"doc_id": "scan1", "sha256": SHA, "size": len(PNG)},
    )  # fmt: skip
    async with http.get(url) as resp:
        assert await resp.json() == [
            {
                "doc_id": "scan1",
                "name": "住民",
                "mime": "image/png",
                "size": len(PNG),
                "sha256": SHA,
                "saved_by": "hanako",
                "saved_at": SAVED_AT,
            }
        ]
    async with http.get(f"{url}/scan1") as resp:
        assert resp.status == 200 and await resp.read() == PNG
        assert resp.content_type == "image/png"
        assert (resp.headers["Cache-Control"], resp.headers["X-Content-SHA256"]) == ("no-store", SHA)
    (opened,) = served.board.audit.entries(action="document_opened")
    assert (opened.actor, opened.target, opened.details) == (
        "hanako",
        "c-1",
        {"doc_id": "scan1", "sha256": SHA},
    )


async def test_a_document_that_fails_its_digest_or_is_missing_is_refused_by_name(routes) -> None:
    served, http, url = routes
    async with http.put(f"{url}/scan1", data=PNG + b"x", headers=HEADERS) as resp:
        assert (resp.status, await resp.text()) == (
            422, "the SHA-256 does not match the uploaded bytes: nothing was saved",
        )  # fmt: skip
    async with http.get(f"{url}/scan1") as resp:
        assert (resp.status, await resp.text()) == (404, "no document 'scan1' in case 'c-1'")
    assert served.board.audit.entries(action="document_saved") == []
    assert served.board.audit.entries(action="document_opened") == []


async def test_uploads_are_capped_per_staff_session_not_per_officer(routes) -> None:
    served, http, url = routes
    slots = served.app[UPLOADS]
    with slots.take("hanako"):  # the officer's name is not what is counted
        async with http.put(f"{url}/scan1", data=PNG, headers=HEADERS) as resp:
            assert resp.status == 201
    with slots.take("session-a"):  # this session's one upload is running
        async with http.put(f"{url}/scan2", data=PNG, headers=HEADERS) as resp:
            assert resp.status == 503 and resp.headers["Retry-After"] == "5"
            assert await resp.text() == "you are saving 1 documents already; wait for them to finish"
    assert [d["doc_id"] for d in document_list(served.documents, "c-1")] == ["scan1"]


# ------------------------------------------------------------------ which routes an instance serves


def served_routes(app: web.Application) -> list[tuple[str, str]]:
    return sorted((r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None)


def test_the_internet_side_profile_saves_to_cases_but_reads_none_back() -> None:
    everything, internet_side = web.Application(), web.Application()
    setup_case_documents(everything)
    setup_case_documents(internet_side, readable=False)
    case = "/api/cases/{call_id}/documents"
    assert served_routes(internet_side) == [("PUT", case + "/{doc_id}")]
    assert served_routes(everything) == [
        ("GET", case), ("GET", case + "/{doc_id}"), ("HEAD", case), ("HEAD", case + "/{doc_id}"),
        ("PUT", case + "/{doc_id}"),
    ]  # fmt: skip
