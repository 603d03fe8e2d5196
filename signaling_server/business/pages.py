"""The browser pages' files: the business client at ``/b/`` from ``web/business/`` (same origin, no CDN);
``Page`` serves the family member's (``/g/``) and the external interpreter's (``/i/``) the same way.

Only flat files whose names match ``FILE_NAME`` are served (no directories, no dot files, no traversal);
the content type comes from the extension (``text/javascript`` for ES modules, which browsers insist
on), never from the file. Every answer carries the page's Content-Security-Policy; ``index.html`` is never
cached, so a deployed fix reaches a business on its next visit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
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
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the secret is in the fragment, which is never sent; belt and braces
    # Camera, microphone and screen capture for this origin's own pages only.
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self)",
}
# The family member's and the interpreter's pages share no screen: no screen capture for them.
CAMERA_HEADERS = {**SECURITY_HEADERS, "Permissions-Policy": "camera=(self), microphone=(self)"}


@dataclass(frozen=True)
class Page:
    """A browser page's flat files at ``/<prefix>/``: its own folder, plus modules it imports from other
    pages' folders (``shared``: file name -> folder) instead of copies."""

    prefix: str
    folder: Path
    shared: Mapping[str, Path] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=lambda: SECURITY_HEADERS)

    def routes(self) -> web.RouteTableDef:
        """``/<prefix>`` (redirected: relative module imports resolve against ``/<prefix>/``),
        ``/<prefix>/`` and ``/<prefix>/<name>``, all public."""
        table = web.RouteTableDef()

        @table.get(f"/{self.prefix}")
        @public()
        async def root(request: web.Request) -> web.StreamResponse:
            raise web.HTTPPermanentRedirect(f"/{self.prefix}/")

        @table.get(f"/{self.prefix}/")
        @public()
        async def index(request: web.Request) -> web.StreamResponse:
            return self.serve("index.html")

        @table.get(f"/{self.prefix}/{{name}}")
        @public()
        async def file(request: web.Request) -> web.StreamResponse:
            return self.serve(request.match_info["name"])

        return table

    def serve(self, name: str) -> web.StreamResponse:
        match = FILE_NAME.match(name)
        folder = self.shared.get(name, self.folder)
        path = folder / name
        # The name cannot leave the folder (no slash, no dot-dot); a symlink planted inside still could.
        if match is None or not path.is_file() or path.resolve().parent != folder:
            return web.Response(status=404, text="not found", headers=self.headers)
        headers = dict(self.headers)
        headers["Content-Type"] = CONTENT_TYPES[match.group(1)]
        headers["Cache-Control"] = "no-store" if name == "index.html" else "no-cache"
        return web.FileResponse(path, headers=headers)


BUSINESS_PAGE = Page("b", WEB_DIR)


def setup_pages(app: web.Application) -> None:
    add_routes(app, BUSINESS_PAGE.routes())
