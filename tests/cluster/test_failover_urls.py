"""Clients over a list of server URLs: a dead node is skipped, and when the node in use dies the kiosk moves
to the next one and resumes its place in the queue as after a restart (real server processes, one SQLite
file). Also the ``server.urls`` setting and ``--server`` lists, checked with clear errors."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from config.client_urls import client_urls, split_server_urls
from config.loader import ConfigError, parse_config
from config.schema import AppConfig
from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from remote_call.signaling_client import SignalingClient
from signaling_server.testing import test_config
from staff_console.controller import ConsoleController

from .node_process import PASSWORD, NodeProcess, city, free_port

TIMEOUT = 30.0
FAST = {"backoff_initial_s": 0.2, "backoff_max_s": 1.0}


def _with_urls(urls: object) -> dict:
    data = test_config().model_dump(mode="json", exclude_none=True)
    data["server"]["urls"] = urls
    return data


def test_server_urls_are_checked_with_clear_errors():
    good = ["wss://node1.city.local/ws", "wss://node2.city.local/ws"]
    assert parse_config(_with_urls(good)).server.urls == good
    assert AppConfig.model_fields["server"].default.urls == []  # one URL from --server stays the default
    for urls, message in (
        (["https://node1.city.local/ws"], "URL 1 of 1: must be a ws:// or wss:// URL"),
        (["wss://a.local/ws", "ws://10.0.0.2/ws"], "URL 2 of 2: ws:// sends credentials in clear"),
        (["wss://a.local/ws", "wss://a.local/ws"], "'wss://a.local/ws' is listed twice"),
    ):
        with pytest.raises(ConfigError) as caught:
            parse_config(_with_urls(urls), "city.toml")
        assert "server.urls" in str(caught.value) and message in str(caught.value)


def test_the_command_line_list_wins_over_the_configured_one():
    assert split_server_urls("ws://127.0.0.1:1/ws, ws://127.0.0.1:2/ws") == [
        "ws://127.0.0.1:1/ws",
        "ws://127.0.0.1:2/ws",
    ]
    assert client_urls("wss://a.local/ws", ["wss://b.local/ws"]) == ["wss://a.local/ws"]
    assert client_urls(None, ["wss://b.local/ws", "wss://c.local/ws"]) == [
        "wss://b.local/ws",
        "wss://c.local/ws",
    ]
    with pytest.raises(ValueError, match=r"pass --server .* or set server\.urls"):
        client_urls(None, [])
    with pytest.raises(ValueError, match="no URL given"):
        split_server_urls(" , ")
    with pytest.raises(ValueError, match="needs at least one URL"):
        SignalingClient([], lambda: None, on_message=lambda _m: None)  # type: ignore[arg-type, return-value]


@pytest.mark.slow
async def test_kiosk_skips_a_dead_node_and_moves_when_its_node_dies(tmp_path: Path):
    config_path, fleet = city(tmp_path, ["kiosk-ueda"], ["hanako"])
    dead = f"ws://127.0.0.1:{free_port()}/ws"  # nothing listens there: connections are refused
    first, second = NodeProcess(config_path), NodeProcess(config_path)
    urls = [dead, first.url, second.url]
    kiosk = KioskController(
        urls,
        "kiosk-ueda",
        fleet.kiosk_tokens["kiosk-ueda"],
        SimulatedMedia("ueda", 320, 240, 15, 440),
        **FAST,
    )
    officer = ConsoleController(
        [dead, second.url], "hanako", PASSWORD, SimulatedMedia("hanako", 320, 240, 15, 660), **FAST
    )
    try:
        await first.start()
        await kiosk.start(timeout=TIMEOUT)
        assert (
            kiosk.client.url == first.url and kiosk.client.attempts == 2
        )  # the dead node, then the live one
        assert kiosk.departments_url == f"{first.http}/api/departments"  # HTTP next to the node in use
        queued = asyncio.ensure_future(kiosk.events.wait("queue", TIMEOUT))
        await kiosk.request_call("kenchiku-shido")
        assert (await queued)["position"] == 1
        call_id = kiosk.resident.call_id

        offline = asyncio.ensure_future(kiosk.events.wait("offline", TIMEOUT))
        assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
        await offline
        online = asyncio.ensure_future(kiosk.events.wait("online", TIMEOUT))
        requeued = asyncio.ensure_future(kiosk.events.wait("queue", TIMEOUT))
        await second.start()  # another port, the same records
        await online
        assert kiosk.client.url == second.url
        again = await requeued
        assert kiosk.resident.call_id == call_id and again["position"] == 1

        # The place is live on the new node: an officer signing in there is offered this very call.
        ring = asyncio.ensure_future(officer.events.wait("ring", TIMEOUT, call_id=call_id))
        await officer.start(timeout=TIMEOUT)
        await ring
    finally:
        for client in (kiosk, officer):
            await client.stop()
        for node in (first, second):
            await node.close()
