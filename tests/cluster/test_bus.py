"""The bus's pieces: frames and principals as they cross Redis, and publishing against a real Redis
(batches arrive in order; a batch nobody hears is reported, never dropped silently)."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from remote_call.protocol import BusinessInfo, Role
from signaling_server.auth import Principal
from signaling_server.cluster.bus import Channels, Frame, Publisher, Subscriber
from signaling_server.cluster.relay import principal_from_json, principal_json
from tests.cluster.nodes import overflow


def test_a_frame_keeps_any_text():
    text = '{"type": "chat",\t"text": "窓口\\tです"}'
    frame = Frame("message", 7, "node-b", "1f", text)
    assert Frame.decode(frame.encode()) == frame
    assert Frame.decode(Frame("close", 2, "n", "3").encode()).text == ""


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
            publisher.publish(channels.node("b"), Frame("send", 1, "b", "c", str(i)))
        await asyncio.wait_for(all_in.wait(), 10)
        assert [f.text for f in received] == [str(i) for i in range(500)]
        publisher.publish(channels.leader(3), Frame("message", 3, "b", "c", "{}"))
        await publisher.flush()
        assert unheard == [(channels.leader(3), [Frame("message", 3, "b", "c", "{}")])]
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
