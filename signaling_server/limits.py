"""Connection limits in front of the application: caps per address and in total, and time-outs before a
request (the websocket's upgrade request included) has been read.

aiohttp reads requests without a deadline for the headers: a client that sends half a request line and
waits holds its socket (and a file descriptor) for the keep-alive time-out, an hour by default. The guard
here sits on aiohttp's ``Server`` (its ``connection_made`` / ``connection_lost`` and ``request_factory``
hooks), installed by ``GuardedRunner``:

- **header time-out** (``header_timeout_s``): a connection whose first request's headers are not complete
  within it is aborted (a half-sent request is dropped). Once a request has been read (for a websocket:
  the upgrade), the application's own time-outs take over (the hello deadline, the heartbeat);
- **idle time-out** (``idle_timeout_s``): aiohttp's keep-alive time-out between requests;
- **caps**: at most ``max_per_address`` connections from one address and ``max_total`` in all; one more is
  answered ``503`` with a reason and closed at once (clients reconnect with backoff).

Behind a reverse proxy every connection comes from the proxy's address: set ``max_per_address`` to 0 (off)
and let the proxy limit per client (docs/security.md, "Connection limits"). The limits come from the
environment (``ConnectionLimits.from_env``) until the configuration schema has a section for them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from pydantic import BaseModel

from remote_call.protocol import ErrorCode, ProtocolError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float = 10.0
    idle_timeout_s: float = 30.0
    max_per_address: int = 64  # a community centre's NAT: a handful of kiosks and browsers
    max_total: int = 4096  # keep under the process's open-file limit (LimitNOFILE), with room for the DB
    # Connections the kernel completes while the loop is busy, before it accepts them (the kernel caps it
    # at net.core.somaxconn, 4096 on Debian 12). aiohttp's 128 overflows when a failover sends thousands
    # of clients back at once: the overflow waits for SYN-ACK retransmits, 1, 3, 7, 15 and 31 s later.
    listen_backlog: int = 2048

    ENV: ClassVar[dict[str, str]] = {
        "header_timeout_s": "MADOGUCHI_HEADER_TIMEOUT_S",
        "idle_timeout_s": "MADOGUCHI_IDLE_TIMEOUT_S",
        "max_per_address": "MADOGUCHI_MAX_CONNECTIONS_PER_ADDRESS",
        "max_total": "MADOGUCHI_MAX_CONNECTIONS",
        "listen_backlog": "MADOGUCHI_LISTEN_BACKLOG",
    }

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ConnectionLimits:
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for field, name in cls.ENV.items():
            if name in environ:
                kind = float if field.endswith("_s") else int
                try:
                    values[field] = kind(environ[name])
                except ValueError:
                    raise ValueError(f"{name}={environ[name]!r} is not a number") from None
        return cls(**values)


REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Retry-After: 10\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
)


class ConnectionGuard:
    """Counts connections per address, refuses those over the caps, drops those that do not finish their
    request's headers in time. ``install`` hooks it into an aiohttp ``Server``."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.by_address: Counter[str] = Counter()
        self.refused = 0
        self.dropped = 0
        self._address: dict[RequestHandler, str] = {}
        self._deadlines: dict[RequestHandler, asyncio.TimerHandle] = {}

    @property
    def total(self) -> int:
        return len(self._address)

    def install(self, server: web.Server) -> None:
        made, lost, factory = server.connection_made, server.connection_lost, server.request_factory

        def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
            made(handler, transport)
            self.admit(handler, transport)

        def connection_lost(handler: RequestHandler, exc: BaseException | None = None) -> None:
            self.release(handler)
            lost(handler, exc)

        def request_factory(message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> Any:
            deadline = self._deadlines.pop(protocol, None)
            if deadline is not None:
                deadline.cancel()
            return factory(message, payload, protocol, writer, task)

        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]
        server.request_factory = request_factory

    def admit(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        limits = self.limits
        reason = ""
        if limits.max_total and self.total >= limits.max_total:
            reason = "the server has too many connections; try again shortly"
        elif limits.max_per_address and self.by_address[address] >= limits.max_per_address:
            reason = f"too many connections from {address}; at most {limits.max_per_address}"
        if reason:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning(
                    "connection from %s refused: %s (%d refused so far)", address, reason, self.refused
                )
            body = reason.encode()
            transport.pause_reading()
            transport.write(REFUSAL % (len(body), body))
            # Closed once aiohttp's handler task has started (it is created after this hook returns and
            # asserts its connection is alive when it starts): two loop turns from now.
            loop = asyncio.get_running_loop()
            loop.call_soon(loop.call_soon, transport.close)
            return
        self._address[handler] = address
        self.by_address[address] += 1
        loop = asyncio.get_running_loop()
        self._deadlines[handler] = loop.call_later(limits.header_timeout_s, self._expire, handler, transport)

    def _expire(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        self._deadlines.pop(handler, None)
        self.dropped += 1
        log.debug(
            "%s: no complete request within %g s; dropped",
            self._address.get(handler),
            self.limits.header_timeout_s,
        )
        transport.abort()

    def release(self, handler: RequestHandler) -> None:
        deadline = self._deadlines.pop(handler, None)
        if deadline is not None:
            deadline.cancel()
        address = self._address.pop(handler, None)
        if address is not None:
            self.by_address[address] -= 1
            if self.by_address[address] <= 0:
                del self.by_address[address]


class GuardedRunner(web.AppRunner):
    """``web.AppRunner`` whose server is guarded by ``ConnectionGuard`` (and whose keep-alive time-out is
    the limits' idle time-out)."""

    def __init__(
        self, app: web.Application, *, limits: ConnectionLimits | None = None, **kwargs: Any
    ) -> None:
        self.limits = limits or ConnectionLimits.from_env()
        kwargs.setdefault("keepalive_timeout", self.limits.idle_timeout_s)
        super().__init__(app, **kwargs)
        self.guard = ConnectionGuard(self.limits)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        self.guard.install(server)
        return server


def run_guarded(
    app: web.Application,
    *,
    host: str,
    port: int,
    ssl_context: Any = None,
    announce: Callable[[str], None] = print,
    drain: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, like ``web.run_app`` but behind the connection guard;
    ``drain`` runs between the signal and the shutdown (signaling_server.drain)."""

    async def serve() -> None:
        runner = GuardedRunner(app, access_log=None)
        await runner.setup()
        try:
            backlog = runner.limits.listen_backlog
            site = web.TCPSite(runner, host, port, ssl_context=ssl_context, backlog=backlog)
            await site.start()
            scheme = "https" if ssl_context is not None else "http"
            for address in runner.addresses:
                announce(f"======== Running on {scheme}://{address[0]}:{address[1]} ========")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await stop.wait()
            if drain is not None:
                await drain()
        finally:
            await runner.cleanup()  # on_shutdown: the queue is saved, clients told to reconnect

    asyncio.run(serve())


# ---------------------------------------------------------------------- pathological JSON

RELAYED = frozenset({"session_description", "ice_candidate"})  # no numbers but ids: not walked (hot path)


def parse_guarded(parse: Callable[[], Any]) -> Any:
    """``parse()`` (a protocol parser), with what it could raise or let through turned into ``malformed``:
    JSON nested beyond Python's recursion limit (``json.loads`` raises ``RecursionError``; 100,000 ``[``
    in a 64 KiB frame did it, before and after sign-in) and numbers that overflow to infinity (``1e999``
    is valid JSON and was stored as ``inf`` by the health registry). Integers over 4,300 digits are already
    refused by ``int()``."""
    try:
        message = parse()
    except RecursionError:
        raise ProtocolError(ErrorCode.MALFORMED, "not valid JSON: nested too deeply") from None
    if getattr(message, "type", "") not in RELAYED and not _finite(message, 0):
        about = getattr(message, "type", None)
        raise ProtocolError(ErrorCode.MALFORMED, "numbers must be finite", about)
    return message


def _finite(value: Any, depth: int) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if depth > 8:  # protocol messages are shallow; their validation already bounds the depth
        return True
    if isinstance(value, BaseModel):
        return all(_finite(v, depth + 1) for v in value.__dict__.values())
    if isinstance(value, dict):
        return all(_finite(v, depth + 1) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(v, depth + 1) for v in value)
    return True
