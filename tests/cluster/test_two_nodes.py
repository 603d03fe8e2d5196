"""Two nodes in one process on one Redis and one database: a kiosk on the follower and an officer on the
leader complete a call; its signaling is relayed over Redis, its media flows between them on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from remote_call import protocol as p
from signaling_server.cluster.node import CLUSTER
from signaling_server.embedded import EmbeddedServer
from signaling_server.revocation import CHECK_EVERY_S
from signaling_server.store import Store
from signaling_server.testing import WireClient
from tests.cluster.nodes import TIMEOUT, kiosk, metrics, more_frames, node_config, officer, provision_fleet

REVOKED_WITHIN_S = CHECK_EVERY_S + 3.0  # one check period, and slack for a loaded machine


async def healthz(server: EmbeddedServer) -> dict:
    async with aiohttp.ClientSession() as session, session.get(f"{server.http_url}/healthz") as response:
        return await response.json()


async def test_a_call_across_two_nodes(redis_server, tmp_path: Path):
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], ["hanako"])
    async with EmbeddedServer(config_a, database) as a, EmbeddedServer(config_b, database) as b:
        assert a.app[CLUSTER].leading and not b.app[CLUSTER].leading  # the first node took the lease
        health_a, health_b = await healthz(a), await healthz(b)
        assert health_a["cluster"]["node"] == "node-a" and health_a["cluster"]["leader"] is True
        assert health_b["cluster"] | {"connections": None} == {
            "node": "node-b",
            "leader": False,
            "leader_node": "node-a",
            "epoch": health_a["cluster"]["epoch"],
            "redis": "up",
            "candidate": True,
            "connections": None,
        }
        resident = kiosk(b.url, "kiosk-ueda", fleet)
        staff = officer(a.url, "hanako")
        try:
            await resident.start(timeout=TIMEOUT)
            await staff.start(timeout=TIMEOUT)
            assert b.app[CLUSTER].gateway.counts() == {"local": 0, "relayed": 1}
            assert "kiosk-ueda" in a.switchboard.kiosks and not b.switchboard.kiosks  # one switchboard
            ringing = asyncio.ensure_future(staff.events.wait("ring", TIMEOUT))
            await resident.request_call("kosodate")
            await ringing
            started = asyncio.ensure_future(staff.events.wait("call_started", TIMEOUT))
            await staff.accept()
            call_id = (await started)["call_id"]
            await more_frames(staff.party.session, 30)
            await more_frames(resident.party.session, 30)
            ended = asyncio.ensure_future(resident.events.wait("call_ended", TIMEOUT))
            await staff.end_call("resolved", "二つのノードをまたいだ通話")
            assert (await ended)["reason"] == "completed"
            assert a.app[CLUSTER].desk is not None and a.app[CLUSTER].desk.relayed >= 3
            text_b = await metrics(b)
            assert 'madoguchi_cluster_leader{node="node-b"} 0.0' in text_b
            assert 'madoguchi_cluster_connections{node="node-b",route="relayed"} 1.0' in text_b
            assert 'madoguchi_cluster_leader{node="node-a"} 1.0' in await metrics(a)
        finally:
            await resident.stop()
            await staff.stop()
    store = Store(database)
    record = store.call(call_id)
    store.close()
    assert (record.state, record.end_reason, record.outcome, record.officer) == (
        "ended",
        "completed",
        "resolved",
        "hanako",
    )


async def test_no_leader_refuses_connections_until_one_leads(redis_server, tmp_path: Path):
    """A node that knows of no leader refuses sign-ins with an error the clients retry on."""
    database = tmp_path / "madoguchi.sqlite3"
    config = node_config(redis_server.url, "node-a", database)
    fleet = provision_fleet(config, ["kiosk-ueda"], [])
    async with EmbeddedServer(config, database) as a:
        node = a.app[CLUSTER]
        node.candidate = False  # as a deposed node: it may not lead
        await node.lease.release()
        node._follow(None)
        resident = kiosk(a.url, "kiosk-ueda", fleet)
        try:
            refused = asyncio.ensure_future(resident.start(timeout=2.0))
            try:
                await refused
            except TimeoutError:
                pass
            else:
                raise AssertionError("a node with no leader welcomed a kiosk")
            assert resident.client.attempts >= 1
            node.candidate = True  # it may lead again: the keeper takes the lease, the kiosk gets in
            node._wake.set()
            await resident.start(timeout=TIMEOUT)
            assert node.leading and "kiosk-ueda" in a.switchboard.kiosks
        finally:
            await resident.stop()


async def test_a_leader_stopped_cleanly_hands_over(redis_server, tmp_path: Path):
    """SIGTERM's path: the leader saves the queue, releases the lease and says so; the follower takes the
    next term and the resident waiting through it is still first, on the same connection: the follower
    moves it to its own switchboard instead of closing it (before: closed, reconnected, welcomed again)."""
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], [])
    a = EmbeddedServer(config_a, database)
    await a.__aenter__()
    a_running = True
    try:
        async with EmbeddedServer(config_b, database) as b:
            resident = kiosk(b.url, "kiosk-ueda", fleet)
            try:
                await resident.start(timeout=TIMEOUT)
                queued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))
                await resident.request_call("kosodate")
                assert (await queued)["position"] == 1
                call_id = resident.resident.call_id
                links: list[str] = []  # a close ("offline") or a second welcome ("online")
                resident.events.subscribe(
                    lambda event, _data: event in ("online", "offline") and links.append(event)
                )
                requeued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))
                a_running = False
                await a.__aexit__(None, None, None)
                assert (await requeued)["position"] == 1 and resident.resident.call_id == call_id
                node = b.app[CLUSTER]
                assert node.leading and node.status()["epoch"] == 2 and node.candidate
                assert "kiosk-ueda" in b.switchboard.kiosks
                assert links == [] and node.gateway.repointed == 1 and node.terms_closed == 0
                assert node.gateway.counts() == {"local": 1, "relayed": 0}
            finally:
                await resident.stop()
    finally:
        if a_running:
            await a.__aexit__(None, None, None)


async def test_a_leader_whose_lease_is_taken_stops_deciding(redis_server, tmp_path: Path):
    """The lease key vanishes under the leader (as when it paused past its TTL) and the follower takes a
    new term: the old leader's renewal is refused, it stands its switchboard down and forgets its clients,
    which reconnect and resume with the new leader; it drops its memory and may stand again."""
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], [])
    async with EmbeddedServer(config_a, database) as a, EmbeddedServer(config_b, database) as b:
        resident = kiosk(a.url, "kiosk-ueda", fleet)  # on the leader itself
        try:
            await resident.start(timeout=TIMEOUT)
            queued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))
            await resident.request_call("kosodate")
            assert (await queued)["position"] == 1
            call_id = resident.resident.call_id
            node_a, node_b = a.app[CLUSTER], b.app[CLUSTER]
            assert node_a.leading and node_a.gateway.counts() == {"local": 1, "relayed": 0}
            online = asyncio.ensure_future(resident.events.wait("online", TIMEOUT))
            requeued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))
            await node_a.redis.delete(node_a.lease.key)
            await online
            assert (await requeued)["position"] == 1 and resident.resident.call_id == call_id
            assert node_b.leading and node_b.status()["epoch"] == 2
            assert not node_a.leading and node_a.candidate  # it may stand again (test_stand_again.py)
            assert not a.switchboard.kiosks and node_a.desk is None  # stood down: nothing left to decide
            assert not a.switchboard.calls  # and its memory dropped: restored afresh if it leads again
            assert "kiosk-ueda" in b.switchboard.kiosks  # the kiosk is on a, relayed to b now
            assert node_a.gateway.counts() == {"local": 0, "relayed": 1}
        finally:
            await resident.stop()


async def test_a_revoked_kiosk_token_ends_a_relayed_connection(redis_server, tmp_path: Path):
    """The leader's revocation check covers the connections other nodes hold: a kiosk on the follower whose
    device token is revoked (madoguchi-admin, another database connection) is told and disconnected."""
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda", "kiosk-tonan"], [])
    async with EmbeddedServer(config_a, database) as a, EmbeddedServer(config_b, database) as b:
        tokens = fleet.kiosk_tokens
        ueda = await WireClient.kiosk(b.url, "kiosk-ueda", tokens["kiosk-ueda"])
        tonan = await WireClient.kiosk(b.url, "kiosk-tonan", tokens["kiosk-tonan"])
        try:
            assert {"kiosk-ueda", "kiosk-tonan"} <= set(a.switchboard.kiosks)
            admin = Store(database)
            try:
                assert admin.revoke_kiosk_token("kiosk-ueda")
            finally:
                admin.close()
            error = await ueda.expect(p.Error, timeout=REVOKED_WITHIN_S)
            assert "revoked or replaced" in error.detail
            assert await ueda.closed(timeout=REVOKED_WITHIN_S) == 1008
            assert "kiosk-tonan" in a.switchboard.kiosks and not tonan.ws.closed
        finally:
            await ueda.close()
            await tonan.close()
