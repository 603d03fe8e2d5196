"""A node's subscriptions read large batches in few turns of its loop (``cluster/wide_reads.py``): every
connection the widened client opens reads up to ``READ_BYTES`` a turn (bench/bench_wide_reads.py measures
what it is worth); a plain client keeps asyncio's defaults."""

from __future__ import annotations

from redis.asyncio import Redis

from signaling_server.cluster.wide_reads import READ_BYTES, with_wide_reads


async def subscribed_connection(client: Redis):
    pubsub = client.pubsub()
    await pubsub.subscribe("madoguchi:test")
    return pubsub, pubsub.connection


async def test_a_widened_clients_subscription_reads_large_batches_in_one_turn(redis_server):
    wide, plain = with_wide_reads(Redis.from_url(redis_server.url)), Redis.from_url(redis_server.url)
    try:
        wide_pubsub, connection = await subscribed_connection(wide)
        assert connection._reader._limit == READ_BYTES
        assert connection._writer.transport.max_size == READ_BYTES
        plain_pubsub, default = await subscribed_connection(plain)
        assert default._reader._limit < READ_BYTES and default._writer.transport.max_size < READ_BYTES
        await wide_pubsub.aclose()
        await plain_pubsub.aclose()
    finally:
        await wide.aclose()
        await plain.aclose()
