"""The signaling server's own REST endpoints: health, departments, statistics, an officer's calls."""

from __future__ import annotations

import time

from aiohttp import web

from remote_call.protocol import PROTOCOL_VERSION
from signaling_server.appkeys import CONFIG, STORE, SWITCHBOARD
from signaling_server.auth import token_hash


def setup_rest(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/departments", departments)
    app.router.add_get("/api/stats", stats)
    app.router.add_get("/api/officers/me/calls", my_calls)


async def healthz(request: web.Request) -> web.Response:
    board = request.app[SWITCHBOARD]
    return web.json_response(
        {
            "status": "ok",
            "protocol": PROTOCOL_VERSION,
            "kiosks": len(board.kiosks),
            "officers": len(board.officers),
            "calls": len(board.calls),
        }
    )


async def departments(request: web.Request) -> web.Response:
    board = request.app[SWITCHBOARD]
    return web.json_response([d.model_dump() for d in board.department_infos()])


async def stats(request: web.Request) -> web.Response:
    """Queue and officer statistics (live and per day) for supervisors and IT: `Authorization: Bearer
    <session token>` of a supervisor or it_admin account."""
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    store = request.app[STORE]
    username = store.session_user(token_hash(token), time.time()) if token else None
    account = store.officer(username) if username else None
    if account is None:
        return web.json_response({"error": "sign in as a supervisor or IT administrator"}, status=401)
    if account.role not in ("supervisor", "it_admin"):
        return web.json_response({"error": "supervisors and IT administrators only"}, status=403)
    return web.json_response(request.app[SWITCHBOARD].router.stats())


async def my_calls(request: web.Request) -> web.Response:
    """An officer's calls of one day (``?date=YYYY-MM-DD``, default today, city time) with outcomes and
    notes: the console's history survives a restart."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    store = request.app[STORE]
    username = store.session_user(token_hash(token), time.time()) if token else None
    if username is None:
        return web.json_response({"error": "sign in first"}, status=401)
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
