"""Fixtures for the monitoring tests: a server with monitoring set up, an IT admin, extra kiosks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from remote_call import protocol as p
from signaling_server.auth import Authenticator, hash_password
from signaling_server.embedded import EmbeddedServer
from signaling_server.monitoring import setup_monitoring

IT_ADMIN = "it-sato"
IT_PASSWORD = "it admin passphrase"


def heartbeat(**devices: str | tuple[str, str]) -> p.Heartbeat:
    """A heartbeat with the given device statuses ("ok", or (status, detail))."""
    statuses = {}
    for name, value in devices.items():
        status, detail = (value, "") if isinstance(value, str) else value
        statuses[name] = p.DeviceStatus(status=status, detail=detail)
    return p.Heartbeat(
        app_version="1.4.2",
        uptime_s=3600,
        os="Linux 6.1",
        cpu_percent=12.5,
        memory_percent=41.0,
        disk_percent=63.0,
        devices=statuses,
        rtt_ms=8.5,
    )


def add_kiosks(server: EmbeddedServer, ids: list[str]) -> dict[str, str]:
    auth = Authenticator(server.store, session_ttl_s=3600)
    tokens = {kiosk_id: auth.issue_kiosk_token(kiosk_id) for kiosk_id in ids}
    server.fleet.kiosk_tokens.update(tokens)
    return tokens


@pytest.fixture
def monitored(make_server) -> Callable[..., EmbeddedServer]:
    """``async with monitored(**overrides) as srv``: monitoring set up, an IT admin account provisioned."""

    def factory(clock: Callable[[], float] = time.time, **overrides: Any) -> EmbeddedServer:
        server = make_server(clock=clock)  # heartbeats are stamped with the monitor's time
        setup_monitoring(server.app, overrides=overrides, clock=clock)
        server.store.add_officer(IT_ADMIN, "佐藤 情報", "it_admin", hash_password(IT_PASSWORD), {})
        return server

    return factory


class FakeClock:
    """Wall-clock time that only moves when a test moves it."""

    def __init__(self, start: float | None = None):
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class WebhookReceiver:
    """A local webhook endpoint on 127.0.0.1:0 recording what it is sent; it can fail the first N posts."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.posts: list[dict[str, Any]] = []
        self.attempts = 0
        self.arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.attempts <= self.fail_first:
            return web.Response(status=503)
        payload = await request.json()
        self.posts.append(payload)
        await self.arrived.put(payload)
        return web.Response(status=204)

    async def __aenter__(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def next(self, timeout: float = 10.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.arrived.get(), timeout)


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as hook:
        yield hook
