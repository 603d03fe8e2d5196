"""A follower moves its connections to a new leader as soon as that leader says it listens (its ``leader``
control frame, sent once its inbox is subscribed), not at the follower's next keeper beat: at 20,000
kiosks the beat came 2-4 s later and the dead node's clients waited for their welcomes as long."""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from signaling_server.cluster.bus import SEPARATOR, BatchReader, Frame, unpack
from signaling_server.cluster.gateway import Gateway
from signaling_server.cluster.lease import Holder
from signaling_server.cluster.node import CLUSTER, LISTENING
from signaling_server.embedded import EmbeddedServer
from tests.cluster.nodes import TIMEOUT, kiosk, node_config, provision_fleet


async def all_confirmed(gateway: Gateway) -> None:
    """Until the leader has confirmed (``marked``) everything the follower's connections asked of it: a
    connection with a request unconfirmed is closed at a term change, not moved."""
    marked = asyncio.Event()
    forward = gateway.on_frame

    def on_frame(channel: str, frame: Frame) -> None:
        forward(channel, frame)
        if frame.kind == "marked":
            marked.set()

    gateway.on_frame = on_frame  # type: ignore[method-assign]
    try:
        while not all(gateway._safe(client, route) for client, route in gateway.routes.items()):
            marked.clear()
            gateway.mark()
            await asyncio.wait_for(marked.wait(), TIMEOUT)
    finally:
        gateway.on_frame = forward  # type: ignore[method-assign]


async def test_a_follower_moves_its_connections_when_the_new_leader_says_it_listens(
    redis_server, tmp_path: Path
) -> None:
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], [])
    async with EmbeddedServer(config_a, database) as a, EmbeddedServer(config_b, database) as b:
        node_a, node_b = a.app[CLUSTER], b.app[CLUSTER]
        assert node_a.leading and not node_b.leading
        resident = kiosk(b.url, "kiosk-ueda", fleet)  # on the follower: relayed to node-a
        try:
            await resident.start(timeout=TIMEOUT)
            epoch = node_b.gateway.leader.epoch if node_b.gateway.leader else 0
            assert (
                epoch >= 1
                and not node_b.gateway.stale()
                and node_b.gateway.counts()
                == {
                    "local": 0,
                    "relayed": 1,
                }
            )
            await all_confirmed(node_b.gateway)
            control, newer = node_b.channels.control, Holder("node-c", epoch + 1)

            node_b._on_frame(control, Frame("leader", newer.epoch, newer.node, "", ""))  # not listening yet
            assert node_b.gateway.leader == Holder("node-a", epoch)  # left to its beat, as before

            moved = node_b.gateway.repointed
            node_b._on_frame(control, Frame("leader", newer.epoch, newer.node, "", LISTENING))
            assert node_b.gateway.leader == newer  # at once, in the same turn of the loop
            assert not node_b.gateway.stale() and node_b.gateway.repointed == moved + 1  # moved, not closed

            node_b._on_frame(control, Frame("leader", epoch, "node-a", "", LISTENING))  # an older term, late
            assert node_b.gateway.leader == newer
        finally:
            await resident.stop()


async def test_a_new_leader_says_it_listens_once_its_inbox_is_subscribed(
    redis_server, tmp_path: Path
) -> None:
    database = tmp_path / "madoguchi.sqlite3"
    a = EmbeddedServer(node_config(redis_server.url, "node-a", database), database)
    await a.__aenter__()
    b_running = False
    redis = Redis.from_url(redis_server.url)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    try:
        b = EmbeddedServer(node_config(redis_server.url, "node-b", database), database)
        await b.__aenter__()
        b_running = True
        node_b = b.app[CLUSTER]
        await pubsub.subscribe(node_b.channels.control)
        listeners: list[int] = []  # on the new term's channel while node-b restores: the others move then
        restore = b.switchboard.restore

        def restore_and_count() -> None:
            term = node_b.lease.term
            assert term is not None
            with SyncRedis.from_url(redis_server.url) as sync:
                listeners.append(int(sync.pubsub_numsub(node_b.channels.leader(term.holder.epoch))[0][1]))
            restore()

        b.switchboard.restore = restore_and_count  # type: ignore[method-assign]
        await a.__aexit__(None, None, None)  # a clean stop: the lease is released, node-b takes it
        heard: list[Frame] = []

        async def leader_frames() -> None:
            while not any(f.kind == "leader" and f.text == LISTENING for f in heard):
                message = await pubsub.get_message(timeout=TIMEOUT)
                if message is not None:
                    reader = BatchReader()
                    heard.extend(reader.read(raw) for raw in unpack(message["data"]).split(SEPARATOR))

        await asyncio.wait_for(leader_frames(), TIMEOUT)
        said = [f for f in heard if f.kind == "leader"]
        assert said[-1] == Frame("leader", said[-1].epoch, "node-b", "", LISTENING) and node_b.leading
        assert node_b._desk_inbox is not None and node_b._desk_inbox.ready.is_set()
        assert listeners == [1]  # subscribed before the restore (``Node._take_over``)
    finally:
        await pubsub.aclose()
        await redis.aclose()
        if b_running:
            await b.__aexit__(None, None, None)
