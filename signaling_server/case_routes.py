"""REST for documents saved to a case (see signaling_server.case_documents).

Each route declares the staff roles it admits (``signaling_server.access``); which case a signed-in
member of staff may read or write is decided here, per case (``_case``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import urllib.parse

from aiohttp import web

from remote_call.protocol import Role
from signaling_server.access import PRINCIPAL, STAFF, Refusal, add_routes, requires, text_error
from signaling_server.appkeys import CONFIG, STORE, SWITCHBOARD
from signaling_server.auth import Principal
from signaling_server.case_documents import MAX_BYTES, CaseDocuments, DocumentError, parse_key

log = logging.getLogger(__name__)

DOCUMENTS = web.AppKey("case_documents", CaseDocuments)
MIME_TYPES = {"image/png", "image/jpeg", "application/pdf"}
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
UPLOAD_WINDOW_S = 24 * 3600  # an officer may save a call's documents up to a day after it ended
PURGE_EVERY_S = 3600.0

routes = web.RouteTableDef()
SIGN_IN = Refusal(text_error, "sign in (Authorization: Bearer <session token>)")


def setup_case_documents(app: web.Application) -> None:
    add_routes(app, routes)
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
        purge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await purge


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


def _case(request: web.Request, staff: Principal, *, writing: bool) -> str:
    call_id = request.match_info["call_id"]
    if not SAFE_ID.match(call_id):
        raise web.HTTPBadRequest(text="bad case id")
    record = request.app[STORE].call(call_id)
    if record is None:
        raise web.HTTPNotFound(text="no such case")
    handled = staff.role is Role.OFFICER and record.officer == staff.identity
    if writing:
        recent = record.ended_at is None or time.time() - record.ended_at < UPLOAD_WINDOW_S
        if not (handled and recent):
            raise web.HTTPForbidden(
                text="only the officer who handled the call saves its documents, within a day"
            )
    elif not (handled or staff.role in (Role.SUPERVISOR, Role.IT_ADMIN)):
        raise web.HTTPForbidden(text="not your case")
    return call_id


# Every member of staff passes the route; the case decides (_case): today only the officer who handled the
# call saves, and that officer, supervisors and IT administrators read.
@routes.get("/api/cases/{call_id}/documents")
@requires(roles=STAFF, refusal=SIGN_IN)
async def list_documents(request: web.Request) -> web.Response:
    call_id = _case(request, request[PRINCIPAL], writing=False)
    return web.json_response(
        [
            {
                "doc_id": d.doc_id,
                "name": d.name,
                "mime": d.mime,
                "size": d.size,
                "sha256": d.sha256,
                "saved_by": d.saved_by,
                "saved_at": d.saved_at,
            }
            for d in _documents(request).list(call_id)
        ]
    )


@routes.put("/api/cases/{call_id}/documents/{doc_id}")
@requires(roles=STAFF, refusal=SIGN_IN)
async def save_document(request: web.Request) -> web.Response:
    staff = request[PRINCIPAL]
    documents = _documents(request)
    call_id = _case(request, staff, writing=True)
    doc_id = request.match_info["doc_id"]
    mime = request.content_type
    sha256 = request.headers.get("X-Content-SHA256", "")
    name = urllib.parse.unquote(request.headers.get("X-Document-Name", ""))[:200]
    if not SAFE_ID.match(doc_id) or mime not in MIME_TYPES or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise web.HTTPBadRequest(text="need a document id, a PNG/JPEG/PDF content type and X-Content-SHA256")
    if request.content_length is not None and request.content_length > MAX_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BYTES, actual_size=request.content_length)
    body = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > MAX_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BYTES, actual_size=len(body))
    try:
        saved = documents.save(
            call_id=call_id,
            doc_id=doc_id,
            name=name,
            mime=mime,
            data=bytes(body),
            sha256=sha256,
            saved_by=staff.identity,
        )
    except DocumentError as exc:
        raise web.HTTPUnprocessableEntity(text=str(exc)) from None
    request.app[SWITCHBOARD].audit.append(
        staff.identity,
        "document_saved",
        call_id,
        {"doc_id": doc_id, "sha256": saved.sha256, "size": saved.size, "label": saved.name},
    )
    return web.json_response({"call_id": call_id, "doc_id": doc_id, "size": saved.size}, status=201)


@routes.get("/api/cases/{call_id}/documents/{doc_id}")
@requires(roles=STAFF, refusal=SIGN_IN)
async def read_document(request: web.Request) -> web.Response:
    staff = request[PRINCIPAL]
    call_id = _case(request, staff, writing=False)
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
