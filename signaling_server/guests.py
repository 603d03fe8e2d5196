"""A family member joins a call by link (issue 18): the HTTP side (docs/guests.md).

- ``POST /api/calls/{call_id}/guest-links``: the call's officer (Bearer session, same origin) makes a
  single-use link, valid ``LINK_TTL_S`` or until the call ends; optionally e-mailed (``email``). The answer
  carries the link once; the server keeps only hashes, in the record database (``switchboard.guest_links``).
- ``POST /api/guests/redeem``: public, same origin, throttled per address like business links; ``{secret}``
  → ``{session_token, ws_url, call_id, name, department}`` or ``{error, message_ja, message_en,
  message_ja_easy}``. Every answer is audited (never the secret).
- Both work on every node of a cluster: the leader answers from its live calls, a follower from the call
  records and links in the shared database (``_here``).
- ``/g/``: the guest's page (``web/guest/``), which imports the business client's signaling and call
  modules (``SHARED``) instead of copying them.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from zoneinfo import ZoneInfo

from aiohttp import web

from remote_call.protocol import Role
from signaling_server.access import PRINCIPAL, Refusal, Scope, add_routes, json_error, public, requires
from signaling_server.appkeys import CONFIG, SWITCHBOARD
from signaling_server.business.mailer import Mail, Mailer
from signaling_server.business.pages import CAMERA_HEADERS, Page
from signaling_server.business.pages import WEB_DIR as BUSINESS_DIR
from signaling_server.business.shared import origin_of, read_json
from signaling_server.cluster.node import CLUSTER
from signaling_server.ratelimit import LoginThrottle, address_key
from signaling_server.switchboard.guest_links import GuestLinkError, GuestRedeemed, GuestRefusal

log = logging.getLogger(__name__)

GUEST_DIR = BUSINESS_DIR.parent / "guest"
SHARED = frozenset(
    {"signaling.js", "call.js", "linkpings.js", "documents.js", "ui.js", "devicecheck.js"}
    | {"style.css", "icon.svg"}
)
GUEST_PAGE = Page("g", GUEST_DIR, shared=dict.fromkeys(SHARED, BUSINESS_DIR), headers=CAMERA_HEADERS)
GUEST_THROTTLE = web.AppKey("guest_link_throttle", LoginThrottle)
GUEST_MAILER = web.AppKey("guest_mailer", Mailer)
_OFFICER_REFUSAL = Refusal(json_error, "sign in first", "officers only")

# reason -> (HTTP status, Japanese, English, やさしい日本語): what the guest's page shows.
ANSWERS: dict[str, tuple[int, str, str, str]] = {
    GuestRefusal.INVALID: (
        404,
        "このリンクは無効です。窓口の職員に新しいリンクをお願いしてください。",
        "This link is not valid. Ask the city officer for a new link.",
        "この リンクは つかえません。まどぐちの ひとに あたらしい リンクを もらって ください。",
    ),
    GuestRefusal.EXPIRED: (
        410,
        "このリンクの有効期限が切れています。窓口の職員に新しいリンクをお願いしてください。",
        "This link has expired. Ask the city officer for a new link.",
        "この リンクは じかんが すぎました。あたらしい リンクを もらって ください。",
    ),
    GuestRefusal.USED: (
        409,
        "このリンクはすでに使われています。リンクは一度だけ使えます。",
        "This link has already been used; it works only once.",
        "この リンクは もう つかわれました。リンクは 1かいだけ つかえます。",
    ),
    GuestRefusal.ENDED: (
        410,
        "この通話はすでに終わっています。",
        "This call has already ended.",
        "この でんわは もう おわりました。",
    ),
    GuestRefusal.FULL: (
        409,
        "通話の参加者が上限に達しています（4人まで、ご家族は1人まで）。しばらくしてからお試しください。",
        "The call is full (4 parties at most, one family member). Please try again a little later.",
        "でんわに はいれる ひとは いっぱいです（4にんまで、かぞくは 1にん）。すこし まって ください。",
    ),
    GuestRefusal.THROTTLED: (
        429,
        "試行回数が多すぎます。しばらく待ってからもう一度お試しください。",
        "Too many attempts. Please wait and try again.",
        "なんかいも ためしました。すこし まってから ためして ください。",
    ),
    "malformed": (
        400,
        "リンクを読み取れませんでした。",
        "The link could not be read.",
        "リンクが よめませんでした。",
    ),
}

routes = web.RouteTableDef()


def setup_guests(app: web.Application) -> None:
    app[GUEST_THROTTLE] = LoginThrottle()
    app[GUEST_MAILER] = Mailer(app[CONFIG].smtp)
    add_routes(app, routes)
    add_routes(app, GUEST_PAGE.routes())


def _here(app: web.Application) -> bool:
    """This node's switchboard is the one deciding (a single server, or the cluster's leader)."""
    node = app.get(CLUSTER)
    return node is None or node.leading


def _audit(request: web.Request, actor: str, action: str, target: str, details: dict[str, str]) -> None:
    try:
        request.app[SWITCHBOARD].audit.append(actor, action, target, details)
    except Exception:  # logged; an audit failure must not turn a good answer into a 500
        log.exception("could not write the audit entry %s for %s", action, target)


# ------------------------------------------------------------------ the officer makes a link


@routes.post("/api/calls/{call_id}/guest-links")
@requires(roles={Role.OFFICER}, refusal=_OFFICER_REFUSAL, same_origin=True, scope=Scope.OWN)
async def create_link(request: web.Request) -> web.Response:
    officer = request[PRINCIPAL]
    call_id = request.match_info["call_id"]
    body = await read_json(request) or {}
    name, email = body.get("name") or "", body.get("email") or ""
    if not isinstance(name, str) or not isinstance(email, str) or len(email) > 200:
        return web.json_response(
            {"error": "invalid_request", "message": "name and email are text"}, status=400
        )
    room = request.app[SWITCHBOARD].guests
    if room.live_call_of(officer.identity, call_id, here=_here(request.app)) is None:
        message = "no call of yours in progress has this id"
        return web.json_response({"error": "not_found", "message": message}, status=404)
    try:
        link, secret = room.links.create(call_id, officer.identity, name=name)
    except GuestLinkError as exc:
        return web.json_response({"error": "too_many", "message": str(exc)}, status=409)
    url = f"{origin_of(request)}/g/#{secret}"
    config = request.app[CONFIG]
    expires = dt.datetime.fromtimestamp(link.expires_at, ZoneInfo(config.city.timezone))
    problem = None
    if email:
        problem = await request.app[GUEST_MAILER].send(_guest_mail(email, url, expires, config.city.name_ja))
    details = {"link": link.link_id, "emailed": str(bool(email) and problem is None).lower()}
    _audit(request, officer.identity, "guest_link_created", call_id, details)
    answer = {
        "link_id": link.link_id,
        "link": url,  # only here, once
        "expires_at": expires.isoformat(timespec="minutes"),
        "expires_in_s": round(link.expires_at - link.created_at),
        "emailed": bool(email) and problem is None,
        "email_error": problem if email else None,
    }
    return web.json_response(answer, status=201, headers={"Cache-Control": "no-store"})


def _guest_mail(to: str, url: str, expires: dt.datetime, city: str) -> Mail:
    until = expires.strftime("%H:%M")
    body = (
        f"{city}のリモート窓口から、通話へのご招待です。\n"
        f"次のリンクをブラウザーで開くと、ご家族との通話に参加できます（{until}まで、一度だけ有効）。\n\n"
        f"{url}\n\n"
        f"You are invited to join a video call at the {city} remote counter. Open the link above in a "
        f"browser (valid once, until {until}).\n"
    )
    return Mail(to=to, subject=f"【{city}】リモート窓口の通話へのご招待 / Invitation to a call", body=body)


# ------------------------------------------------------------------ the guest's browser redeems it


def _answer(reason: str, **extra: object) -> web.Response:
    status, ja, en, easy = ANSWERS[reason]
    headers = {"Cache-Control": "no-store"}
    if "retry_after_s" in extra:
        headers["Retry-After"] = str(extra["retry_after_s"])
    body = {"error": str(reason), "message_ja": ja, "message_en": en, "message_ja_easy": easy, **extra}
    return web.json_response(body, status=status, headers=headers)


@routes.post("/api/guests/redeem")
@public(same_origin=True, refusal=Refusal(json_error))
async def redeem(request: web.Request) -> web.Response:
    remote = request.remote or "unknown"
    key = address_key(remote)
    throttle = request.app[GUEST_THROTTLE]
    wait_s = throttle.check(key)
    if wait_s > 0:
        _audit(request, "anonymous", "guest_link_refused", "", {"reason": "throttled", "remote": remote})
        return _answer(GuestRefusal.THROTTLED, retry_after_s=math.ceil(wait_s))
    body = await read_json(request)
    secret = (body or {}).get("secret")
    if not isinstance(secret, str) or not 16 <= len(secret) <= 200:
        throttle.failure(key)
        _audit(request, "anonymous", "guest_link_refused", "", {"reason": "malformed", "remote": remote})
        return _answer("malformed")
    board = request.app[SWITCHBOARD]
    here = _here(request.app)
    decision = board.guests.redeem(secret, remote=remote, here=here)
    if not isinstance(decision, GuestRedeemed):
        if decision.reason is not GuestRefusal.FULL:  # a full call is nobody's guessing
            throttle.failure(key)
        actor = decision.link.identity if decision.link is not None else "anonymous"
        target = decision.link.call_id if decision.link is not None else ""
        _audit(
            request, actor, "guest_link_refused", target, {"reason": str(decision.reason), "remote": remote}
        )
        return _answer(decision.reason)
    link = decision.link
    _audit(request, link.identity, "guest_link_redeemed", link.call_id, {"remote": remote})
    record = board.guests.record_of(link.call_id, here=here)
    department = board.directory.departments.get(record.department) if record is not None else None
    origin = origin_of(request)
    ws_url = ("wss://" if origin.startswith("https://") else "ws://") + origin.split("://", 1)[1] + "/ws"
    answer = {
        "session_token": decision.session_token,
        "ws_url": ws_url,
        "call_id": link.call_id,
        "name": link.name,
        "department": {
            "ja": department.name_ja if department is not None else "",
            "en": department.name_en if department is not None else "",
        },
    }
    return web.json_response(answer, headers={"Cache-Control": "no-store"})
