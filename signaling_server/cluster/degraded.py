"""A node's Redis: how its clients are made, and its view of Redis: reachable or not, since when, and the
alert that says so.

When Redis is unreachable the node is *degraded* (docs/deployment-cluster.md): new connections are refused
until a leader is known again, and a leader stops deciding when its lease runs out. The alert is raised
once per outage and cleared when Redis answers again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from signaling_server.cluster.heartbeat import STALL_TTLS
from signaling_server.monitor import Monitor

log = logging.getLogger(__name__)

ALERT_KIND = "cluster_redis"


def redis_client(url: str, ttl_s: float, *, timeout: bool = True) -> Redis:
    """No retries inside redis-py: the keeper retries on its own beat and must notice an outage at once.

    The loop's commands time out after as long as the heartbeat thread lets the loop be silent before it
    takes it for stuck (``STALL_TTLS``), not after one TTL: a time-out is a timer on the same loop, and a
    loop busy for longer than it fires it in the turn that reads Redis's answer, before the waiting task
    resumes. With one TTL (3 s), the new leader of the 20,000-kiosk run, busy 3.0-3.5 s at a time, took
    Redis for unreachable 26 times in five minutes (once for 20 s): each time it refused new connections
    and closed those whose frames it could not publish, and they came back into the same herd. The same
    holds for opening a connection (the pool opens one when its others are busy): with a third of a TTL,
    a node in four of ten 20,000-kiosk runs logged "Timeout connecting to server" twice and raised the
    critical Redis alert, in the herd after a failover, its loop's turns lasting 1-2 s. A dead or
    restarted Redis still fails at once (the connection is refused or reset); one that stops answering
    altogether costs a leader its lease through the heartbeat thread first (its own time-outs, off the
    loop)."""
    return Redis.from_url(
        url,
        socket_timeout=STALL_TTLS * ttl_s if timeout else None,
        socket_connect_timeout=STALL_TTLS * ttl_s,
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )


class RedisWatch:
    """``failed(exc)`` when a Redis command or subscription fails, ``back()`` when one succeeds."""

    def __init__(
        self, node_id: str, monitor: Monitor | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.node_id = node_id
        self.monitor = monitor
        self.clock = clock
        self.up = True
        self.down_since: float | None = None

    def down_s(self) -> float:
        """How long Redis has been unreachable (0 while it answers)."""
        return 0.0 if self.down_since is None else self.clock() - self.down_since

    def failed(self, exc: Exception) -> None:
        if self.down_since is None:
            self.down_since = self.clock()
        if not self.up:
            return
        self.up = False
        log.error(
            "node %s: Redis unreachable (%s): degraded; new connections are refused until a leader is "
            "known again, a leader stops deciding when its lease runs out",
            self.node_id,
            exc,
        )
        if self.monitor is not None:
            self.monitor.alerts.raise_alert(
                ALERT_KIND,
                self.node_id,
                kiosk_id=None,
                severity="critical",
                message_ja=f"ノード {self.node_id}: Redis に接続できません（縮退運転中）",
                message_en=f"node {self.node_id}: Redis unreachable (degraded mode)",
                now=time.time(),
            )

    def back(self) -> bool:
        """Whether Redis was taken for unreachable until now."""
        self.down_since = None
        if self.up:
            return False
        self.up = True
        log.warning("node %s: Redis reachable again", self.node_id)
        if self.monitor is not None:
            self.monitor.alerts.clear(ALERT_KIND, self.node_id, time.time())
        return True
