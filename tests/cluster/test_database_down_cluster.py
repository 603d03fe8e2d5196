"""PostgreSQL going away under two nodes (docs/deployment-cluster.md, "When a part fails"): each node says
so (alert, /healthz 503 with ``"database": "down"``, ``"candidate": false``); a node whose database is
unreachable does not take the lease (it could not restore), so when the leader is deposed meanwhile the
resident's reconnection waits; when PostgreSQL returns a node takes the next term, restores, and the
resident is back in its place."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from devtools.postgres_engine import PostgresCluster, missing_reason, running_cluster
from signaling_server.cluster.node import CLUSTER
from signaling_server.database_watch import ALERT_KIND
from signaling_server.embedded import EmbeddedServer
from signaling_server.monitor import MONITOR
from tests.cluster.nodes import TIMEOUT, kiosk, node_config, provision_fleet


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PostgresCluster]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_cluster() as cluster:
        yield cluster


def alert_events(server: EmbeddedServer) -> dict[str, asyncio.Event]:
    events = {"raised": asyncio.Event(), "cleared": asyncio.Event()}

    def observe(event: str, alert: Any) -> None:
        if alert.kind == ALERT_KIND and event in events:
            events[event].set()

    server.app[MONITOR].alerts.observers.append(observe)
    return events


async def healthz(server: EmbeddedServer) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"{server.http_url}/healthz") as response:
        return response.status, await response.json()


@pytest.mark.slow
async def test_no_node_leads_without_its_database_and_one_does_once_it_returns(
    redis_server, own_cluster: PostgresCluster
) -> None:
    url = own_cluster.create_database()
    config_a = node_config(redis_server.url, "node-a", url)
    config_b = node_config(redis_server.url, "node-b", url)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], [])
    try:
        async with EmbeddedServer(config_a, url) as a, EmbeddedServer(config_b, url) as b:
            node_a, node_b = a.app[CLUSTER], b.app[CLUSTER]
            resident = kiosk(b.url, "kiosk-ueda", fleet)  # relayed to the leader, a
            try:
                assert node_a.leading
                await resident.start(timeout=TIMEOUT)
                queued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))
                await resident.request_call("kosodate")
                await queued
                call_id = resident.resident.call_id
                alerts = [alert_events(server) for server in (a, b)]

                own_cluster.stop_server("fast")
                await asyncio.wait_for(asyncio.gather(*(e["raised"].wait() for e in alerts)), TIMEOUT)
                for server, node in ((a, node_a), (b, node_b)):
                    status, body = await healthz(server)
                    assert (status, body["database"], body["cluster"]["candidate"]) == (503, "down", False)
                    assert not node.may_lead

                offline = asyncio.ensure_future(resident.events.wait("offline", TIMEOUT))
                await node_a.redis.delete(node_a.lease.key)  # the leader deposed while the database is down
                await node_a._beat()  # its renewal now, not at its keeper's next period (CI saw it lead on)
                await offline  # nobody leads: its connection closes; a new sign-in is refused meanwhile
                assert not node_a.leading and not node_b.leading

                online = asyncio.ensure_future(resident.events.wait("online", TIMEOUT))
                requeued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))
                own_cluster.start_server()
                await asyncio.wait_for(asyncio.gather(*(e["cleared"].wait() for e in alerts)), TIMEOUT)
                await online
                assert (await requeued)["position"] == 1 and resident.resident.call_id == call_id
                assert [node_a.leading, node_b.leading].count(True) == 1  # the next term, restored
                assert (await healthz(a))[0] == 200 and (await healthz(b))[0] == 200
            finally:
                await resident.stop()
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            own_cluster.start_server()
        own_cluster.drop_database(url)
