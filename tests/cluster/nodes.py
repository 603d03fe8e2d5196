"""Helpers for the cluster tests: node configurations on one shared database, clients, frame counting."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import redis

from config.schema import AppConfig, ClusterConfig
from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from signaling_server.cluster.degraded import ALERT_KIND
from signaling_server.embedded import EmbeddedServer, Fleet, provision
from signaling_server.monitor import MONITOR
from signaling_server.store import Store
from signaling_server.testing import test_config
from staff_console.controller import ConsoleController

PASSWORD = "cluster-test-password"
TIMEOUT = 30.0
FAST = {"backoff_initial_s": 0.2, "backoff_max_s": 1.0}
LEASE_TTL_S = 1.5  # takeover within about this after a leader dies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_config(redis_url: str, node_id: str, database: Path, port: int = 0) -> AppConfig:
    cluster = ClusterConfig(redis_url=redis_url, node_id=node_id, lease_ttl_s=LEASE_TTL_S)
    return test_config(port=port, database=str(database), cluster=cluster)


def provision_fleet(config: AppConfig, kiosks: list[str], officers: list[str]) -> Fleet:
    store = Store(config.server.database)
    try:
        return provision(store, config, kiosk_ids=kiosks, officers=officers, password=PASSWORD)
    finally:
        store.close()


def kiosk(url: str | list[str], kiosk_id: str, fleet: Fleet) -> KioskController:
    media = SimulatedMedia(kiosk_id, 320, 240, 15, 440)
    return KioskController(url, kiosk_id, fleet.kiosk_tokens[kiosk_id], media, **FAST)


def officer(url: str | list[str], username: str) -> ConsoleController:
    return ConsoleController(url, username, PASSWORD, SimulatedMedia(username, 320, 240, 15, 660), **FAST)


async def more_frames(session, count: int) -> None:
    """Wait until ``count`` more video frames arrived over the call's media."""
    start = session.remote_video.count
    arrived = asyncio.Event()
    session.remote_video.listeners.append(
        lambda _f: session.remote_video.count - start >= count and arrived.set()
    )
    await asyncio.wait_for(arrived.wait(), TIMEOUT)


def overflow(redis_url: str, channel: str) -> None:
    """Make redis-server drop the subscribers of ``channel`` as it drops a reader that lags behind: past its
    ``client-output-buffer-limit pubsub`` (32 MB here by default; 1 MB for this). The event loop is blocked
    while 8 MB are published with a blocking client, so no subscriber in this process reads meanwhile."""
    client = redis.Redis.from_url(redis_url)
    try:
        limit = client.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
        client.config_set("client-output-buffer-limit", "pubsub 1mb 1mb 0")
        junk = "x" * 65536
        for _ in range(128):
            client.publish(channel, junk)
        client.config_set("client-output-buffer-limit", limit)
    finally:
        client.close()


def alert_event(server: EmbeddedServer, event: str) -> asyncio.Event:
    """Set when this node's monitor raises (or clears) its Redis alert."""
    happened = asyncio.Event()

    def observe(kind: str, alert) -> None:
        if kind == event and alert.kind == ALERT_KIND:
            happened.set()

    server.app[MONITOR].alerts.observers.append(observe)
    return happened


async def metrics(server: EmbeddedServer) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{server.http_url}/metrics") as response:
        return await response.text()
