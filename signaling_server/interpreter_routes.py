"""External interpreters through a browser invitation: the HTTP side (docs/interpreters.md).

- ``POST /api/interpreter-invitations``: a supervisor (Bearer session, same origin) invites an
  interpretation service for some languages (``jsl`` too) and a window; the answer carries the link once;
  with an ``email`` the link is mailed (the business counter's mailer, ``smtp.*``).
- ``GET /api/interpreter-invitations``, ``DELETE /api/interpreter-invitations/{id}``: the list, and revoke
  (the link and the session stop at once: a live interpreter leaves its call and is signed out).
- ``POST /api/interpreters/redeem``: public, same origin, throttled per address; ``{secret}`` →
  ``{session_token, ws_url, service, languages}`` or ``{error, message_ja, message_en}``; audited, never
  the secret.
- ``/i/``: the interpreter's page (``web/interpreter/``), which imports the business client's and the guest
  page's modules (``SHARED``) instead of copying them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import ValidationError

from remote_call.protocol import Role
from remote_call.tasks import cancel_and_wait
from signaling_server.access import PRINCIPAL, Refusal, add_routes, json_error, public, requires
from signaling_server.appkeys import CONFIG, STORE, SWITCHBOARD
from signaling_server.audit import DetailValue
from signaling_server.business.mailer import Mail, Mailer
from signaling_server.business.pages import CAMERA_HEADERS, Page
from signaling_server.business.pages import WEB_DIR as BUSINESS_DIR
from signaling_server.business.shared import origin_of, read_json
from signaling_server.interpreter_invites import (
    InterpreterInvitation,
    InterpreterInvitationBook,
    InterpreterInvitationRequest,
    InterpreterRedeemed,
    InvitationError,
)
from signaling_server.interpreter_invites import (
    Refusal as Reason,
)
from signaling_server.ratelimit import LoginThrottle, address_key

log = logging.getLogger(__name__)

PAGE_DIR = BUSINESS_DIR.parent / "interpreter"
GUEST_DIR = BUSINESS_DIR.parent / "guest"
# Served from the business client's and the guest page's folders under /i/: imported, not copied.
SHARED = {
    **{n: BUSINESS_DIR for n in ("signaling.js", "call.js", "linkpings.js", "documents.js", "ui.js")},
    **{n: BUSINESS_DIR for n in ("devicecheck.js", "style.css", "icon.svg")},
    **{n: GUEST_DIR for n in ("answer.js", "tiles.js", "shown.js", "parties.js", "guest.css")},
}
PAGE = Page("i", PAGE_DIR, shared=SHARED, headers=CAMERA_HEADERS)
WINDOW_CHECK_S = 30.0  # an invitation's window is hours long: its end is kept to half a minute
BOOK = web.AppKey("interpreter_invitations", InterpreterInvitationBook)
THROTTLE = web.AppKey("interpreter_link_throttle", LoginThrottle)
MAILER = web.AppKey("interpreter_mailer", Mailer)
_SUPERVISOR_REFUSAL = Refusal(json_error, "sign in first", "supervisors only")

# reason -> (HTTP status, Japanese, English): what the page shows.
ANSWERS: dict[str, tuple[int, str, str]] = {
    Reason.INVALID: (
        404,
        "このリンクは無効です。市の担当者に新しい招待をお願いしてください。",
        "This link is not valid. Ask the city for a new invitation.",
    ),
    Reason.EXPIRED: (
        410,
        "この招待の有効期限が切れています。市の担当者に新しい招待をお願いしてください。",
        "This invitation has expired. Ask the city for a new one.",
    ),
    Reason.NOT_YET: (
        425,
        "この招待はまだ使えません。開始時刻以降に開いてください。",
        "This invitation cannot be used yet. Open it again from its start time.",
    ),
    Reason.USED: (
        409,
        "このリンクはすでに使われています。リンクは一度だけ使えます。",
        "This link has already been used; it works only once.",
    ),
    Reason.REVOKED: (
        410,
        "この招待は取り消されました。",
        "This invitation was withdrawn.",
    ),
    Reason.THROTTLED: (
        429,
        "試行回数が多すぎます。しばらく待ってからもう一度お試しください。",
        "Too many attempts. Please wait and try again.",
    ),
    "malformed": (400, "リンクを読み取れませんでした。", "The link could not be read."),
}

routes = web.RouteTableDef()


def setup_interpreter_invitations(app: web.Application) -> None:
    """Call after the switchboard's cleanup context is added (the window check needs the switchboard)."""
    app[BOOK] = InterpreterInvitationBook(app[STORE])
    app[THROTTLE] = LoginThrottle()
    app[MAILER] = Mailer(app[CONFIG].smtp)
    add_routes(app, routes)
    add_routes(app, PAGE.routes())
    app.cleanup_ctx.append(_window_check)


def sign_out_ended(app: web.Application, now: float) -> list[str]:
    """Sign out every external interpreter whose invitation is over (its window closed): its session row
    expired with the window, but a live websocket is not asked again; the identities signed out."""
    conference = app[SWITCHBOARD].conference
    ended = app[BOOK].ended(list(conference.clients), now)
    for identity in ended:
        conference.sign_out(identity, "the invitation's window has ended")
    return ended


async def _window_check(app: web.Application) -> AsyncIterator[None]:
    async def run() -> None:
        while True:
            await asyncio.sleep(WINDOW_CHECK_S)  # a periodic job, not synchronisation
            try:
                sign_out_ended(app, time.time())
            except Exception:  # the database away (degraded mode) or a bug: logged, tried again next time
                log.exception("the external interpreters' window check failed")

    task = asyncio.create_task(run(), name="interpreter-windows")
    yield
    await cancel_and_wait(task)


def _audit(
    request: web.Request, actor: str, action: str, target: str, details: dict[str, DetailValue]
) -> None:
    try:
        request.app[SWITCHBOARD].audit.append(actor, action, target, details)
    except Exception:  # logged; an audit failure must not turn a good answer into a 500
        log.exception("could not write the audit entry %s for %s", action, target)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def invitation_json(
    book: InterpreterInvitationBook, invitation: InterpreterInvitation, zone: ZoneInfo
) -> dict[str, Any]:
    def iso(moment: float | None) -> str | None:
        return (
            None if moment is None else dt.datetime.fromtimestamp(moment, zone).isoformat(timespec="seconds")
        )

    return {
        "invitation_id": invitation.invitation_id,
        "identity": invitation.identity,
        "service": invitation.service,
        "contact_name": invitation.contact_name,
        "email": invitation.email,
        "languages": list(invitation.languages),
        "valid_from": iso(invitation.valid_from),
        "valid_until": iso(invitation.valid_until),
        "created_by": invitation.created_by,
        "created_at": iso(invitation.created_at),
        "emailed": invitation.emailed,
        "email_error": invitation.email_error,
        "redeemed_at": iso(invitation.redeemed_at),
        "revoked_at": iso(invitation.revoked_at),
        "status": book.status(invitation),
    }


# ------------------------------------------------------------------ the supervisor


@routes.post("/api/interpreter-invitations")
@requires(roles={Role.SUPERVISOR}, refusal=_SUPERVISOR_REFUSAL, same_origin=True)
async def create_invitation(request: web.Request) -> web.Response:
    staff = request[PRINCIPAL]
    config = request.app[CONFIG]
    body = await read_json(request)
    if body is None:
        return _error(400, "invalid_request", "the body must be a JSON object")
    try:
        wanted = InterpreterInvitationRequest.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        return _error(400, "invalid_request", problems[:1000])
    zone = ZoneInfo(config.city.timezone)
    book = request.app[BOOK]
    try:
        invitation, secret = book.create(wanted, created_by=staff.identity, timezone=zone)
    except InvitationError as exc:
        return _error(400, "invalid_request", str(exc))
    link = f"{origin_of(request)}/i/#{secret}"
    details: dict[str, DetailValue] = {"languages": ",".join(invitation.languages), "emailed": False}
    if invitation.email:
        problem = await request.app[MAILER].send(_mail(invitation, link, config.city.name_ja, zone))
        book.mail_result(invitation.invitation_id, problem)
        details["emailed"] = problem is None
    _audit(request, staff.identity, "interpreter_invitation_created", invitation.invitation_id, details)
    answer = invitation_json(book, book.get(invitation.invitation_id) or invitation, zone)
    answer["link"] = link  # only here, once: the server keeps no way to show it again
    return web.json_response(answer, status=201, headers={"Cache-Control": "no-store"})


def _mail(invitation: InterpreterInvitation, link: str, city: str, zone: ZoneInfo) -> Mail:
    until = dt.datetime.fromtimestamp(invitation.valid_until, zone).strftime("%Y-%m-%d %H:%M")
    languages = ", ".join(invitation.languages)
    body = (
        f"{invitation.service} 御中\n\n{city}のリモート窓口から、通訳（{languages}）のご依頼です。\n"
        f"次のリンクをブラウザーで開き、カメラとマイクを確認してから「受付開始」を押してください"
        f"（{until}まで、一度だけ有効）。\n\n{link}\n\n"
        f"{city} remote counter: an invitation to interpret ({languages}). Open the link above in a browser, "
        f'check your camera and microphone and press "Start taking requests" (valid once, until {until}).\n'
    )
    return Mail(
        to=invitation.email,
        subject=f"【{city}】リモート窓口 通訳のご依頼 / Interpretation invitation",
        body=body,
    )


@routes.get("/api/interpreter-invitations")
@requires(roles={Role.SUPERVISOR}, refusal=_SUPERVISOR_REFUSAL)
async def list_invitations(request: web.Request) -> web.Response:
    book, zone = request.app[BOOK], ZoneInfo(request.app[CONFIG].city.timezone)
    return web.json_response([invitation_json(book, i, zone) for i in book.newest()])


@routes.delete("/api/interpreter-invitations/{invitation_id}")
@requires(roles={Role.SUPERVISOR}, refusal=_SUPERVISOR_REFUSAL, same_origin=True)
async def revoke_invitation(request: web.Request) -> web.Response:
    """Revoke: the link is refused, the session ends, and a signed-in interpreter leaves its call now."""
    staff = request[PRINCIPAL]
    book = request.app[BOOK]
    invitation = book.get(request.match_info["invitation_id"])
    if invitation is None:
        return _error(404, "not_found", "no such interpreter invitation")
    was_revoked = invitation.revoked_at is not None
    invitation = book.revoke(invitation.invitation_id, staff.identity) or invitation
    if not was_revoked:
        request.app[SWITCHBOARD].conference.sign_out(invitation.identity, "the invitation was revoked")
        _audit(request, staff.identity, "interpreter_invitation_revoked", invitation.invitation_id, {})
    return web.json_response(invitation_json(book, invitation, ZoneInfo(request.app[CONFIG].city.timezone)))


# ------------------------------------------------------------------ the interpreter's browser


def _answer(reason: str, **extra: object) -> web.Response:
    status, ja, en = ANSWERS[reason]
    headers = {"Cache-Control": "no-store"}
    if "retry_after_s" in extra:
        headers["Retry-After"] = str(extra["retry_after_s"])
    return web.json_response(
        {"error": str(reason), "message_ja": ja, "message_en": en, **extra}, status=status, headers=headers
    )


@routes.post("/api/interpreters/redeem")
@public(same_origin=True, refusal=Refusal(json_error))
async def redeem(request: web.Request) -> web.Response:
    remote = request.remote or "unknown"
    key = address_key(remote)
    throttle = request.app[THROTTLE]
    wait_s = throttle.check(key)
    if wait_s > 0:
        _audit(
            request, "anonymous", "interpreter_link_refused", "", {"reason": "throttled", "remote": remote}
        )
        return _answer(Reason.THROTTLED, retry_after_s=math.ceil(wait_s))
    secret = ((await read_json(request)) or {}).get("secret")
    if not isinstance(secret, str) or not 16 <= len(secret) <= 200:
        throttle.failure(key)
        _audit(
            request, "anonymous", "interpreter_link_refused", "", {"reason": "malformed", "remote": remote}
        )
        return _answer("malformed")
    decision = request.app[BOOK].redeem(secret)
    if not isinstance(decision, InterpreterRedeemed):
        throttle.failure(key)
        invitation = decision.invitation
        actor = invitation.identity if invitation is not None else "anonymous"
        target = invitation.invitation_id if invitation is not None else ""
        details: dict[str, DetailValue] = {"reason": str(decision.reason), "remote": remote}
        _audit(request, actor, "interpreter_link_refused", target, details)
        return _answer(decision.reason)
    invitation = decision.invitation
    _audit(
        request,
        invitation.identity,
        "interpreter_link_redeemed",
        invitation.invitation_id,
        {"remote": remote},
    )
    origin = origin_of(request)
    ws_url = ("wss://" if origin.startswith("https://") else "ws://") + origin.split("://", 1)[1] + "/ws"
    answer = {
        "session_token": decision.session_token,
        "ws_url": ws_url,
        "service": invitation.service,
        "languages": list(invitation.languages),
        "valid_until": dt.datetime.fromtimestamp(
            invitation.valid_until, ZoneInfo(request.app[CONFIG].city.timezone)
        ).isoformat(timespec="minutes"),
    }
    return web.json_response(answer, headers={"Cache-Control": "no-store"})
