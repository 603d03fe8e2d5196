"""The browser client's files, served at ``/b/`` from ``web/business/`` (same origin, no CDN).

Only flat files whose names match ``FILE_NAME`` are served (no directories, no dot files, no traversal);
the content type comes from the extension (``text/javascript`` for ES modules, which browsers insist
on), never from the file. Every answer carries the page's Content-Security-Policy; ``index.html`` is never
cached, so a deployed fix reaches a business on its next visit.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from signaling_server.access import add_routes, public

WEB_DIR = Path(__file__).resolve().parent.parent / "web" / "business"
FILE_NAME = re.compile(r"^[a-z0-9_-]+\.(js|css|html|json|svg|png)$")
CONTENT_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "svg": "image/svg+xml",
    "png": "image/png",
}
CSP = "default-src 'self'; connect-src 'self' wss: ws:; img-src 'self' blob: data:; media-src 'self' blob:"
_SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the secret is in the fragment, which is never sent; belt and braces
    # Camera, microphone and screen capture for this origin's own pages only.
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self)",
}

routes = web.RouteTableDef()


def setup_pages(app: web.Application) -> None:
    add_routes(app, routes)


@routes.get("/b")
@public()
async def business_root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect("/b/")  # relative module imports resolve against /b/


@routes.get("/b/")
@public()
async def business_index(request: web.Request) -> web.StreamResponse:
    return _serve("index.html")


@routes.get("/b/{name}")
@public()
async def business_file(request: web.Request) -> web.StreamResponse:
    return _serve(request.match_info["name"])


def _serve(name: str) -> web.StreamResponse:
    match = FILE_NAME.match(name)
    path = WEB_DIR / name
    # The name cannot leave the directory (no slash, no dot-dot); a symlink planted inside still could.
    if match is None or not path.is_file() or path.resolve().parent != WEB_DIR:
        return web.Response(status=404, text="not found", headers=_SECURITY_HEADERS)
    headers = dict(_SECURITY_HEADERS)
    headers["Content-Type"] = CONTENT_TYPES[match.group(1)]
    headers["Cache-Control"] = "no-store" if name == "index.html" else "no-cache"
    return web.FileResponse(path, headers=headers)
