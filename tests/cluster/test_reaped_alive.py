"""A follower taken for dead while it is alive (its heartbeat key ran out: under load a node's heartbeat can
be late) does not leave its clients talking to nobody: the leader detached them, so the first message one
of them sends makes the leader close its connection, and the client reconnects, attaches again and goes on
(3,000-kiosk run: 126 connections of a live node were detached, and their calls never went on)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from signaling_server.cluster.node import CLUSTER
from signaling_server.embedded import EmbeddedServer
from tests.cluster.nodes import TIMEOUT, kiosk, node_config, provision_fleet


async def test_clients_of_a_node_reaped_alive_come_back(redis_server, tmp_path: Path):
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], ["hanako"])
    async with EmbeddedServer(config_a, database) as a, EmbeddedServer(config_b, database) as b:
        leader = a.app[CLUSTER]
        assert leader.leading and leader.desk is not None
        resident = kiosk(b.url, "kiosk-ueda", fleet)
        try:
            await resident.start(timeout=TIMEOUT)
            assert "kiosk-ueda" in a.switchboard.kiosks
            offline = asyncio.ensure_future(resident.events.wait("offline", TIMEOUT))
            online = asyncio.ensure_future(resident.events.wait("online", TIMEOUT))
            assert leader.desk.node_gone("node-b") == 1  # as when node-b's heartbeat key ran out
            assert "kiosk-ueda" not in a.switchboard.kiosks
            await resident.request_call("kosodate")  # relayed to a leader that no longer knows it
            await offline  # closed by the leader's word, through node-b
            await online  # back, attached again
            assert "kiosk-ueda" in a.switchboard.kiosks
            queued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))
            if resident.resident.call_id is None:  # the request before the close may have been lost
                await resident.request_call("kosodate")
            assert (await queued)["position"] == 1
        finally:
            await resident.stop()
