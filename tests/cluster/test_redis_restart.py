"""Redis goes away and comes back empty: every node says so (log, alert, /healthz, /metrics), the leader stops
deciding when its lease runs out, connections are refused rather than relayed into the void; when Redis is
back a node takes a new term, restores the switchboard from the store, and the waiting resident is still
first in line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from signaling_server.cluster.node import CLUSTER
from signaling_server.embedded import EmbeddedServer
from tests.cluster.nodes import TIMEOUT, alert_event, kiosk, node_config, officer, provision_fleet


async def get(server: EmbeddedServer, path: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(server.http_url + path) as response:
        return await response.text()


async def test_redis_restart_degrades_then_recovers(redis_server, tmp_path: Path):
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], ["hanako"])
    async with EmbeddedServer(config_a, database) as a, EmbeddedServer(config_b, database) as b:
        resident = kiosk(b.url, "kiosk-ueda", fleet)
        staff = officer(a.url, "hanako")
        try:
            await resident.start(timeout=TIMEOUT)
            queued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))
            await resident.request_call("kosodate")
            assert (await queued)["position"] == 1
            call_id = resident.resident.call_id
            raised = [alert_event(server, "raised") for server in (a, b)]
            cleared = [alert_event(server, "cleared") for server in (a, b)]
            offline = asyncio.ensure_future(resident.events.wait("offline", TIMEOUT))
            online = asyncio.ensure_future(resident.events.wait("online", TIMEOUT))
            requeued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))

            await redis_server.stop(kill=True)
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in raised)), TIMEOUT)
            await offline  # its node closed it: nothing is relayed to a leader it cannot reach
            for server in (a, b):
                node = server.app[CLUSTER]
                assert node.status()["redis"] == "down"
                assert f'madoguchi_cluster_redis_up{{node="{node.node_id}"}} 0.0' in await get(
                    server, "/metrics"
                )
            assert '"redis": "down"' in await get(b, "/healthz")

            await redis_server.start()  # empty: no lease, no epoch counter
            await online
            again = await requeued
            assert resident.resident.call_id == call_id and again["position"] == 1
            await asyncio.wait_for(asyncio.gather(*(c.wait() for c in cleared)), TIMEOUT)
            node_a, node_b = a.app[CLUSTER], b.app[CLUSTER]
            leaders = [node for node in (node_a, node_b) if node.leading]
            assert len(leaders) == 1  # either may take the new term: a deposed leader stands again
            assert leaders[0].lease.highest_epoch > 1  # never an epoch seen before
            assert node_a.redis_up and node_b.redis_up

            ringing = asyncio.ensure_future(staff.events.wait("ring", TIMEOUT, call_id=call_id))
            await staff.start(timeout=TIMEOUT)  # on a: local or relayed, whichever leads
            await staff.set_available()
            await ringing
        finally:
            await resident.stop()
            await staff.stop()
