"""Debian's haproxy in front of two server nodes (real processes over one SQLite file): a kiosk and an officer
that know only haproxy's URL complete a call with media; the node they use is drained (SIGTERM), the health
checks take it out, and both reconnect through haproxy to the other node and resume where they were."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from staff_console.controller import ConsoleController

from .haproxy import Haproxy, haproxy  # noqa: F401  (the fixture)
from .node_process import PASSWORD, NodeProcess, city

TIMEOUT = 30.0
FAST = {"backoff_initial_s": 0.2, "backoff_max_s": 1.0}


async def _more_frames(session, count: int) -> None:
    start = session.remote_video.count
    arrived = asyncio.Event()
    session.remote_video.listeners.append(
        lambda _f: session.remote_video.count - start >= count and arrived.set()
    )
    await asyncio.wait_for(arrived.wait(), TIMEOUT)


async def _health(url: str) -> dict:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as response:
        assert response.status == 200
        return await response.json()


async def _call_through(proxy: Haproxy, kiosk: KioskController, officer: ConsoleController) -> str:
    """One call from request to completed, every message through haproxy; media peer to peer."""
    ringing = asyncio.ensure_future(officer.events.wait("ring", TIMEOUT))
    await kiosk.request_call("kosodate")
    await ringing
    started = asyncio.ensure_future(officer.events.wait("call_started", TIMEOUT))
    await officer.accept()
    call_id = (await started)["call_id"]
    await _more_frames(officer.party.session, 10)
    await _more_frames(kiosk.party.session, 10)
    ended = asyncio.ensure_future(kiosk.events.wait("call_ended", TIMEOUT))
    await officer.end_call("resolved", "haproxy 経由の通話")
    assert (await ended)["reason"] == "completed"
    return call_id


@pytest.mark.slow
async def test_clients_behind_haproxy_call_and_move_when_a_node_drains(tmp_path: Path, haproxy):  # noqa: F811
    config_path, fleet = city(tmp_path, ["kiosk-ueda"], ["hanako"], drain_notice_s=2.0)
    node1, node2 = NodeProcess(config_path), NodeProcess(config_path)
    proxy: Haproxy = haproxy({"node1": node1.port, "node2": node2.port})
    kiosk = KioskController(
        proxy.url,
        "kiosk-ueda",
        fleet.kiosk_tokens["kiosk-ueda"],
        SimulatedMedia("ueda", 320, 240, 15, 440),
        **FAST,
    )
    officer = ConsoleController(
        proxy.url, "hanako", PASSWORD, SimulatedMedia("hanako", 320, 240, 15, 660), **FAST
    )
    try:
        await node1.start()
        await proxy.start()
        await proxy.logged("Server nodes/node2 is DOWN")  # the health check: nothing listens there yet
        assert await proxy.server_status() == {"node1": "UP", "node2": "DOWN"}
        await kiosk.start(timeout=TIMEOUT)
        await officer.start(timeout=TIMEOUT)
        assert (await _health(proxy.http))["kiosks"] == 1  # node1 answers through haproxy
        await _call_through(proxy, kiosk, officer)

        # The officer is in wrap-up; the next resident waits first in the queue.
        await kiosk.reset()  # the after-call screen is left: the next resident's session
        queued = asyncio.ensure_future(kiosk.events.wait("queue", TIMEOUT))
        await kiosk.request_call("kosodate")
        assert (await queued)["position"] == 1
        waiting_call = kiosk.resident.call_id

        mark = len(proxy.log)
        offline = [asyncio.ensure_future(c.events.wait("offline", TIMEOUT)) for c in (kiosk, officer)]
        node1.send_signal(signal.SIGTERM)
        down = await proxy.logged("Server nodes/node1 is DOWN", after=mark)  # /healthz said draining
        assert "503" in down
        await asyncio.gather(*offline)
        assert await node1.wait() == 0

        back = [asyncio.ensure_future(c.events.wait("online", TIMEOUT)) for c in (kiosk, officer)]
        requeued = asyncio.ensure_future(kiosk.events.wait("queue", TIMEOUT))
        await node2.start()
        await proxy.logged("Server nodes/node2 is UP", after=mark)
        await asyncio.gather(*back)
        again = await requeued
        assert kiosk.resident.call_id == waiting_call and again["position"] == 1
        assert await proxy.server_status() == {"node1": "DOWN", "node2": "UP"}
        assert kiosk.client.url == proxy.url and officer.client.url == proxy.url

        # Served by node2 now: the officer ends the wrap-up and is offered the waiting resident.
        ring = asyncio.ensure_future(officer.events.wait("ring", TIMEOUT, call_id=waiting_call))
        await officer.set_available()
        await ring
        health = await _health(node2.http)
        assert (health["kiosks"], health["officers"]) == (1, 1)
    finally:
        for client in (kiosk, officer):
            await client.stop()
        await proxy.stop()
        for node in (node1, node2):
            await node.close()
