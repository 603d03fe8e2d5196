"""The leader's lease in Redis: one switchboard at a time, with an epoch as fencing token.

``LeaseTerm`` is pure (state in, frozen answers out, an injected clock); ``Lease`` does the Redis I/O with
two short Lua scripts, so that taking the lease and numbering the term, or renewing only one's own term,
are each one atomic step on the Redis server.

Safety does not depend on clocks agreeing: a holder counts its term from the moment it *sent* the request
that took or renewed the lease (its own monotonic clock) and stops deciding ``SAFETY_MARGIN`` before the
TTL runs out there, so it has stopped before Redis lets anyone else take the key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

SAFETY_MARGIN = 0.2  # of the TTL: a holder stops deciding at 80 % of its lease, whatever Redis says

# The follower's retry comes this long after the lease runs out in Redis: the key is gone by then.
RETRY_MARGIN_S = 0.01
# KEYS: lease key, epoch counter. ARGV: node id, ttl ms, the highest epoch this node has seen.
# The epoch is never lower than one already seen, even after Redis lost its data (restart, no persistence).
# Returns the new epoch, or minus the milliseconds the holder's lease has left (at least 1).
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local epoch = redis.call('INCR', KEYS[2])
  local floor = tonumber(ARGV[3]) + 1
  if epoch < floor then
    epoch = floor
    redis.call('SET', KEYS[2], epoch)
  end
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
  return epoch
end
local left = redis.call('PTTL', KEYS[1])
if left < 1 then
  left = 1
end
return -left
"""
# KEYS: lease key. ARGV: the holder's value (node:epoch), ttl ms. 1 when renewed, 0 when not ours any more.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Holder:
    """Who holds the lease, as its value in Redis says: ``node:epoch``."""

    node: str
    epoch: int

    @staticmethod
    def parse(value: str | bytes | None) -> Holder | None:
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else value
        node, sep, epoch = text.rpartition(":")
        if not sep or not epoch.isdigit():
            return None  # being written by _ACQUIRE's first SET (never seen: the script is atomic)
        return Holder(node, int(epoch))

    @property
    def value(self) -> str:
        return f"{self.node}:{self.epoch}"


@dataclass(frozen=True)
class LeaseTerm:
    """One node's term as leader: valid until ``valid_until`` on that node's own clock."""

    holder: Holder
    ttl_s: float
    valid_until: float

    @staticmethod
    def begin(holder: Holder, ttl_s: float, sent_at: float) -> LeaseTerm:
        """A term taken (or renewed) by a request sent at ``sent_at``."""
        return LeaseTerm(holder, ttl_s, sent_at + ttl_s * (1 - SAFETY_MARGIN))

    def renewed(self, sent_at: float) -> LeaseTerm:
        return LeaseTerm.begin(self.holder, self.ttl_s, sent_at)

    def holds(self, now: float) -> bool:
        """Whether the holder may still decide at ``now``."""
        return now < self.valid_until

    @property
    def renew_every_s(self) -> float:
        return self.ttl_s / 3


class Lease:
    """The lease for one node: ``acquire``, ``renew``, ``release``, ``holder``; ``term`` while it leads."""

    def __init__(
        self,
        redis: Redis,
        node_id: str,
        *,
        ttl_s: float,
        prefix: str = "madoguchi",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.node_id = node_id
        self.ttl_s = ttl_s
        self.key = f"{prefix}:leader"
        self.epoch_key = f"{prefix}:epoch"
        self.clock = clock
        self.term: LeaseTerm | None = None
        self._guard = threading.Lock()  # the term is renewed from the heartbeat thread (heartbeat.py)
        self.highest_epoch = 0  # fencing: the newest term this node has heard of
        self.free_in_s: float | None = None  # the lease it could not take runs out in this, as last seen
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    @property
    def ttl_ms(self) -> int:
        return max(1, round(self.ttl_s * 1000))

    def holds(self) -> bool:
        """Whether this node leads right now (on its own clock): checked before every decision."""
        return self.term is not None and self.term.holds(self.clock())

    async def acquire(self) -> LeaseTerm | None:
        """Take the lease if nobody holds it: the new term (with a new, higher epoch), or None (and
        ``free_in_s``: when the holder's runs out unless renewed)."""
        sent_at = self.clock()
        answer = int(await self._acquire(keys=self.acquire_keys, args=self.acquire_args()))
        self.free_in_s = -answer / 1000 if answer <= 0 else None
        return self.taken(answer, sent_at)

    @property
    def acquire_keys(self) -> list[str]:
        return [self.key, self.epoch_key]

    def acquire_args(self) -> list[str | int]:
        """The acquire script's arguments (``_ACQUIRE``), for the loop's client or the heartbeat thread's."""
        return [self.node_id, self.ttl_ms, self.highest_epoch]

    def taken(self, answer: int, sent_at: float) -> LeaseTerm | None:
        """Note the acquire script's answer to a request sent at ``sent_at`` (from the loop or the heartbeat
        thread): the new term when it took the lease, else None."""
        if answer <= 0:
            return None
        with self._guard:
            self.highest_epoch = max(self.highest_epoch, answer)
            self.term = LeaseTerm.begin(Holder(self.node_id, answer), self.ttl_s, sent_at)
            return self.term

    def retry_in(self, period_s: float) -> float:
        """When a follower tries again: at its period, or as the lease it could not take runs out if that
        is sooner (a dead leader's, renewed no more: its clients wait for the next one). At its period only,
        a follower took a dead leader's lease 0.2-1 s after it ran out (20,000 kiosks: 3.2-3.4 s after the
        kill with a 3 s TTL). A live leader renews every TTL/6: its lease never runs that low."""
        free_in, self.free_in_s = self.free_in_s, None  # once: a node that may not try waits its period
        if free_in is None:
            return period_s
        return min(period_s, free_in + RETRY_MARGIN_S)

    async def renew(self) -> bool:
        """Extend this node's term; False (and no term any more) when the lease is not its own now."""
        term = self.term
        if term is None:
            return False
        sent_at = self.clock()
        renewed = int(await self._renew(keys=[self.key], args=[term.holder.value, self.ttl_ms]))
        return self.renewed(term, sent_at, ok=bool(renewed))

    def renewed(self, term: LeaseTerm, sent_at: float, *, ok: bool) -> bool:
        """Note the answer to a renewal of ``term`` sent at ``sent_at`` (from the loop or the heartbeat
        thread): the term runs on when Redis renewed it and nobody ended it meanwhile; else it ends."""
        with self._guard:
            current = self.term
            if current is None or current.holder != term.holder:
                return False  # ended meanwhile (lose): it stays ended
            if not ok:
                self.term = None
                return False
            fresh = term.renewed(sent_at)
            if fresh.valid_until > current.valid_until:  # the loop's and the thread's answers may cross
                self.term = fresh
            return True

    def lose(self) -> None:
        """Stop leading at once (renewal failed, or the term ran out on this node's clock)."""
        with self._guard:
            self.term = None

    async def release(self, term: LeaseTerm | None = None) -> None:
        """Give the lease up (clean shutdown; or ``term``, one this node stopped deciding for): a follower
        takes it at its next try, not after the TTL. Only that term's holder is deleted, never a newer one."""
        term = term or self.term
        if term is self.term:
            self.term = None
        if term is not None:
            await self._release(keys=[self.key], args=[term.holder.value])

    async def holder(self) -> Holder | None:
        """Who holds the lease now, per Redis; notes its epoch as the highest seen."""
        holder = Holder.parse(await self.redis.get(self.key))
        if holder is not None:
            self.highest_epoch = max(self.highest_epoch, holder.epoch)
        return holder
