"""What the monitoring pages (IT dashboard, wait board) share: their files from ``web/``, the static route,
and JSON answers that are never cached or sniffed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from signaling_server.access import public

WEB_DIR = Path(__file__).parent / "web"
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}

routes = web.RouteTableDef()


@routes.get("/monitoring/static/{name}")
@public()
async def static_file(request: web.Request) -> web.StreamResponse:
    return static_response(WEB_DIR, request.match_info["name"])


def static_response(directory: Path, name: str) -> web.Response:
    """A script, style sheet or icon of ``directory`` by its flat name; 404 for anything else."""
    path = directory / name
    if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(
        body=path.read_bytes(),
        headers={
            "Content-Type": f"{STATIC_TYPES[path.suffix]}; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


def html_page(name: str, csp: str) -> web.Response:
    return web.Response(
        body=(WEB_DIR / name).read_bytes(),
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": csp,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )  # same-origin: browsers then send a real Origin on POST


def json_page(data: Any, status: int = 200) -> web.Response:
    response = web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def json_page_error(status: int, message: str) -> web.Response:
    """The pages' refusal (``access.Refusal``): ``{"error": message}``, uncached."""
    return json_page({"error": message}, status=status)
