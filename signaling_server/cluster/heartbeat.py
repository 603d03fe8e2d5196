"""A node's heartbeat and its leader's lease, kept from a thread of their own while the event loop turns.

Under load a node's event loop can be busy for seconds at a time (25,000 clients reconnecting, a burst of
calls): a lease renewed *on* that loop ran out while the loop was busy, the leader stepped down, every
client reconnected to the next leader, whose loop was then busy in turn... (measured: a 3,000-kiosk run
changed leaders five times in its first minute). So a thread with its own (blocking) Redis connection
does the two things whose timing matters:

- it writes the node's heartbeat key (``<prefix>:alive:<id>``, the figures the loop last encoded), so that
  a leader does not take a busy follower for dead and detach its clients;
- while the node leads, it renews the lease every ``ttl/6``, with the same Lua script and the same
  fencing (``Lease.renewed``) as the loop would;
- while it follows, it tells the loop when a newer leader listens (``on_listening``), and takes the lease
  itself the moment a dead leader's runs out (``may_take`` / ``on_taken``): the loop takes over at its next
  turn. Taken by the loop, the lease waited for a turn of a loop busy with its share of the dead node's
  clients, then for two more (the heartbeat key, then the acquire script): at 20,000 kiosks 2.4-3.9 s
  after the kill against 2.4-3.0 s for the lease to run out.

Both only while the loop still turns: a callback on the loop notes the time every ``TICK_S``; when the loop
has not run it for ``stall_s`` (4 TTLs by default: stuck, not busy), the thread stops renewing and stops
writing the heartbeat, so the lease runs out and another node takes over, as after a kill -9. A renewal
refused by Redis (someone else holds the key) and a loop found stuck are reported to the loop
(``on_lost``) through ``call_soon_threadsafe``.

A loop busy for a whole TTL is logged once with where it is (the loop thread's stack: code, never data),
so that what holds a node's loop on a big fleet shows in its log (a leader of a 20,000-kiosk run was
silent for 12 s three times in a minute, and its log could not say why).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import redis as redis_sync
from redis.exceptions import RedisError

from signaling_server.cluster.lease import (
    _ACQUIRE,
    _RENEW,
    RETRY_MARGIN_S,
    SAFETY_MARGIN,
    Holder,
    Lease,
    LeaseTerm,
)

log = logging.getLogger(__name__)

TICK_S = 0.1  # the loop's sign of life (a callback every 100 ms costs nothing measurable)
BEATS_PER_TTL = 6  # a beat every ttl/6: on a loaded machine one beat came 2.6 s after the last (ttl 3 s)
ALIVE_TTLS = 2  # the heartbeat key outlives two TTLs: one late beat does not get a node reaped
STALL_TTLS = 4.0  # a loop silent this many lease TTLs is stuck: its lease is let go
BUSY_TTLS = 1.0  # a loop silent this many lease TTLs is logged with where it is, once per such spell
STACK_FRAMES = 12  # of the loop thread's stack, innermost last: enough to name the caller that holds it


class Heartbeat:
    """``start(loop)`` / ``stop()``; ``figures`` is what the heartbeat key holds (set by the loop)."""

    def __init__(
        self,
        redis_url: str,
        lease: Lease,
        *,
        alive_key: str,
        on_lost: Callable[[str], None],
        on_listening: Callable[[Holder], None] | None = None,
        leader_channel: Callable[[int], str] | None = None,
        may_take: Callable[[], bool] = lambda: False,
        on_taken: Callable[[LeaseTerm], None] = lambda term: None,
        stall_s: float | None = None,
        busy_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease = lease
        self.alive_key = alive_key
        self.on_lost = on_lost  # called on the loop with the reason
        # A follower: a newer leader that listens is told to the loop (``_watch_leader``).
        self.on_listening, self.leader_channel = on_listening, leader_channel
        self._listening_epoch = 0  # the newest leader told listening
        # A follower that may stand takes a free lease from here and tells the loop (``_take``).
        self.may_take, self.on_taken = may_take, on_taken
        self.stall_s = stall_s if stall_s is not None else STALL_TTLS * lease.ttl_s
        self.busy_s = busy_s if busy_s is not None else BUSY_TTLS * lease.ttl_s
        self.clock = clock
        self.figures = b"{}"
        self.leading = False  # renew the lease too (set by the loop while it leads)
        self.renewals = 0
        self.takes = 0  # leases taken from here (a follower's, as a dead leader's ran out)
        self._renewed: tuple[Holder, float] | None = None  # the last renewal: its term, when sent
        self.redis = redis_sync.Redis.from_url(
            redis_url, socket_timeout=lease.ttl_s / 3, socket_connect_timeout=lease.ttl_s / 3
        )
        self._renew = self.redis.register_script(_RENEW)
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._loop_seen = clock()
        self._ticker: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ on the loop

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called on ``loop``'s thread (whose stack a busy spell logs)."""
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._tick()
        self._thread = threading.Thread(
            target=self._run, name=f"cluster-heartbeat {self.lease.node_id}", daemon=True
        )
        self._thread.start()

    def _tick(self) -> None:
        self._loop_seen = self.clock()
        assert self._loop is not None
        self._ticker = self._loop.call_later(TICK_S, self._tick)

    async def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        self.redis.close()

    # ------------------------------------------------------------------ on the thread

    @property
    def loop_silent_s(self) -> float:
        return self.clock() - self._loop_seen

    def _run(self) -> None:
        period = self.lease.ttl_s / BEATS_PER_TTL
        stalled = told_busy = False
        wait_s = period
        while not self._stop.wait(wait_s):
            wait_s = period
            silent_s = self.loop_silent_s
            if silent_s <= self.busy_s:
                told_busy = False
            elif not told_busy:
                self._tell_busy(silent_s)
                told_busy = True
            if silent_s > self.stall_s:
                if not stalled:
                    log.error(
                        "node %s: its event loop has not run for %.1f s: no heartbeat, no renewal (the "
                        "lease runs out, another node takes over)",
                        self.lease.node_id,
                        silent_s,
                    )
                stalled = True
                continue
            stalled = False
            with contextlib.suppress(RedisError, OSError):  # the loop's keeper reports Redis outages
                self.redis.set(self.alive_key, self.figures, px=ALIVE_TTLS * self.lease.ttl_ms)
            if self.leading:
                self.renew()
                continue
            if self.may_take():
                wait_s = min(period, self._take())
            if not self.leading:
                self._watch_leader()

    def _take(self) -> float:
        """Take the lease if it is free: the loop is told (``on_taken``) and the term renewed from here
        until the loop has taken over. How long the holder's lease has left otherwise, to try again as it
        runs out (a live leader renews every ttl/6: its lease never runs that low)."""
        sent_at = self.clock()
        try:
            answer = int(self._acquire(keys=self.lease.acquire_keys, args=self.lease.acquire_args()))
        except (RedisError, OSError):
            return self.lease.ttl_s  # the loop's keeper reports Redis outages
        term = self.lease.taken(answer, sent_at)
        if term is None:
            return -answer / 1000 + RETRY_MARGIN_S
        self.leading = True
        self.takes += 1
        self._call_on_loop(self.on_taken, term)
        return self.lease.ttl_s

    def _watch_leader(self) -> None:
        """A follower: tell the loop the moment a newer leader listens, so it moves its connections there.
        The loop's own beat asks Redis three times in a row, each answer read behind a whole turn of a loop
        busy with its share of a dead node's clients: at 20,000 kiosks a follower moved 5.7 s after the new
        leader listened, its 4,500 returning clients held meanwhile. This thread's questions wait for no
        turn; the loop acts on its next one."""
        if self.on_listening is None or self.leader_channel is None:
            return
        try:
            holder = Holder.parse(self.redis.get(self.lease.key))
            if holder is None or holder.epoch <= self._listening_epoch or holder.node == self.lease.node_id:
                return
            listening = self.redis.pubsub_numsub(self.leader_channel(holder.epoch))
        except (RedisError, OSError):
            return  # the keeper on the loop finds the leader as before
        if listening and listening[0][1]:
            self._listening_epoch = holder.epoch
            self._call_on_loop(self.on_listening, holder)

    def _tell_busy(self, silent_s: float) -> None:
        """Log where the loop thread is: its innermost frames (file, line, function, source line)."""
        frame = sys._current_frames().get(self._loop_thread) if self._loop_thread is not None else None
        where = "".join(traceback.format_stack(frame, limit=STACK_FRAMES)) if frame is not None else "?"
        log.warning(
            "node %s: its event loop has been busy for %.1f s, in:\n%s", self.lease.node_id, silent_s, where
        )

    def renew(self) -> None:
        """One renewal of this node's term, if it has one; a refusal ends the term and tells the loop."""
        term = self.lease.term
        if term is None:
            return
        sent_at = self.clock()
        try:
            renewed = int(self._renew(keys=[self.lease.key], args=[term.holder.value, self.lease.ttl_ms]))
        except (RedisError, OSError) as exc:
            log.warning("node %s: the lease could not be renewed: %s", self.lease.node_id, exc)
            return  # the term runs out by itself if this goes on (the loop deposes the node then)
        if not self.lease.renewed(term, sent_at, ok=bool(renewed)):
            self._tell("another node holds the lease")
            return
        self.renewals += 1
        previous, self._renewed = self._renewed, (term.holder, sent_at)
        gap = sent_at - previous[1] if previous is not None and previous[0] == term.holder else 0.0
        if gap > self.lease.ttl_s * (1 - SAFETY_MARGIN):  # the term ran out on this node's clock meanwhile
            log.warning("node %s: the lease was renewed %.1f s after the previous renewal", term.holder, gap)

    def _tell(self, reason: str) -> None:
        self._call_on_loop(self.on_lost, reason)

    def _call_on_loop(self, callback: Callable[[Any], None], argument: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(callback, argument)
