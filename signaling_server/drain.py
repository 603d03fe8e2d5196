"""Draining a node on SIGTERM, for rolling upgrades behind a load balancer or a client URL list.

1. **Notice** (``server.drain_notice_s``, 0 by default): the node keeps serving its clients but answers
   ``/healthz`` with 503 ``{"status": "draining"}`` (haproxy's ``option httpchk`` takes it out of the
   backend) and refuses new signaling connections with 503 and ``Retry-After`` (a client moves on to its
   next URL, or haproxy's next server).
2. **Going away**: the listener closes, the queue is saved (the switchboard's ``shutdown``; in a cluster
   the node hands its lease on), and every websocket is closed with 1001 *going away* and a hint to
   reconnect elsewhere. Clients reconnect with their usual backoff and resume (place in queue, call in
   progress, wrap-up) on another node; calls in progress keep their peer-to-peer media meanwhile.
3. **Exit** once every socket has closed, or after ``server.drain_timeout_s`` for connections that do
   not finish closing (a stalled network).

``signaling_server.limits.run_guarded`` runs step 1 between the signal and the application's shutdown;
``app._close_sockets`` (on shutdown) runs step 2 with ``close_all``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import WSCloseCode, web

log = logging.getLogger(__name__)

GOING_AWAY = b"node draining: reconnect (another node will serve you)"


@dataclass
class Drain:
    """Whether this node is draining (set once by SIGTERM, never cleared: the process is ending)."""

    draining: bool = False


DRAIN = web.AppKey("drain", Drain)


def setup_drain(app: web.Application) -> None:
    app[DRAIN] = Drain()
    app.middlewares.append(_refuse_while_draining)


@web.middleware
async def _refuse_while_draining(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.app[DRAIN].draining:
        if request.path == "/healthz":
            return web.json_response({"status": "draining"}, status=503)
        if request.path == "/ws":
            raise web.HTTPServiceUnavailable(
                text="this node is draining: connect to another", headers={"Retry-After": "1"}
            )
    return await handler(request)


async def drain_node(app: web.Application, notice_s: float) -> None:
    """Step 1: mark the node draining and give the load balancer ``notice_s`` to see it."""
    app[DRAIN].draining = True
    log.warning("SIGTERM: draining; new connections refused, clients go in %g s", notice_s)
    if notice_s > 0:
        await asyncio.sleep(
            notice_s
        )  # haproxy's health checks run meanwhile: a deadline, not a wait for them


async def close_all(sockets: set[web.WebSocketResponse], timeout_s: float) -> int:
    """Step 2: close every socket with 1001 at once; wait for them up to ``timeout_s``. How many did not
    close in time (the server's shutdown then drops them)."""
    closing = [
        asyncio.ensure_future(ws.close(code=WSCloseCode.GOING_AWAY, message=GOING_AWAY))
        for ws in list(sockets)
    ]
    if not closing:
        return 0
    _done, pending = await asyncio.wait(closing, timeout=timeout_s)
    if pending:
        log.warning("%d clients did not close within %g s; dropped", len(pending), timeout_s)
    for future in pending:
        future.cancel()
    return len(pending)
