"""IT monitoring wired into the server: health registry, alerts, webhook, dashboard, /metrics, wait board.

``setup_monitoring(app)`` (after ``create_app``) builds the monitor (``monitor.Monitor``: health registry,
alerts, webhook, metrics, the dashboards' event hub) and adds its routes, each declaring who may call it
(``access.py``):

- ``it_dashboard.py``: ``/it/login`` (form; sets an HttpOnly SameSite=Strict session cookie; never a token
  in a URL), ``/it/logout``, ``/it/`` (the dashboard page), ``/it/api/fleet``, ``/it/api/events``
  (server-sent events), ``/it/api/kiosks/{id}/actions`` (POST: selftest / restart / reload_config, audited),
  ``/it/api/kiosks/{id}/history``, ``/it/api/calls/{id}/quality`` — all for ``it_admin`` accounts only;
- here: ``/metrics`` (Prometheus text format; behind a bearer token when ``metrics_token`` is set);
- ``wait_board.py``: ``/board`` and ``/api/board``, the public wait board (no login, no personal data);
- ``web_pages.py``: ``/monitoring/static/{name}``, the pages' scripts and styles.

Settings are ``config.monitoring`` (the schema's ``MonitoringConfig``, its rules and defaults) with
``heartbeat_s`` resolved (``monitor.MonitoringSettings``); ``overrides`` (a dict, for tests and the demo)
are checked by the same schema.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from signaling_server import it_dashboard, wait_board, web_pages
from signaling_server.access import SCRAPE_TOKEN, Credential, Refusal, add_routes, requires
from signaling_server.access import same_origin as same_origin  # app.py imports it from here
from signaling_server.appkeys import CONFIG
from signaling_server.metrics import CONTENT_TYPE
from signaling_server.monitor import MONITOR, Monitor, MonitoringSettings

routes = web.RouteTableDef()


def _scrape_refused(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, headers={"WWW-Authenticate": "Bearer"})


@routes.get("/metrics")
@requires(
    roles=(), credential=Credential.SCRAPE_TOKEN, refusal=Refusal(_scrape_refused, "bearer token required\n")
)
async def metrics(request: web.Request) -> web.StreamResponse:
    body = request.app[MONITOR].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def setup_monitoring(
    app: web.Application,
    *,
    overrides: Mapping[str, Any] | None = None,
    clock: Callable[[], float] = time.time,
) -> None:
    """Add the monitoring routes and background work to an app made by ``create_app``."""
    settings = MonitoringSettings.from_config(app[CONFIG], overrides)
    already = MONITOR in app
    app[MONITOR] = Monitor(app, settings, clock)
    app[SCRAPE_TOKEN] = settings.metrics_token or ""
    if already:  # set up again (e.g. tests with other settings): the new monitor replaces the old one
        return
    for table in (it_dashboard.routes, routes, wait_board.routes, web_pages.routes):
        add_routes(app, table)
    # on_startup handlers run after every cleanup_ctx (the switchboard exists, wherever create_app calls
    # this); on_shutdown runs before on_cleanup (the store is still open) and ends the open event streams,
    # so a graceful shutdown does not wait on them.
    app.on_startup.append(_start)
    app.on_shutdown.append(_stop)


async def _start(app: web.Application) -> None:
    await app[MONITOR].start()


async def _stop(app: web.Application) -> None:
    await app[MONITOR].stop()
