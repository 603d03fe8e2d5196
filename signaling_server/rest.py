"""The signaling server's own REST endpoints: health, departments, statistics, an officer's calls.

Each route declares who may call it (``signaling_server.access``); no handler reads a token.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aiohttp import web

from remote_call.protocol import PROTOCOL_VERSION, Role
from signaling_server.access import (
    PRINCIPAL,
    STAFF,
    Refusal,
    Scope,
    add_routes,
    json_error,
    public,
    requires,
    scoped_stats,
)
from signaling_server.appkeys import AUTHENTICATOR, CONFIG, STORE, SWITCHBOARD
from signaling_server.cluster.commands import NoLeader, on_leader
from signaling_server.cluster.node import cluster_status
from signaling_server.cluster.views import live_view, view_status
from signaling_server.database_watch import database_status

routes = web.RouteTableDef()


def setup_rest(app: web.Application) -> None:
    add_routes(app, routes)


@routes.get("/healthz")
@public()
async def healthz(request: web.Request) -> web.Response:
    view = live_view(request.app)  # a follower counts the leader's clients (its snapshot, ~1 s old)
    database, status = database_status(request.app)  # PostgreSQL down: 503 "degraded" (database_watch)
    return web.json_response(
        {
            "status": "ok",
            "protocol": PROTOCOL_VERSION,
            **view.counts(),  # kiosks, officers, calls
            **cluster_status(request.app),  # several nodes: which one answered, whether it leads
            **view_status(request.app),  # a follower: whose snapshot it serves and how old it is
            **database,
        },
        status=status,
    )


@routes.get("/api/departments")
@public()
async def departments(request: web.Request) -> web.Response:
    return web.json_response([d.model_dump() for d in live_view(request.app).department_infos()])


@routes.get("/api/stats")
@requires(
    roles={Role.SUPERVISOR, Role.IT_ADMIN},
    refusal=Refusal(
        json_error, "sign in as a supervisor or IT administrator", "supervisors and IT administrators only"
    ),
    scope=Scope.DEPARTMENTS,
)
async def stats(request: web.Request) -> web.Response:
    """Queue and officer statistics (live and per day): supervisors see their own departments; and the
    interpreter pool's per language (requests, minutes)."""
    return web.json_response(scoped_stats(request, live_view(request.app).stats()))


@routes.get("/api/officers/me/calls")
@requires(roles=STAFF, refusal=Refusal(json_error, "sign in first"), scope=Scope.OWN)
async def my_calls(request: web.Request) -> web.Response:
    """The signed-in staff member's calls of one day (``?date=YYYY-MM-DD``, default today, city time) with
    outcomes and notes: the console's history survives a restart."""
    username = request[PRINCIPAL].identity
    store = request.app[STORE]
    tz = ZoneInfo(request.app[CONFIG].city.timezone)
    try:
        day = (
            dt.date.fromisoformat(request.query.get("date", ""))
            if request.query.get("date")
            else dt.datetime.now(tz).date()
        )
    except ValueError:
        return web.json_response({"error": "date must be YYYY-MM-DD"}, status=400)
    start = dt.datetime.combine(day, dt.time(), tz).timestamp()
    calls = [
        {
            "call_id": r.call_id,
            "kiosk_id": r.kiosk_id,
            "department": r.department,
            "procedure": r.procedure,
            "state": r.state,
            "end_reason": r.end_reason,
            "outcome": r.outcome,
            "notes": r.notes,
            "created_at": r.created_at,
            "answered_at": r.answered_at,
            "ended_at": r.ended_at,
        }
        for r in store.calls(since=start)
        if r.officer == username and r.created_at < start + 86_400
    ]
    return web.json_response(calls)


@routes.delete("/api/sessions/current")
@requires(roles=STAFF, refusal=Refusal(json_error, "sign in first"), scope=Scope.OWN)
async def sign_out(request: web.Request) -> web.Response:
    """Sign out (the console's "sign out"): the session ends for REST at once and its live websocket
    connections are closed now, not at the next revocation check."""
    principal = request[PRINCIPAL]
    token = principal.session_token or ""
    request.app[AUTHENTICATOR].end_session(token)
    board = request.app[SWITCHBOARD]
    try:  # on the leader's switchboard: a follower asks it over the bus (cluster/commands.py)
        closed = (await on_leader(request.app, "end_session", {"token": token})).get("closed", 0)
    except NoLeader:
        closed = 0  # the session has ended in the database: the next leader's check ends its connections
    board.audit.append(principal.identity, "sign_out", "", {"connections_closed": closed})
    return web.Response(status=204)
