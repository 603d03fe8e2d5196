"""A follower that finds nobody holding the lease keeps its connections for ``LEADERLESS_TTLS``: between a
lease running out and the next node taking it, they stay under the old term and move when the next leader
listens. Closing them at once sent a 20,000-kiosk follower's 8,300 clients to the other survivor, which ran
out of descriptors (409 calls lost). Nobody leading for longer, they reconnect until somebody leads."""

from __future__ import annotations

import asyncio
from pathlib import Path

from signaling_server.cluster.node import CLUSTER, LEADERLESS_TTLS
from signaling_server.embedded import EmbeddedServer
from tests.cluster.nodes import TIMEOUT, kiosk, node_config, provision_fleet


async def test_a_moment_without_a_leader_closes_nothing_a_long_one_does(redis_server, tmp_path: Path):
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], [])
    async with EmbeddedServer(config_a, database) as _a, EmbeddedServer(config_b, database) as b:
        resident = kiosk(b.url, "kiosk-ueda", fleet)
        try:
            await resident.start(timeout=TIMEOUT)
            node = b.app[CLUSTER]
            leader = node.gateway.leader
            node._follow(None)  # the lease ran out a moment ago, nobody has taken it yet
            assert node.gateway.leader == leader and node.terms_closed == 0
            assert node.gateway.counts() == {"local": 0, "relayed": 1}
            offline = asyncio.ensure_future(resident.events.wait("offline", TIMEOUT))
            assert node._leaderless_since is not None
            node._leaderless_since -= LEADERLESS_TTLS * node.settings.lease_ttl_s  # nobody took it since
            node._follow(None)
            assert node.gateway.leader is None and node.terms_closed == 1
            await offline
        finally:
            await resident.stop()
