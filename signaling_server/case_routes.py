"""REST for documents saved to a case (see signaling_server.case_documents).

Each route declares the staff roles it admits and its scope (``signaling_server.access``), which looks the
case up and decides, by ``signaling_server.policy``, whether the signed-in member of staff may reach it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from remote_call.protocol import Role
from remote_call.tasks import cancel_and_wait
from signaling_server.access import (
    CASE,
    PRINCIPAL,
    SAFE_ID,
    Refusal,
    Scope,
    add_routes,
    requires,
    text_error,
)
from signaling_server.appkeys import CONFIG, STORE, SWITCHBOARD
from signaling_server.audit import DetailValue
from signaling_server.auth import Principal
from signaling_server.case_documents import MAX_BYTES, CaseDocuments, DocumentError, parse_key
from signaling_server.case_uploads import UploadsBusy, UploadSlots, save_streamed

log = logging.getLogger(__name__)

DOCUMENTS = web.AppKey("case_documents", CaseDocuments)
UPLOADS = web.AppKey("case_uploads", UploadSlots)  # uploads in progress, capped (case_uploads.py)
MIME_TYPES = {"image/png", "image/jpeg", "application/pdf"}
PURGE_EVERY_S = 3600.0

routes = web.RouteTableDef()
SIGN_IN = Refusal(
    text_error,
    "sign in (Authorization: Bearer <session token>)",
    "officers and supervisors only: interpreters see what is shown in the call, not saved case documents;"
    " IT administrators never read residents' documents",
)
CASE_READERS = frozenset({Role.OFFICER, Role.SUPERVISOR})


def setup_case_documents(app: web.Application, *, readable: bool = True) -> None:
    """``readable`` False (the internet-side profile): officers may save a business's documents to its
    case, for the export to the LGWAN side, but no route reads a case back on that instance."""
    app[UPLOADS] = UploadSlots()
    add_routes(app, [r for r in routes if readable or getattr(r, "method", "") == "PUT"])
    app.cleanup_ctx.append(_documents_ctx)


async def _documents_ctx(app: web.Application):
    config = app[CONFIG].documents
    purge: asyncio.Task | None = None
    if config.current_key is not None:
        keys = {key_id: parse_key(text) for key_id, text in config.keys.items()}
        documents = CaseDocuments(app[STORE].conn, keys, config.current_key)
        app[DOCUMENTS] = documents
        purge = asyncio.create_task(
            _retention(app, documents, config.retention_days), name="document-retention"
        )
    yield
    if purge is not None:
        await cancel_and_wait(purge)


async def _retention(app: web.Application, documents: CaseDocuments, days: float) -> None:
    while True:
        removed = documents.purge(days)
        if removed:
            log.info("retention: removed %d case documents older than %g days", removed, days)
            app[SWITCHBOARD].audit.append("retention", "documents_purged", "", {"count": removed})
        await asyncio.sleep(PURGE_EVERY_S)  # a periodic job, not synchronisation


def _documents(request: web.Request) -> CaseDocuments:
    documents = request.app.get(DOCUMENTS)
    if documents is None:
        raise web.HTTPServiceUnavailable(text="document storage is not configured ([documents] keys)")
    return documents


# Who reaches which case is declared on each route (``scope=``) and decided in one place
# (``access.authorise_case`` with ``policy``): the officer who handled the call saves within a day and reads;
# supervisors of the call's department read; IT administrators never do. Each handler only hands the signed-in
# member of staff and the case to a plain function below (which mutation testing reaches; it skips decorated
# functions).
@routes.get("/api/cases/{call_id}/documents")
@requires(roles=CASE_READERS, refusal=SIGN_IN, scope=Scope.CASE_READ)
async def list_documents(request: web.Request) -> web.Response:
    return web.json_response(document_list(_documents(request), request[CASE].call_id))


@routes.put("/api/cases/{call_id}/documents/{doc_id}")
@requires(roles=CASE_READERS, refusal=SIGN_IN, scope=Scope.CASE_SAVE)
async def save_document(request: web.Request) -> web.Response:
    return await save_upload(request, request[PRINCIPAL], request[CASE].call_id)


@routes.get("/api/cases/{call_id}/documents/{doc_id}")
@requires(roles=CASE_READERS, refusal=SIGN_IN, scope=Scope.CASE_READ)
async def read_document(request: web.Request) -> web.Response:
    return open_document(request, request[PRINCIPAL], request[CASE].call_id)


def document_list(documents: CaseDocuments, call_id: str) -> list[dict[str, Any]]:
    """What a case's listing shows of each document (never its content)."""
    return [
        {
            "doc_id": d.doc_id,
            "name": d.name,
            "mime": d.mime,
            "size": d.size,
            "sha256": d.sha256,
            "saved_by": d.saved_by,
            "saved_at": d.saved_at,
        }
        for d in documents.list(call_id)
    ]


@dataclass(frozen=True, slots=True)
class Upload:
    """What a PUT announces of the document it carries, checked before a byte of the body is read."""

    doc_id: str
    mime: str
    sha256: str
    name: str
    size: int


def announced(request: web.Request) -> Upload:
    """The upload's id, type, digest, name and size, or the HTTP error saying what is missing or wrong."""
    doc_id = request.match_info["doc_id"]
    mime = request.content_type
    sha256 = request.headers.get("X-Content-SHA256", "")
    name = urllib.parse.unquote(request.headers.get("X-Document-Name", ""))[:200]
    if not SAFE_ID.match(doc_id) or mime not in MIME_TYPES or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise web.HTTPBadRequest(text="need a document id, a PNG/JPEG/PDF content type and X-Content-SHA256")
    size = request.content_length
    if size is None:  # the body is streamed into a row sized in advance: its length must be known
        raise web.HTTPLengthRequired(text="send Content-Length: uploads are saved as they arrive")
    if size > MAX_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BYTES, actual_size=size)
    return Upload(doc_id=doc_id, mime=mime, sha256=sha256, name=name, size=size)


async def save_upload(request: web.Request, staff: Principal, call_id: str) -> web.Response:
    """``staff`` saves the request's body to the case ``call_id`` as it arrives; audited without its name."""
    documents = _documents(request)
    upload = announced(request)
    try:
        with request.app[UPLOADS].take(staff.session_token or staff.identity):
            saved = await save_streamed(
                documents,
                request.content.iter_chunked(1 << 16),
                call_id=call_id,
                doc_id=upload.doc_id,
                name=upload.name,
                mime=upload.mime,
                size=upload.size,
                sha256=upload.sha256,
                saved_by=staff.identity,
            )
    except UploadsBusy as busy:
        headers = {"Retry-After": str(busy.retry_after_s)}
        raise web.HTTPServiceUnavailable(text=str(busy), headers=headers) from None
    except DocumentError as exc:
        raise web.HTTPUnprocessableEntity(text=str(exc)) from None
    # Never the document's name in the audit log: it is personal data.
    details: dict[str, DetailValue] = {"doc_id": upload.doc_id, "sha256": saved.sha256, "size": saved.size}
    request.app[SWITCHBOARD].audit.append(staff.identity, "document_saved", call_id, details)
    return web.json_response({"call_id": call_id, "doc_id": upload.doc_id, "size": saved.size}, status=201)


def open_document(request: web.Request, staff: Principal, call_id: str) -> web.Response:
    """The document named by the request, for ``staff`` reading the case ``call_id``; audited."""
    try:
        meta, data = _documents(request).read(call_id, request.match_info["doc_id"])
    except DocumentError as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    request.app[SWITCHBOARD].audit.append(
        staff.identity, "document_opened", call_id, {"doc_id": meta.doc_id, "sha256": meta.sha256}
    )
    return web.Response(
        body=data,
        content_type=meta.mime,
        headers={"Cache-Control": "no-store", "X-Content-SHA256": meta.sha256},
    )
