"""A deposed leader stands again (docs/deployment-cluster.md, "When a part fails"): its lease is taken while
it is alive, it stands down and drops its switchboard's memory; when the other node stops it wins the next
term, restores from the database like any new leader, and serves the resident who waited through both
changes: the call is answered, has media, and ends with its record complete."""

from __future__ import annotations

import asyncio
from pathlib import Path

from signaling_server.cluster.node import CLUSTER
from signaling_server.embedded import EmbeddedServer
from signaling_server.store import Store
from tests.cluster.nodes import TIMEOUT, kiosk, more_frames, node_config, officer, provision_fleet


async def test_a_deposed_leader_wins_again_and_serves_a_call(redis_server, tmp_path: Path) -> None:
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], ["hanako"])
    async with EmbeddedServer(config_a, database) as a:
        b = EmbeddedServer(config_b, database)
        await b.__aenter__()
        b_running = True
        resident = kiosk(a.url, "kiosk-ueda", fleet)
        staff = officer(a.url, "hanako")
        try:
            node_a, node_b = a.app[CLUSTER], b.app[CLUSTER]
            assert node_a.leading
            await resident.start(timeout=TIMEOUT)
            queued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))
            await resident.request_call("kosodate")
            await queued
            call_id = resident.resident.call_id
            first_board = a.switchboard.router

            requeued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))
            await node_a.redis.delete(node_a.lease.key)  # as after a pause past its TTL: b takes a term
            assert (await requeued)["position"] == 1 and resident.resident.call_id == call_id
            assert node_b.leading and not node_a.leading and node_b.status()["epoch"] == 2
            assert node_a.status()["candidate"] is True  # it may stand again
            assert not a.switchboard.calls and a.switchboard.router is not first_board  # memory dropped
            assert not a.switchboard.router.stats()["departments"]["kosodate"]["waiting"]

            requeued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))
            b_running = False
            await b.__aexit__(None, None, None)  # a clean stop: the lease is released and announced
            assert (await requeued)["position"] == 1 and resident.resident.call_id == call_id
            assert node_a.leading and node_a.status()["epoch"] == 3 and node_a.takeovers == 2
            assert call_id in a.switchboard.calls  # restored from the database

            ringing = asyncio.ensure_future(staff.events.wait("ring", TIMEOUT, call_id=call_id))
            await staff.start(timeout=TIMEOUT)
            await staff.set_available()
            await ringing
            started = asyncio.ensure_future(staff.events.wait("call_started", TIMEOUT))
            await staff.accept()
            assert (await started)["call_id"] == call_id
            await more_frames(staff.party.session, 5)
            await more_frames(resident.party.session, 5)
            ended = asyncio.ensure_future(resident.events.wait("call_ended", TIMEOUT))
            await staff.end_call("resolved", "再選出後の通話")
            assert (await ended)["reason"] == "completed"
        finally:
            await resident.stop()
            await staff.stop()
            if b_running:
                await b.__aexit__(None, None, None)
    store = Store(str(database))
    try:
        record = store.call(call_id or "")
        assert record is not None
        assert (record.state, record.end_reason, record.outcome, record.officer) == (
            "ended",
            "completed",
            "resolved",
            "hanako",
        )
    finally:
        store.close()
