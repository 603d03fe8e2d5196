"""The public wait board: ``/board`` (the page) and ``/api/board`` (its JSON). No login, no personal data:
department ids and names, open or closed, how many wait and the estimated wait."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from signaling_server.access import public
from signaling_server.appkeys import SWITCHBOARD
from signaling_server.monitor import MONITOR
from signaling_server.web_pages import html_page, json_page

BOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "form-action 'none'; base-uri 'none'"
)

routes = web.RouteTableDef()


def board_data(app: web.Application) -> dict[str, Any]:
    """The public wait board: departments' open state, waiting count and estimated wait. No personal data."""
    monitor = app[MONITOR]
    board = app[SWITCHBOARD]
    return {
        "generated_at": monitor.clock(),
        "city": monitor.city,
        "refresh_s": monitor.settings.board_refresh_s,
        "departments": [
            {
                "id": d.id,
                "name_ja": d.name_ja,
                "name_en": d.name_en,
                "open": d.open,
                "waiting": d.waiting,
                "ewt_s": d.ewt_s,
                "next_open": d.next_open,
            }
            for d in board.department_infos()
        ],
    }


@routes.get("/board")
@public()
async def board_page(request: web.Request) -> web.StreamResponse:
    return html_page("board.html", BOARD_CSP)


@routes.get("/api/board")
@public()
async def board_json(request: web.Request) -> web.StreamResponse:
    response = json_page(board_data(request.app))
    response.headers["Access-Control-Allow-Origin"] = "*"  # the city website may show it
    response.headers["Cache-Control"] = "public, max-age=5"
    return response
