"""The IT dashboard (``/it/``): sign-in, the page, its JSON API and its live event stream.

Only ``it_admin`` accounts get in, through the session cookie set at sign-in (``access.SESSION_COOKIE``:
HttpOnly, SameSite=Strict, never a token in a URL). Each route declares its access; a session of another
role counts as no session here. Remote actions are audited by the monitor (``Monitor.send_action``).
"""

from __future__ import annotations

import asyncio
import json
import re
import time

from aiohttp import web
from pydantic import ValidationError

from remote_call import protocol as p
from signaling_server.access import (
    PRINCIPAL,
    SESSION_COOKIE,
    Credential,
    Refusal,
    public,
    requires,
    session_token,
    signed_in,
)
from signaling_server.appkeys import AUTHENTICATOR, CONFIG
from signaling_server.auth import AuthError
from signaling_server.cluster.commands import NoLeader, on_leader
from signaling_server.cluster.sharing import fleet_of
from signaling_server.monitor import ACTIONS, MONITOR
from signaling_server.signin import SIGN_IN
from signaling_server.web_pages import html_page, json_page, json_page_error

SSE_KEEPALIVE_S = 15.0
SESSION_RECHECK_S = 2.0  # a revoked session's event stream ends within this (one indexed look-up)
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")  # protocol.Id

IT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def _to_sign_in(status: int, message: str) -> web.StreamResponse:
    raise web.HTTPSeeOther("/it/login")


IT_ADMIN = frozenset({p.Role.IT_ADMIN})
API = Refusal(json_page_error, "sign in as an IT administrator")  # another role's session: 401 too
PAGE = Refusal(_to_sign_in)  # the page sends anyone not signed in as an IT administrator to sign in
FORM = Refusal(json_page_error)  # sign-in and sign-out forms: only the cross-origin refusal

routes = web.RouteTableDef()


# ---------------------------------------------------------------------- sign-in


@routes.get("/it/login")
@public()
async def login_page(request: web.Request) -> web.StreamResponse:
    return html_page("login.html", IT_CSP)


@routes.post("/it/login")
@public(same_origin=True, refusal=FORM)
async def login(request: web.Request) -> web.StreamResponse:
    monitor = request.app[MONITOR]
    form = await request.post()
    username, password = str(form.get("username", ""))[:64], str(form.get("password", ""))[:200]
    remote = request.remote or "?"
    # Checked and counted before the password is verified (signaling_server.signin): the same throttle
    # as the websocket's, so neither door adds guesses to the other's.
    attempt = request.app[SIGN_IN].begin_password(username if _USERNAME.fullmatch(username) else "?", remote)
    if attempt.refused_unchecked:
        attempt.failed()
        raise web.HTTPSeeOther("/it/login?error=locked")
    try:
        principal = await request.app[AUTHENTICATOR].authenticate(
            p.Role.IT_ADMIN, p.PasswordCredentials(username=username, password=password)
        )
    except (AuthError, ValidationError):
        attempt.failed()  # summarised in the audit log per address and window
        raise web.HTTPSeeOther("/it/login?error=1") from None
    attempt.succeeded()
    monitor.audit_append(principal.identity, "sign_in", "it_dashboard", {"remote": remote})
    response = web.HTTPSeeOther("/it/")
    response.set_cookie(
        SESSION_COOKIE,
        principal.session_token or "",
        httponly=True,
        samesite="Strict",
        path="/",
        secure=request.secure,
        max_age=request.app[CONFIG].server.session_ttl_s,
    )
    raise response


@routes.post("/it/logout")
@public(same_origin=True, refusal=FORM)
async def logout(request: web.Request) -> web.StreamResponse:
    token = session_token(request, Credential.COOKIE)
    if token:
        request.app[AUTHENTICATOR].end_session(token)
    response = web.HTTPSeeOther("/it/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


@routes.get("/it")
@public()
async def redirect_to_dashboard(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/it/")


# ---------------------------------------------------------------------- the page and its API


@routes.get("/it/")
@requires(roles=IT_ADMIN, credential=Credential.COOKIE, refusal=PAGE)
async def dashboard_page(request: web.Request) -> web.StreamResponse:
    return html_page("dashboard.html", IT_CSP)


@routes.get("/it/api/fleet")
@requires(roles=IT_ADMIN, credential=Credential.COOKIE, refusal=API, same_origin=True)
async def fleet(request: web.Request) -> web.StreamResponse:
    data = await fleet_of(request.app)  # on a follower, the leader's fleet (cluster/sharing.py)
    data["user"] = request[PRINCIPAL].identity
    return json_page(data)


@routes.get("/it/api/events")
@requires(roles=IT_ADMIN, credential=Credential.COOKIE, refusal=API, same_origin=True)
async def events(request: web.Request) -> web.StreamResponse:
    monitor = request.app[MONITOR]
    user = request[PRINCIPAL].identity
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    queue = monitor.hub.subscribe()
    try:
        snapshot = await fleet_of(request.app)
        snapshot["user"] = user
        await response.write(f"event: fleet\ndata: {json.dumps(snapshot, ensure_ascii=False)}\n\n".encode())
        checked = written = time.monotonic()
        while True:
            try:
                async with asyncio.timeout(SESSION_RECHECK_S):  # not wait_for: on 3.11 it can drop a cancel
                    frame = await queue.get()
            except TimeoutError:
                frame = ": keepalive\n\n" if time.monotonic() - written >= SSE_KEEPALIVE_S else ""
            if frame is None:
                break
            if time.monotonic() - checked >= SESSION_RECHECK_S:
                checked = time.monotonic()
                still = signed_in(request)  # signed out, disabled, revoked or demoted: the stream ends
                if still is None or still.identity != user:
                    break
            if frame:
                await response.write(frame.encode())
                written = time.monotonic()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        monitor.hub.unsubscribe(queue)
    return response


@routes.post("/it/api/kiosks/{kiosk_id}/actions")
@requires(roles=IT_ADMIN, credential=Credential.COOKIE, refusal=API, same_origin=True)
async def action(request: web.Request) -> web.StreamResponse:
    monitor = request.app[MONITOR]
    kiosk_id = request.match_info["kiosk_id"]
    if request.content_type != "application/json":
        return json_page({"error": "send the action as application/json"}, status=415)
    try:
        body = await request.json()
    except ValueError:
        return json_page({"error": "the body is not valid JSON"}, status=400)
    name = body.get("action") if isinstance(body, dict) else None
    if name not in ACTIONS:
        return json_page({"error": f"action must be one of {', '.join(ACTIONS)}"}, status=400)
    if kiosk_id not in monitor.health.kiosks:
        return json_page({"error": f"unknown kiosk {kiosk_id[:64]!r}"}, status=404)
    args = {"actor": request[PRINCIPAL].identity, "kiosk_id": kiosk_id, "action": name}
    try:  # the kiosk's connection is the leader's: a follower asks it over the bus (cluster/commands.py)
        record = (await on_leader(request.app, "kiosk_action", args)).get("record")
    except NoLeader as exc:
        return json_page({"error": str(exc)}, status=503)
    if record is None:
        return json_page({"error": "the kiosk is not connected"}, status=409)
    return json_page(record, status=202)


@routes.get("/it/api/kiosks/{kiosk_id}/history")
@requires(roles=IT_ADMIN, credential=Credential.COOKIE, refusal=API, same_origin=True)
async def history(request: web.Request) -> web.StreamResponse:
    monitor = request.app[MONITOR]
    kiosk_id = request.match_info["kiosk_id"]
    if kiosk_id not in monitor.health.kiosks:
        return json_page({"error": f"unknown kiosk {kiosk_id[:64]!r}"}, status=404)
    try:
        days = float(request.query.get("days", "1"))
    except ValueError:
        return json_page({"error": "days must be a number"}, status=400)
    retention = monitor.settings.retention_days
    if not 0 < days <= retention:
        return json_page({"error": f"days must be between 0 and {retention:g}"}, status=400)
    since = monitor.clock() - days * 86400
    return json_page(
        {
            "kiosk_id": kiosk_id,
            "history": monitor.health.history(kiosk_id, since),
            "events": monitor.health.events(kiosk_id, since),
        }
    )


@routes.get("/it/api/calls/{call_id}/quality")
@requires(roles=IT_ADMIN, credential=Credential.COOKIE, refusal=API, same_origin=True)
async def call_quality(request: web.Request) -> web.StreamResponse:
    summary = request.app[MONITOR].health.call_quality_summary(request.match_info["call_id"])
    if summary is None:
        return json_page({"error": "no quality reports for that call"}, status=404)
    return json_page(summary)
