"""The signaling client: one websocket to the server, hello/welcome, typed messages, reconnect with backoff.

The client keeps reconnecting (exponential backoff with full jitter, capped) until ``close()``; after each
(re)connection it performs the hello and hands the welcome to ``on_welcome``. Messages from the server are
parsed and handed to ``on_message``; a message the client cannot parse is logged and skipped.

Given several URLs (the nodes of a cluster), the client moves to the next one whenever a connection is
refused or drops, and the backoff grows once per round through the list: a dead node costs one quick
refusal, not a doubled wait. ``url`` is the node in use; its HTTP endpoints are next to it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp

from config.client_urls import check_server_url, split_server_urls
from remote_call import protocol as p
from remote_call.tasks import cancel_and_wait

log = logging.getLogger(__name__)

__all__ = [
    "ServerUrls",
    "SignalingClient",
    "SignalingRefused",
    "check_server_url",
    "client_ssl_context",
    "split_server_urls",
]

Handler = Callable[[p.AnyMessage], Awaitable[None] | None]
ServerUrls = str | Sequence[str]  # one signaling URL, or a cluster's nodes in the order to try them
WelcomeHandler = Callable[[p.Welcome], Awaitable[None] | None]


def client_ssl_context(ca_file: str | Path) -> ssl.SSLContext:
    """TLS 1.2+ trusting only the city's CA in ``ca_file`` (PEM), with hostname checks."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class SignalingRefused(Exception):
    """The server refused our hello (bad credentials, wrong version): retrying will not help."""


class SignalingClient:
    def __init__(
        self,
        url: ServerUrls,
        hello: Callable[[], p.Hello],
        *,
        on_message: Handler,
        on_welcome: WelcomeHandler | None = None,
        on_disconnect: Callable[[], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 15.0,
    ):
        self.urls = [url] if isinstance(url, str) else list(url)
        if not self.urls:
            raise ValueError("SignalingClient needs at least one URL")
        self._index = 0  # the URL in use, or tried next
        self._hello = hello
        self._on_message = on_message
        self._on_welcome = on_welcome
        self._on_disconnect = on_disconnect
        self._ssl = ssl_context
        self._backoff_initial = backoff_initial_s
        self._backoff_max = backoff_max_s
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.connected = asyncio.Event()
        self.refused: SignalingRefused | None = None
        self.welcome: p.Welcome | None = None
        self.attempts = 0

    @property
    def url(self) -> str:
        """The URL of the node in use (or to be tried next): its HTTP endpoints are next to it."""
        return self.urls[self._index]

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"signaling {self.url}")

    async def wait_connected(self, timeout: float) -> p.Welcome:
        """Wait for a welcome; raise SignalingRefused at once if the server refused our credentials."""
        if self._task is None:
            raise RuntimeError("wait_connected() before start()")
        waiter = asyncio.create_task(self.connected.wait())
        await asyncio.wait({waiter, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self.refused is not None:
            raise self.refused
        welcome = self.welcome  # set before `connected`, and never cleared
        if not self.connected.is_set() or welcome is None:
            raise TimeoutError(f"no connection to {', '.join(self.urls)} within {timeout} s")
        return welcome

    async def send(self, message: p.Wire) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            raise ConnectionError("not connected to the signaling server")
        await ws.send_str(p.encode(message))

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            await cancel_and_wait(self._task)
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        self._session = aiohttp.ClientSession()
        delay = self._backoff_initial
        failures = 0  # attempts since the last welcome
        while not self._closing:
            self.attempts += 1
            welcomed = False
            try:
                await self._connect_once()
            except SignalingRefused as exc:
                self.refused = exc
                log.error("signaling refused: %s", exc)
                return
            except (aiohttp.ClientError, ConnectionError, OSError, TimeoutError) as exc:
                log.info("signaling connection to %s failed: %s", self.url, exc)
            finally:
                if self.connected.is_set():
                    welcomed = True
                    self.connected.clear()
                    if self._on_disconnect:
                        self._on_disconnect()
            if self._closing:
                return
            if welcomed:  # a session that got welcomed resets the backoff
                failures, delay = 0, self._backoff_initial
            failures += 1
            self._index = (self._index + 1) % len(self.urls)  # refused or dropped: the next node
            await asyncio.sleep(random.uniform(0, delay))  # full jitter: spreads a fleet's reconnects
            if failures % len(self.urls) == 0:  # a whole round failed: back off further
                delay = min(self._backoff_max, delay * 2)

    async def _connect_once(self) -> None:
        assert self._session is not None
        async with self._session.ws_connect(
            self.url, heartbeat=10.0, ssl=self._ssl if self._ssl is not None else True, max_msg_size=1 << 20
        ) as ws:
            self._ws = ws
            await ws.send_str(p.encode(self._hello()))
            first = await ws.receive(timeout=15)
            if first.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"connection closed before welcome ({first.type.name})")
            message = p.parse_message(first.data, max_bytes=1 << 20)
            if isinstance(message, p.Error):
                if message.code in (p.ErrorCode.UNAUTHENTICATED, p.ErrorCode.VERSION, p.ErrorCode.INVALID):
                    raise SignalingRefused(message.detail)
                raise ConnectionError(message.detail)
            if not isinstance(message, p.Welcome):
                raise ConnectionError(f"expected welcome, got {message.type}")
            self.welcome = message
            self.connected.set()
            if self._on_welcome:
                await _maybe_await(self._on_welcome(message))
            async for frame in ws:
                if frame.type is not aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    message = p.parse_message(frame.data, max_bytes=1 << 20)
                except p.ProtocolError as exc:
                    log.warning("ignored an unreadable message from the server: %s", exc.detail)
                    continue
                try:
                    await _maybe_await(self._on_message(message))
                except Exception:
                    log.exception("handling %s failed", message.type)
        self._ws = None


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if result is not None:
        await result
