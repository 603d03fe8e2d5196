"""``POST /api/business/redeem``: the browser exchanges the link's secret (and code) for a session token.

The book (``invitations.InvitationBook.redeem``) decides; this turns the decision into the answer of
docs/business.md, an audit entry and a throttle count. Every refusal but ``code_required`` (the normal
first step of a link with a second factor) counts against the address in ``LINK_THROTTLE``; a locked-out
address is answered ``throttled`` before the book is asked, so neither the 256-bit secret nor the 6-digit
code can be guessed at speed (5 tries, then 30 s doubling to 15 min). The secret and the code are never
logged or audited.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from signaling_server.access import Refusal, json_error, public
from signaling_server.appkeys import CONFIG
from signaling_server.business.invitations import Invitation, Redeemed, RedeemRefused
from signaling_server.business.invitations import Refusal as Reason
from signaling_server.business.mailer import code_mail
from signaling_server.business.shared import INVITATIONS, LINK_THROTTLE, MAILER, audit, origin_of, read_json
from signaling_server.ratelimit import address_key

routes = web.RouteTableDef()

# reason -> (HTTP status, Japanese, English): what the page shows.
ANSWERS: dict[Reason, tuple[int, str, str]] = {
    Reason.INVALID: (
        404,
        "このリンクは無効です。メールのリンクをもう一度確認するか、担当課にお問い合わせください。",
        "This link is not valid. Check the link in your e-mail, or contact the division.",
    ),
    Reason.EXPIRED: (
        410,
        "このリンクの有効期限が切れています。担当課に新しいご案内を依頼してください。",
        "This link has expired. Ask the division for a new invitation.",
    ),
    Reason.NOT_YET: (
        425,
        "このリンクはまだ使えません。ご案内の開始時刻以降に開いてください。",
        "This link cannot be used yet. Open it again from the start time in your invitation.",
    ),
    Reason.USED: (
        409,
        "このリンクはすでに使われています。リンクは一度だけ使えます。担当課にお問い合わせください。",
        "This link has already been used; it works only once. Contact the division.",
    ),
    Reason.REVOKED: (
        410,
        "このご案内は取り消されました。担当課にお問い合わせください。",
        "This invitation was withdrawn. Contact the division.",
    ),
    Reason.CODE_REQUIRED: (
        401,
        "メールでお送りした6桁の確認コードを入力してください。",
        "Enter the 6-digit code we sent to your e-mail address.",
    ),
    Reason.CODE_WRONG: (
        401,
        "確認コードが違います。",
        "The code is not correct.",
    ),
    Reason.THROTTLED: (
        429,
        "試行回数が多すぎます。しばらく待ってからもう一度お試しください。",
        "Too many attempts. Please wait and try again.",
    ),
}
MALFORMED = (400, "リンクを読み取れませんでした。", "The request could not be read.")


def _answer(reason: Reason | str, status_texts: tuple[int, str, str], **extra: Any) -> web.Response:
    status, ja, en = status_texts
    headers = {"Cache-Control": "no-store"}
    if "retry_after_s" in extra:
        headers["Retry-After"] = str(extra["retry_after_s"])
    body = {"error": str(reason), "message_ja": ja, "message_en": en, **extra}
    return web.json_response(body, status=status, headers=headers)


def mask_email(address: str) -> str:
    """``y***@example.co.jp``: enough for the business to know which inbox to look in."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


@routes.post("/api/business/redeem")
@public(same_origin=True, refusal=Refusal(json_error))
async def redeem(request: web.Request) -> web.Response:
    """``{secret, code?}`` → 200 ``{session_token, business, ws_url}`` or a refusal (docs/business.md)."""
    remote = request.remote or "unknown"
    key = address_key(remote)
    throttle = request.app[LINK_THROTTLE]
    wait_s = throttle.check(key)
    if wait_s > 0:
        _refused(request, Reason.THROTTLED, None, remote)
        return _answer(Reason.THROTTLED, ANSWERS[Reason.THROTTLED], retry_after_s=math.ceil(wait_s))
    body = await read_json(request)
    secret, code = (body or {}).get("secret"), (body or {}).get("code")
    if not isinstance(secret, str) or not (code is None or isinstance(code, str)):
        throttle.failure(key)
        _refused(request, "malformed", None, remote)
        return _answer("malformed", MALFORMED)
    business = request.app[CONFIG].business
    decision = request.app[INVITATIONS].redeem(
        secret, code, code_ttl_s=business.code_ttl_s, code_tries=business.code_tries
    )
    if isinstance(decision, Redeemed):
        return _redeemed(request, decision, remote)
    return await _refusal(request, decision, remote)


def _redeemed(request: web.Request, decision: Redeemed, remote: str) -> web.Response:
    invitation = decision.invitation
    audit(
        request,
        invitation.identity,
        "business_link_redeemed",
        invitation.invitation_id,
        {"remote": remote, "second_factor": invitation.second_factor},
    )
    origin = origin_of(request)
    ws_url = ("wss://" if origin.startswith("https://") else "ws://") + origin.split("://", 1)[1] + "/ws"
    body = {
        "session_token": decision.session_token,
        "business": invitation.info().model_dump(mode="json"),
        "ws_url": ws_url,
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def _refusal(request: web.Request, decision: RedeemRefused, remote: str) -> web.Response:
    invitation = decision.invitation
    reason = decision.reason
    if reason is Reason.CODE_REQUIRED:
        assert invitation is not None  # only a real invitation asks for a code
        emailed = True
        if decision.code is not None:
            config = request.app[CONFIG]
            mail = code_mail(invitation, decision.code, config.city, config.business.code_ttl_s)
            problem = await request.app[MAILER].send(mail)
            emailed = problem is None
            action = "business_code_sent" if emailed else "business_mail_failed"
            audit(request, invitation.identity, action, invitation.invitation_id, {"kind": "code"})
        _refused(request, reason, invitation, remote)
        return _answer(reason, ANSWERS[reason], emailed=emailed, email_hint=mask_email(invitation.email))
    request.app[LINK_THROTTLE].failure(address_key(remote))
    _refused(request, reason, invitation, remote)
    extra: dict[str, Any] = {}
    if reason is Reason.CODE_WRONG:
        extra["tries_left"] = decision.tries_left
    if reason is Reason.NOT_YET and invitation is not None:
        extra["valid_from"] = invitation.valid_from_iso
    return _answer(reason, ANSWERS[reason], **extra)


def _refused(request: web.Request, reason: Reason | str, invitation: Invitation | None, remote: str) -> None:
    actor = invitation.identity if invitation is not None else "anonymous"
    target = invitation.invitation_id if invitation is not None else ""
    audit(request, actor, "business_link_refused", target, {"reason": str(reason), "remote": remote})
