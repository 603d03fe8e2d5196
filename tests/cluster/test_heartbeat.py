"""The heartbeat thread against a real redis-server: a leader whose event loop is busy for several TTLs keeps
its lease and its heartbeat key (a 3,000-kiosk run changed leaders five times in its first minute when
both were kept on the loop); a loop stuck past ``stall_s`` lets the lease go; a refused renewal is reported
to the loop at once.

The loop is held on purpose with ``time.sleep`` *inside* a coroutine: that is the busy loop under test, not
a wait for something to happen."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis as redis_sync
from redis.asyncio import Redis

from signaling_server.cluster.degraded import redis_client
from signaling_server.cluster.heartbeat import STALL_TTLS, Heartbeat
from signaling_server.cluster.lease import Holder, Lease

TTL_S = 0.6
WAIT_S = 10.0  # the most any awaited condition may take on a loaded machine


@pytest.fixture
async def redis(redis_server):
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


def hold_the_loop(seconds: float) -> None:
    end = time.monotonic() + seconds  # the event loop busy computing (holding the GIL): what these
    while time.monotonic() < end:  # tests are about, not a wait for anything
        sum(range(1000))


async def leader(redis: Redis, url: str, *, stall_s: float, lost: list[str]) -> tuple[Lease, Heartbeat]:
    lease = Lease(redis, "a", ttl_s=TTL_S)
    assert await lease.acquire() is not None
    heartbeat = Heartbeat(url, lease, alive_key="t:alive:a", on_lost=lost.append, stall_s=stall_s)
    heartbeat.figures = b'{"node":"a"}'
    heartbeat.leading = True
    heartbeat.start(asyncio.get_running_loop())
    return lease, heartbeat


async def test_a_busy_loop_keeps_its_lease_and_its_heartbeat(redis_server, redis):
    lost: list[str] = []
    lease, heartbeat = await leader(redis, redis_server.url, stall_s=20 * TTL_S, lost=lost)
    try:
        hold_the_loop(4 * TTL_S)  # a term is 0.8 TTL: without the thread it would have run out 5 times
        assert lease.holds(), "the term ran out while the loop was busy"
        assert heartbeat.renewals >= 2
        assert await redis.get(lease.key) == lease.term.holder.value.encode()
        assert await redis.get("t:alive:a") == b'{"node":"a"}'  # only the thread wrote it
        assert await Lease(redis, "b", ttl_s=TTL_S).acquire() is None
        assert lost == []
    finally:
        await heartbeat.stop()


async def test_a_stuck_loop_lets_its_lease_go(redis_server, redis):
    lost: list[str] = []
    lease, heartbeat = await leader(redis, redis_server.url, stall_s=TTL_S, lost=lost)
    try:
        hold_the_loop(5 * TTL_S)  # stuck: past stall_s, then past the key's TTL
        # Read while the loop is still held: once it turns, the node is alive again and its thread beats
        # (a whole-suite run read the heartbeat key back: written after the awaits that came first).
        with redis_sync.Redis.from_url(redis_server.url) as stuck_view:
            lease_key, alive_key = stuck_view.get(lease.key), stuck_view.get("t:alive:a")
        assert lease_key is None  # nobody renewed it: it expired in Redis
        assert alive_key is None  # nor the heartbeat: the leader reaps this node
        assert not lease.holds()
        taken = await Lease(redis, "b", ttl_s=TTL_S).acquire()
        assert taken is not None and taken.holder.epoch == 2
    finally:
        await heartbeat.stop()


async def test_a_refused_renewal_is_reported_to_the_loop(redis_server, redis):
    lost: list[str] = []
    told = asyncio.Event()
    lease = Lease(redis, "a", ttl_s=TTL_S)
    assert await lease.acquire() is not None

    def on_lost(reason: str) -> None:
        lost.append(reason)
        told.set()

    heartbeat = Heartbeat(redis_server.url, lease, alive_key="t:alive:a", on_lost=on_lost)
    heartbeat.leading = True
    heartbeat.start(asyncio.get_running_loop())
    try:
        await redis.delete(lease.key)  # as after a partition: someone else holds it now
        assert await Lease(redis, "b", ttl_s=5.0).acquire() is not None
        await asyncio.wait_for(told.wait(), WAIT_S)
        assert lost == ["another node holds the lease"] and not lease.holds()
        assert lease.term is None
    finally:
        await heartbeat.stop()


async def test_answers_that_cross_never_shorten_or_revive_a_term(redis):
    """The loop's and the thread's renewals of one term may land in any order."""
    lease = Lease(redis, "a", ttl_s=3.0)
    term = await lease.acquire()
    assert term is not None
    assert lease.renewed(term, term.valid_until, ok=True)  # a later request answered first ...
    later = lease.term
    assert lease.renewed(term, 0.0, ok=True) and lease.term is later  # ... the earlier one: no shorter
    lease.lose()
    sent_now = time.monotonic()  # a renewal sent after the term ended (not a duration)
    assert not lease.renewed(term, sent_now, ok=True) and lease.term is None  # stays ended


def crunch_a_long_queue(seconds: float) -> None:
    """Named so that the log can be seen to name it."""
    hold_the_loop(seconds)


async def test_a_loop_busy_for_a_ttl_is_logged_once_with_where_it_is(redis_server, redis, caplog):
    """What holds a node's loop shows in its log."""
    lost: list[str] = []
    lease, heartbeat = await leader(redis, redis_server.url, stall_s=20 * TTL_S, lost=lost)
    try:
        with caplog.at_level("WARNING", logger="signaling_server.cluster.heartbeat"):
            crunch_a_long_queue(4 * TTL_S)  # one spell of 24 beats: one report, from the thread, meanwhile
        (busy,) = [r.getMessage() for r in caplog.records if "has been busy" in r.getMessage()]
        assert "in crunch_a_long_queue" in busy
        assert "hold_the_loop(seconds)" in busy  # down to the source line
        assert lease.holds() and lost == []  # told, and still leading: busy is not stuck
    finally:
        await heartbeat.stop()


async def test_a_follower_s_thread_tells_the_loop_when_a_newer_leader_listens(redis_server, redis):
    """Told from the thread, on a loop too busy to ask Redis itself (the loop's own beat waited behind 5.7 s
    of a busy follower's turns at 20,000 kiosks); not before the leader listens, once per term."""
    lease = Lease(redis, "b", ttl_s=TTL_S)
    asked: asyncio.Queue[int] = asyncio.Queue()
    told: list[Holder] = []
    listening = asyncio.Event()
    loop = asyncio.get_running_loop()

    def leader_channel(epoch: int) -> str:
        loop.call_soon_threadsafe(asked.put_nowait, epoch)
        return f"t:leader:{epoch}"

    def on_listening(holder: Holder) -> None:
        told.append(holder)
        listening.set()

    heartbeat = Heartbeat(
        redis_server.url,
        lease,
        alive_key="t:alive:b",
        on_lost=lambda reason: None,
        on_listening=on_listening,
        leader_channel=leader_channel,
    )
    heartbeat.start(loop)
    inbox = redis.pubsub()
    try:
        assert await Lease(redis, "a", ttl_s=5.0).acquire() is not None  # a leads term 1, not listening yet
        assert await asyncio.wait_for(asked.get(), WAIT_S) == 1
        assert await asyncio.wait_for(asked.get(), WAIT_S) == 1  # asked again a beat later: the first said no
        assert told == []
        await inbox.subscribe("t:leader:1")  # it listens now
        hold_the_loop(3 * TTL_S)  # busy: the loop could not have asked; the thread could
        await asyncio.wait_for(listening.wait(), WAIT_S)
        assert told == [Holder("a", 1)]
        before = asked.qsize()
        hold_the_loop(3 * TTL_S)  # beats go on (a dozen): none asks about that term again
        await asyncio.sleep(0)  # one turn: the thread's callbacks, if any, have run
        assert asked.qsize() == before and told == [Holder("a", 1)]
    finally:
        await inbox.aclose()
        await heartbeat.stop()


async def test_a_busy_loop_does_not_time_out_a_connection_being_opened(redis_server):
    """A node's pool opens a connection while the loop is busy for a whole TTL (a herd after a failover):
    the connect's time-out fires in the turn that reads its answer, and with a third of a TTL it did, so
    the node took Redis for unreachable and raised the critical alert (docs/performance.md)."""
    client = redis_client(redis_server.url, TTL_S)
    try:
        ping = asyncio.ensure_future(client.ping())  # the pool is empty: a new connection
        await asyncio.sleep(0)  # the ping's first step: it is connecting
        busy_until = time.monotonic() + TTL_S
        while time.monotonic() < busy_until:  # the loop's turn: busy, reading nothing
            pass
        assert await asyncio.wait_for(ping, STALL_TTLS * TTL_S * 2) is True
    finally:
        await client.aclose()
