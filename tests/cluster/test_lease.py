"""The leader's lease against a real redis-server: one holder at a time, renewal, loss, and epochs that
only grow (the fencing token), even after Redis lost its data."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from signaling_server.cluster.lease import RETRY_MARGIN_S, SAFETY_MARGIN, Holder, Lease, LeaseTerm


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_term_ends_before_redis_lets_the_key_go():
    term = LeaseTerm.begin(Holder("a", 3), ttl_s=3.0, sent_at=100.0)
    assert term.holds(100.0) and term.holds(100.0 + 3.0 * (1 - SAFETY_MARGIN) - 0.001)
    assert not term.holds(100.0 + 3.0 * (1 - SAFETY_MARGIN))
    assert not term.holds(103.0)  # when Redis expires the key, the holder stopped deciding already
    later = term.renewed(sent_at=102.0)
    assert later.holder == term.holder and later.holds(103.0)


def test_holder_values_parse():
    assert Holder.parse(b"node-a:12") == Holder("node-a", 12)
    assert Holder.parse("a:b:7") == Holder("a:b", 7)
    assert Holder.parse(None) is None and Holder.parse("half-written") is None
    assert Holder("n", 4).value == "n:4"


@pytest.fixture
async def redis(redis_server):
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def test_one_holder_at_a_time_and_epochs_grow(redis):
    a, b = Lease(redis, "a", ttl_s=5.0), Lease(redis, "b", ttl_s=5.0)
    term = await a.acquire()
    assert term is not None and term.holder == Holder("a", 1) and a.holds()
    assert await b.acquire() is None and not b.holds()
    assert await b.holder() == Holder("a", 1)
    assert await a.renew() and a.holds()
    await a.release()
    assert not a.holds() and await b.holder() is None
    second = await b.acquire()
    assert second is not None and second.holder == Holder("b", 2)
    assert await a.renew() is False  # a has no term any more


async def test_a_holder_that_lost_its_key_cannot_renew(redis):
    """Fencing: after the key expired and someone else took it, the old holder's renewal is refused and it
    stops deciding; the new term's epoch is higher."""
    clock = FakeClock()
    a, b = Lease(redis, "a", ttl_s=5.0, clock=clock), Lease(redis, "b", ttl_s=5.0)
    await a.acquire()
    await redis.delete(a.key)  # as if the TTL ran out while a was paused (GC, a frozen VM)
    taken = await b.acquire()
    assert taken is not None and taken.holder.epoch == 2
    assert a.holds()  # a does not know yet ...
    clock.now += 5.0
    assert not a.holds()  # ... but its own clock ends its term before Redis gives the key away
    clock.now -= 5.0
    assert await a.renew() is False and not a.holds()
    assert await b.renew()


async def test_epochs_never_go_back_after_redis_loses_its_data(redis_server, redis):
    a = Lease(redis, "a", ttl_s=5.0)
    for _ in range(3):
        await a.acquire()
        await a.release()
    assert a.highest_epoch == 3
    await redis_server.stop(kill=True)
    await redis_server.start()  # no persistence: every key is gone
    fresh = Redis.from_url(redis_server.url)
    try:
        a.redis = fresh
        a._acquire = fresh.register_script(a._acquire.script)
        term = await Lease(fresh, "b", ttl_s=5.0).acquire()
        assert term is not None and term.holder.epoch == 1  # b never saw the old terms
        await fresh.delete(a.key)
        again = await Lease(fresh, "a", ttl_s=5.0).acquire()
        assert again is not None and again.holder.epoch == 2
        seen = Lease(fresh, "a", ttl_s=5.0)
        seen.highest_epoch = 9  # a node that saw term 9 before the data was lost
        await fresh.delete(a.key)
        assert (await seen.acquire()).holder.epoch == 10
    finally:
        await fresh.aclose()


async def test_renewal_keeps_the_key_alive(redis):
    a = Lease(redis, "a", ttl_s=1.0)
    await a.acquire()
    assert 0 < await redis.pttl(a.key) <= 1000
    await redis.pexpire(a.key, 50)
    assert await a.renew()
    assert await redis.pttl(a.key) > 500


async def test_a_follower_tries_again_as_a_dead_leaders_lease_runs_out(redis):
    """A live leader's lease is renewed long before it runs low: a follower waits its period. A dead one's
    runs out: the follower tries again then (plus a margin), not up to a period later; once, so that a node
    that may not try meanwhile does not spin."""
    a, b = Lease(redis, "a", ttl_s=3.0), Lease(redis, "b", ttl_s=3.0)
    assert await a.acquire() is not None and a.free_in_s is None
    assert await b.acquire() is None and b.free_in_s is not None and 2.0 < b.free_in_s <= 3.0
    assert b.retry_in(1.0) == 1.0  # a live leader's: the period
    await redis.pexpire(a.key, 300)  # as if a stopped renewing 2.7 s ago
    assert await b.acquire() is None and b.free_in_s is not None and 0 < b.free_in_s <= 0.3
    free_in = b.free_in_s
    assert b.retry_in(1.0) == pytest.approx(free_in + RETRY_MARGIN_S)
    assert b.retry_in(1.0) == 1.0  # told once
    await redis.delete(a.key)
    assert await b.acquire() is not None and b.free_in_s is None
