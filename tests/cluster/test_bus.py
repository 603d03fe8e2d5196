"""The bus's pieces: frames and principals as they cross Redis, and publishing against a real Redis
(batches arrive in order; a batch nobody hears is reported, never dropped silently)."""

from __future__ import annotations

import asyncio

import pytest
import redis as redis_sync
from redis.asyncio import Redis

from remote_call.protocol import BusinessInfo, Role
from signaling_server.auth import Principal
from signaling_server.cluster.bus import (
    COMPRESS_AT,
    COMPRESSED,
    SEPARATOR,
    BatchReader,
    Channels,
    Frame,
    Publisher,
    Subscriber,
    encode_batch,
    pack,
    unpack,
)
from signaling_server.cluster.degraded import redis_client
from signaling_server.cluster.relay import principal_from_json, principal_json
from tests.cluster.nodes import overflow


def test_a_frame_keeps_any_text():
    text = '{"type": "chat",\t"text": "窓口\\tです"}'
    frame = Frame("message", 7, "node-b", "1f", text)
    assert Frame.decode(frame.encode()) == frame
    assert Frame.decode(Frame("close", 2, "n", "3").encode()).text == ""


STATS = (
    '{"type": "supervisor_stats", "stats": {"departments": [' + ", ".join(['{"waiting": 12}'] * 20) + "]}}"
)


def read_all(payload: str) -> list[Frame]:
    reader = BatchReader()
    return [reader.read(raw) for raw in payload.split(SEPARATOR)]


def test_one_long_text_for_many_connections_crosses_once():
    """5,000 officers' supervisor_stats (one text per skill set): the payload holds the text once; every
    connection still gets its own send frame with the whole text, in order, beside other frames."""
    frames = [Frame("send", 4, "node-b", str(i), STATS) for i in range(5_000)]
    frames.insert(7, Frame("send", 4, "node-b", "k", '{"type": "queued", "position": 3}'))
    frames.insert(9, Frame("close", 4, "node-b", "x"))
    payload = encode_batch(frames)
    assert payload.count(STATS) == 1 and len(payload) < 5_000 * 40
    assert read_all(payload) == frames


def test_short_texts_and_other_kinds_go_as_they_are():
    short = '{"type": "officer_state", "state": "available"}'
    long = "x" * 300
    frames = [
        Frame("send", 1, "n", "1", short),
        Frame("send", 1, "n", "2", short),  # short: again in full
        Frame("message", 1, "n", "3", long),  # a client's own message: never replaced
        Frame("message", 1, "n", "4", long),
    ]
    payload = encode_batch(frames)
    assert payload == SEPARATOR.join(f.encode() for f in frames)
    assert read_all(payload) == frames


def welcome(i: int) -> str:
    departments = ",".join(["{}"] * 60)
    return f'{{"type":"welcome","identity":"kiosk-{i:05d}","departments":[{departments}]}}'


def test_a_long_payload_crosses_compressed_and_a_short_one_as_it_is():
    """A new leader's welcomes to a follower's 4,500 returning clients: 7.2 MB of nearly the same text."""
    short = encode_batch([Frame("send", 2, "n", "1", "{}")])
    assert pack(short) == short and unpack(short) == short
    payload = encode_batch([Frame("send", 2, "n", f"{i:x}", welcome(i)) for i in range(4_500)])
    packed = pack(payload)
    assert len(payload) >= COMPRESS_AT and isinstance(packed, bytes) and packed.startswith(COMPRESSED)
    assert len(packed) * 20 < len(payload) and unpack(packed) == payload
    assert unpack(payload.encode()) == payload  # a plain payload as Redis hands it back (bytes)


def test_an_unreadable_payload_is_named():
    with pytest.raises(ValueError, match="unreadable payload"):
        unpack(COMPRESSED + b"not zlib")
    with pytest.raises(ValueError, match="unreadable payload"):
        unpack(b"\xff\xfe send")


def test_a_reference_to_nothing_is_unreadable_and_the_rest_still_reads():
    reader = BatchReader()
    good = Frame("send", 1, "n", "1", "y" * 300)
    assert reader.read(good.encode()) == good
    for bad in ("same\t1\tn\t2\t9", "same\t1\tn\t2\tzero", "no tabs"):
        with pytest.raises(ValueError, match="unreadable frame"):
            reader.read(bad)
    assert reader.read("same\t1\tn\t5\t0") == Frame("send", 1, "n", "5", good.text)


def test_a_reader_with_a_backlog_gets_as_long_as_the_rest_of_the_loop_took_within_bounds():
    """A new leader's inbox speaks for two nodes' clients: 2 ms a turn behind its own websockets kept
    their welcomes waiting 15 s at 20,000 kiosks; a share as long as the others', up to 1 s a turn."""
    assert Subscriber.share_after(0.0) == Subscriber.SLICE_S  # an idle loop: the short slice
    assert Subscriber.share_after(0.03) == 0.03  # a busy one: half of the loop while the backlog lasts
    assert Subscriber.share_after(0.6) == 0.6  # the herd after a failover: turns of seconds
    assert Subscriber.share_after(2.5) == Subscriber.SLICE_MAX_S == 1.0  # never more than this in one turn


def test_principals_cross_intact():
    officer = Principal(Role.OFFICER, "hanako", "花子", {"kosodate": "primary"}, "session-token")
    assert principal_from_json(principal_json(officer)) == officer
    business = BusinessInfo(
        invitation_id="abc123",
        department="kenchiku-shido",
        company="盛岡建設",
        contact_name="山田",
        purpose="確認申請の相談",
        valid_from="2026-12-02T09:00:00+09:00",
        valid_until="2026-12-02T17:00:00+09:00",
    )
    caller = Principal(Role.BUSINESS, "biz-abc123", "盛岡建設", {}, None, business)
    assert principal_from_json(principal_json(caller)) == caller


async def test_frames_arrive_in_order_and_unheard_batches_are_reported(redis_server):
    redis = Redis.from_url(redis_server.url)
    channels = Channels("test")
    received: list[Frame] = []
    all_in = asyncio.Event()
    unheard: list[tuple[str, list[Frame]]] = []

    def on_frame(_channel: str, frame: Frame) -> None:
        received.append(frame)
        if len(received) == 500:
            all_in.set()

    publisher = Publisher(redis, on_unheard=lambda c, f: unheard.append((c, f)), on_error=lambda e: None)
    subscriber = Subscriber(redis, [channels.node("b")], on_frame, on_error=lambda e: None, name="test")
    try:
        assert await subscriber.start(timeout=10)
        publisher.start()
        for i in range(500):
            text = STATS if i % 2 else str(i)  # every other one the same long text: sent once a batch
            publisher.publish(channels.node("b"), Frame("send", 1, "b", f"c{i}", text))
        await asyncio.wait_for(all_in.wait(), 10)
        assert [f.text for f in received] == [STATS if i % 2 else str(i) for i in range(500)]
        assert [f.conn for f in received] == [f"c{i}" for i in range(500)]
        received.clear()
        all_in.clear()
        for i in range(500):  # one long payload: it crosses compressed
            publisher.publish(channels.node("b"), Frame("send", 1, "b", f"w{i}", welcome(i)))
        await asyncio.wait_for(all_in.wait(), 10)
        assert [f.text for f in received] == [welcome(i) for i in range(500)]
        publisher.publish(channels.leader(3), Frame("message", 3, "b", "c", "{}"))
        await publisher.flush()
        assert unheard == [(channels.leader(3), [Frame("message", 3, "b", "c", "{}")])]
        # Told apart when asked: Redis said nobody listened, so none of it was delivered.
        nobody: list[tuple[str, list[Frame]]] = []
        publisher.on_nobody = lambda c, f: nobody.append((c, f))
        publisher.publish(channels.leader(3), Frame("message", 3, "b", "c", "again"))
        await publisher.flush()
        assert nobody == [(channels.leader(3), [Frame("message", 3, "b", "c", "again")])]
        assert len(unheard) == 1
    finally:
        await subscriber.stop()
        await publisher.stop()
        await redis.aclose()


async def test_a_subscription_redis_drops_is_reported_lost_and_taken_again(redis_server):
    """redis-server closes a subscriber that lags behind its output buffer limit, and the frames in that
    buffer are gone (seen at 14,000 kiosks): the subscriber listens again and then says so (``on_lost``),
    once."""
    redis = Redis.from_url(redis_server.url)
    channels = Channels("test")
    received: list[str] = []
    arrived = asyncio.Event()
    lost = asyncio.Event()
    errors: list[Exception] = []

    def on_frame(_channel: str, frame: Frame) -> None:
        received.append(frame.text)
        arrived.set()

    subscriber = Subscriber(
        redis, [channels.node("b")], on_frame, on_error=errors.append, on_lost=lost.set, name="test"
    )
    try:
        assert await subscriber.start(timeout=10)
        overflow(redis_server.url, channels.node("b"))
        await asyncio.wait_for(lost.wait(), 10)
        assert subscriber.ready.is_set() and subscriber.losses == 1
        assert errors  # told as a Redis error first (the node's degraded mode)
        await redis.publish(channels.node("b"), Frame("send", 1, "b", "c", "after").encode())
        await asyncio.wait_for(arrived.wait(), 10)
        assert received == ["after"]  # the junk that overflowed it was never handed on
        assert subscriber.losses == 1
    finally:
        await subscriber.stop()
        await redis.aclose()


async def _subscribed(redis: Redis, channel: str) -> tuple[Subscriber, list[str], asyncio.Event]:
    """A subscriber on ``channel``: the texts it got, and an event set at each one."""
    received: list[str] = []
    arrived = asyncio.Event()

    def on_frame(_channel: str, frame: Frame) -> None:
        received.append(frame.text)
        arrived.set()

    subscriber = Subscriber(redis, [channel], on_frame, on_error=lambda e: None, name="test")
    assert await subscriber.start(timeout=10)
    return subscriber, received, arrived


async def test_a_batch_goes_out_while_the_one_before_waits_for_its_replies(redis_server):
    """Redis paused for writes (``CLIENT PAUSE WRITE``: a PUBLISH waits): the second batch is written without
    waiting for the first one's reply (a new leader's welcomes waited 1.5-4.8 s for it in the herd); once
    Redis goes on, both arrive, in order, and both are counted."""
    redis, admin = Redis.from_url(redis_server.url), Redis.from_url(redis_server.url)
    channel = Channels("test").node("b")
    subscriber, received, arrived = await _subscribed(redis, channel)
    publisher = Publisher(redis, on_unheard=lambda c, f: None, on_error=lambda e: None)
    try:
        await admin.execute_command("CLIENT", "PAUSE", "10000", "WRITE")
        try:
            publisher.publish(channel, Frame("send", 1, "b", "c1", "first"))
            first = await publisher.write()
            publisher.publish(channel, Frame("send", 1, "b", "c2", "second"))
            second = await publisher.write()
            assert first is not None and second is not None
            assert len(publisher.in_flight) == 2 and not first.done() and not second.done()
        finally:
            await admin.execute_command("CLIENT", "UNPAUSE")
        await asyncio.wait_for(second, 10)
        while len(received) < 2:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 10)
        assert first.done() and received == ["first", "second"] and publisher.published == 2
    finally:
        await subscriber.stop()
        await publisher.stop()
        await admin.aclose()
        await redis.aclose()


async def test_batches_in_flight_on_a_connection_that_dies_are_reported_and_the_next_goes_on_a_new_one(
    redis_server,
):
    """Both batches waiting for their replies are reported (unheard, and failed: some of either may have
    been delivered), once each; the next batch goes on a new connection and arrives."""
    redis, admin = Redis.from_url(redis_server.url), Redis.from_url(redis_server.url)
    channel = Channels("test").node("b")
    subscriber, received, arrived = await _subscribed(redis, channel)
    failed: list[tuple[str, list[str]]] = []
    unheard: list[tuple[str, list[str]]] = []
    errors: list[Exception] = []
    publisher = Publisher(
        redis,
        on_unheard=lambda c, frames: unheard.append((c, [f.text for f in frames])),
        on_error=errors.append,
        on_failed=lambda c, frames: failed.append((c, [f.text for f in frames])),
        on_nobody=lambda c, frames: nobody.append(c),  # never: some of a failed batch may have arrived
    )
    nobody: list[str] = []
    try:
        await admin.execute_command("CLIENT", "PAUSE", "10000", "WRITE")
        try:
            writes = []
            for text in ("lost-1", "lost-2"):
                publisher.publish(channel, Frame("send", 1, "b", "c", text))
                writes.append(await publisher.write())
            # Every normal connection but this one: the publisher's among them (its subscriber is pubsub).
            await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        finally:
            await admin.execute_command("CLIENT", "UNPAUSE")
        await asyncio.wait_for(asyncio.gather(*[w for w in writes if w is not None]), 10)
        assert failed == unheard == [(channel, ["lost-1"]), (channel, ["lost-2"])] and errors
        assert nobody == []
        publisher.publish(channel, Frame("send", 1, "b", "c", "after"))
        await asyncio.wait_for(publisher.flush(), 10)
        while not received or received[-1] != "after":
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 10)
        assert publisher.published == 1 and len(failed) == 2
    finally:
        await subscriber.stop()
        await publisher.stop()
        await admin.aclose()
        await redis.aclose()


async def test_a_publisher_idle_through_a_redis_restart_goes_on_without_an_error(redis_server):
    """Its connection died with Redis while nothing was in flight: the next batch goes on a connection the
    pool has checked, not on the dead one (that failed it, and put the node in degraded mode once more
    after Redis was back: the Redis-restart test)."""
    redis = Redis.from_url(redis_server.url)
    channel = Channels("test").node("b")
    errors: list[Exception] = []
    unheard: list[str] = []
    publisher = Publisher(redis, on_unheard=lambda c, f: unheard.append(c), on_error=errors.append)
    subscriber = None
    try:
        publisher.publish(channel, Frame("send", 1, "b", "c", "before"))
        await asyncio.wait_for(publisher.flush(), 10)
        assert unheard == [channel] and publisher.published == 1  # nobody listened yet: told so
        await redis_server.stop(kill=True)
        await redis_server.start()
        subscriber, received, arrived = await _subscribed(redis, channel)
        publisher.publish(channel, Frame("send", 1, "b", "c", "after"))
        await asyncio.wait_for(publisher.flush(), 10)
        await asyncio.wait_for(arrived.wait(), 10)
        assert received == ["after"] and errors == [] and publisher.published == 2
    finally:
        if subscriber is not None:
            await subscriber.stop()
        await publisher.stop()
        await redis.aclose()


@pytest.mark.parametrize("at_once", [True, False])
async def test_a_subscriber_started_at_once_listens_before_the_loop_turns(redis_server, at_once: bool):
    """A new leader's inbox: subscribed in the step that starts it, on a connection its client has open (the
    restore that follows holds the loop); otherwise from a task, a turn or more later."""
    redis = redis_client(redis_server.url, 3.0, timeout=False)  # as a node's listening clients are made
    await redis.ping()  # a connection open and idle in the client's pool
    arrived = asyncio.Event()
    turned: list[bool] = []
    asyncio.get_running_loop().call_soon(turned.append, True)
    subscriber = Subscriber(
        redis, ["t:once"], lambda channel, frame: arrived.set(), on_error=lambda e: None, name="test"
    )
    try:
        assert await subscriber.start(timeout=10, at_once=at_once)
        assert turned == ([] if at_once else [True])  # at once: not one turn of the loop has passed
        with redis_sync.Redis.from_url(redis_server.url) as view:  # asked without a turn of the loop
            assert view.pubsub_numsub("t:once")[0][1] == 1
            view.publish("t:once", pack(encode_batch([Frame("send", 1, "b", "c1", "hello")])))
        await asyncio.wait_for(arrived.wait(), 10)  # and its reader hands frames on as before
    finally:
        await subscriber.stop()
        await redis.aclose()
