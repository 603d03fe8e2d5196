"""SIGTERM drains a node (a real server process): /healthz says draining and new connections are refused
for the notice, then every client is told to go away (1001 with a hint) and the process exits 0; a kiosk
with a URL list resumes its place on the next node."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from remote_call import protocol as p
from signaling_server.drain import GOING_AWAY

from .node_process import NodeProcess, city

TIMEOUT = 30.0
FAST = {"backoff_initial_s": 0.2, "backoff_max_s": 1.0}
NOTICE_S = 4.0  # long enough to look at the draining node under a loaded machine


async def _kiosk_socket(http: aiohttp.ClientSession, url: str, kiosk_id: str, token: str):
    ws = await http.ws_connect(url)
    hello = p.Hello(
        v=p.PROTOCOL_VERSION,
        role=p.Role.KIOSK,
        app_version="drain-test",
        credentials=p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=token),
    )
    await ws.send_str(p.encode(hello))
    welcome = await ws.receive(timeout=TIMEOUT)
    assert p.parse_message(welcome.data).type == "welcome"
    return ws


@pytest.mark.slow
async def test_sigterm_drains_the_node_and_its_clients_move(tmp_path: Path):
    config_path, fleet = city(tmp_path, ["kiosk-ueda", "kiosk-tonan"], [], drain_notice_s=NOTICE_S)
    first, second = NodeProcess(config_path), NodeProcess(config_path)
    kiosk = KioskController(
        [first.url, second.url],
        "kiosk-ueda",
        fleet.kiosk_tokens["kiosk-ueda"],
        SimulatedMedia("ueda", 320, 240, 15, 440),
        **FAST,
    )
    async with aiohttp.ClientSession() as http:
        try:
            await first.start()
            await kiosk.start(timeout=TIMEOUT)
            raw = await _kiosk_socket(http, first.url, "kiosk-tonan", fleet.kiosk_tokens["kiosk-tonan"])
            queued = asyncio.ensure_future(kiosk.events.wait("queue", TIMEOUT))
            await kiosk.request_call("kenchiku-shido")
            assert (await queued)["position"] == 1
            call_id = kiosk.resident.call_id
            async with http.get(f"{first.http}/healthz") as response:
                assert response.status == 200

            offline = asyncio.ensure_future(kiosk.events.wait("offline", TIMEOUT))
            first.send_signal(signal.SIGTERM)
            await first.logged("SIGTERM: draining")
            async with http.get(f"{first.http}/healthz") as response:  # the load balancer takes it out
                assert (response.status, await response.json()) == (503, {"status": "draining"})
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:  # no new connections
                await http.ws_connect(first.url)
            assert refused.value.status == 503
            assert kiosk.online  # its clients stay until the notice is over

            closed = await raw.receive(timeout=TIMEOUT + NOTICE_S)  # then: going away, reconnect elsewhere
            assert (closed.type, closed.data, closed.extra) == (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSCloseCode.GOING_AWAY,
                GOING_AWAY.decode(),
            )
            await offline
            assert await first.wait() == 0  # every client gone: the node exits cleanly

            online = asyncio.ensure_future(kiosk.events.wait("online", TIMEOUT))
            requeued = asyncio.ensure_future(kiosk.events.wait("queue", TIMEOUT))
            await second.start()
            await online
            assert kiosk.client.url == second.url
            again = await requeued
            assert kiosk.resident.call_id == call_id and again["position"] == 1
        finally:
            await kiosk.stop()
            for node in (first, second):
                await node.close()
