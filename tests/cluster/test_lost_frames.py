"""Frames Redis loses without a word. It drops a node's subscription, as it drops a reader that lags behind
its output buffer limit (seen at 14,000 kiosks), and the frames in that buffer are gone: a follower that
listens again closes its relayed connections, which reconnect and learn what they missed (a call's end); a
leader that listens again resigns before it reads another frame, and the next leader takes the queue over.
And a PUBLISH fails (it timed out under load in that run, perhaps delivered in part): the leader has the
connections the batch was for closed, to reconnect and learn what they missed. Two nodes in one process on a
real redis-server; the drop is Redis's own (``nodes.overflow``), the failure Redis refusing PUBLISH by ACL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from redis.asyncio import Redis

from kiosk_client.controller import KioskController
from signaling_server.cluster.node import CLUSTER
from signaling_server.embedded import EmbeddedServer
from staff_console.controller import ConsoleController
from tests.cluster.nodes import (
    TIMEOUT,
    alert_event,
    kiosk,
    metrics,
    node_config,
    officer,
    overflow,
    provision_fleet,
)

GAP_S = 8.0  # how long the follower stays away: the call's end is decided while nobody hears it


@contextlib.asynccontextmanager
async def leader_and_follower(
    redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[EmbeddedServer, EmbeddedServer, KioskController, ConsoleController]]:
    """node-a leads, node-b follows; a kiosk signed in on node-b (relayed), an officer on node-a."""
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_url, "node-a", database)
    config_b = node_config(redis_url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], ["hanako"])
    async with EmbeddedServer(config_a, database) as a, EmbeddedServer(config_b, database) as b:
        resident = kiosk(b.url, "kiosk-ueda", fleet)
        staff = officer(a.url, "hanako")
        try:
            await resident.start(timeout=TIMEOUT)
            await staff.start(timeout=TIMEOUT)
            assert a.app[CLUSTER].leading
            yield a, b, resident, staff
        finally:
            await resident.stop()
            await staff.stop()


async def answered(resident: KioskController, staff: ConsoleController) -> str:
    """A call placed by the resident and answered by the officer: its id, once the kiosk is in it."""
    await staff.set_available()
    ringing = asyncio.ensure_future(staff.events.wait("ring", TIMEOUT))
    await resident.request_call("kosodate")
    call_id: str = (await ringing)["call_id"]
    in_call = asyncio.ensure_future(resident.events.wait("call_started", TIMEOUT, call_id=call_id))
    await staff.accept()
    await in_call
    return call_id


async def test_a_call_end_lost_with_a_followers_subscription_reaches_the_kiosk(redis_server, tmp_path: Path):
    async with leader_and_follower(redis_server.url, tmp_path) as (a, b, resident, staff):
        node_a, node_b = a.app[CLUSTER], b.app[CLUSTER]
        call_id = await answered(resident, staff)
        epoch = node_a.status()["epoch"]

        node_b._inbox.RETRY_S = GAP_S
        broke = alert_event(b, "raised")
        overflow(redis_server.url, node_b.channels.node("node-b"))
        await asyncio.wait_for(broke.wait(), TIMEOUT)
        assert not node_b._inbox.ready.is_set()
        heard = asyncio.ensure_future(resident.events.wait("call_ended", TIMEOUT + GAP_S, call_id=call_id))
        ended = asyncio.ensure_future(staff.events.wait("call_ended", TIMEOUT, call_id=call_id))
        await staff.end_call("resolved", "購読が切れた間に終わった通話")
        await ended  # decided and sent to node-b, where nobody listened
        assert not node_b._inbox.ready.is_set()

        assert (await heard)["reason"] == "completed"  # told after its reconnect (sync_call)
        assert node_b.subscription_losses == 1 and node_b.losses_closed == 1
        assert node_a.leading and node_a.status()["epoch"] == epoch  # the leader was not disturbed
        assert node_a.subscription_losses == 0
        assert 'madoguchi_cluster_subscription_losses{node="node-b"} 1.0' in await metrics(b)


async def test_a_leader_whose_subscription_broke_resigns_and_the_queue_goes_on(redis_server, tmp_path: Path):
    async with leader_and_follower(redis_server.url, tmp_path) as (a, b, resident, staff):
        node_a, node_b = a.app[CLUSTER], b.app[CLUSTER]
        queued = asyncio.ensure_future(resident.events.wait("queue", TIMEOUT))
        await resident.request_call("kosodate")
        assert (await queued)["position"] == 1
        call_id = resident.resident.call_id
        epoch = node_a.status()["epoch"]

        reconnected = asyncio.ensure_future(staff.events.wait("online", TIMEOUT))
        overflow(redis_server.url, node_a.channels.leader(epoch))
        await reconnected  # node-a resigned and closed its own clients (the officer); node-b leads now
        assert node_b.leading and node_b.status()["epoch"] > epoch
        assert not node_a.leading and node_a.subscription_losses == 1
        assert resident.resident.call_id == call_id

        ringing = asyncio.ensure_future(staff.events.wait("ring", TIMEOUT, call_id=call_id))
        await staff.set_available()
        await ringing  # the waiting resident, first in the new leader's queue


async def test_a_call_end_whose_publish_failed_still_reaches_the_kiosk(redis_server, tmp_path: Path):
    """The leader's PUBLISH to the follower fails just as the call ends (Redis refuses PUBLISH here, standing
    in for a time-out: the same path); once Redis takes them again the leader has the kiosk's connection
    closed, and the kiosk reconnects and hears the end."""
    async with leader_and_follower(redis_server.url, tmp_path) as (a, b, resident, staff):
        call_id = await answered(resident, staff)
        admin = Redis.from_url(redis_server.url)
        try:
            failing = alert_event(a, "raised")
            await admin.execute_command("ACL", "SETUSER", "default", "-publish")
            heard = asyncio.ensure_future(resident.events.wait("call_ended", TIMEOUT, call_id=call_id))
            ended = asyncio.ensure_future(staff.events.wait("call_ended", TIMEOUT, call_id=call_id))
            await staff.end_call("resolved", "送れなかった終了通知")
            await ended  # the officer is on the leader itself: told on its own connection
            await asyncio.wait_for(failing.wait(), TIMEOUT)  # the end's PUBLISH to node-b failed
            assert not heard.done()
        finally:
            await admin.execute_command("ACL", "SETUSER", "default", "+publish")
            await admin.aclose()
        assert (await heard)["reason"] == "completed"  # after the close, its reconnect and sync_call
        assert a.app[CLUSTER].leading and b.app[CLUSTER].subscription_losses == 0
