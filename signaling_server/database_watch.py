"""PostgreSQL unreachable: a designed, alerted degraded mode, and recovery when it returns.

The database layer (``db/postgres.py``) notices the loss on the statement that meets it and from then on
refuses every statement at once; this watch does the rest, in one place, mirroring Redis's degraded mode
(``cluster/node.py``):

- it **logs once** ``PostgreSQL unreachable (…): degraded …``, raises the alert ``database`` (critical,
  subject: this node), shows ``madoguchi_database_up 0`` (and the writes waiting,
  ``madoguchi_database_pending_writes``) on ``/metrics`` and ``"database": "down"`` in ``/healthz``,
  answered **503** ``{"status": "degraded"}``: a load balancer moves new clients to a node that still
  reaches its database, and when none does they are refused either way (a sign-in needs the database);
  connections already open are not cut (haproxy keeps established tunnels);
- it **connects again** in a worker thread (a host that does not answer must not hold the event loop),
  after 0.5 s and then doubling up to ``MAX_BACKOFF_S``; the writes kept meanwhile are written in order on
  the new connection (``PostgresDatabase.recovered``) before anything else reads it; then the alert
  clears and the log says how long it lasted and how many writes waited.

While it is down, what needs a record is refused with an error that names the database: a sign-in
(``error internal`` to the hello, which clients retry with their backoff), a new call (``error internal``
about ``request_call``), a late outcome or a rating (they read the call's record), REST that reads or
writes records (503 with the reason, ``database_unavailable`` below). Calls in progress go on (media is
peer to peer; the switchboard decides in memory), and what the switchboard records of them (the call's
end and outcome, the queue, an interpreter leaving, their audit entries) waits in memory (``write_behind``).
Those writes are lost only if this process dies before the database returns: as everything a killed
server holds in memory. A SQLite file has no such mode: it is on this machine's disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from remote_call.tasks import cancel_and_wait
from signaling_server.alerts import AlertManager
from signaling_server.appkeys import CONFIG, STORE
from signaling_server.db import Database, DatabaseUnavailable
from signaling_server.db.postgres import PostgresDatabase
from signaling_server.monitor import MONITOR

log = logging.getLogger(__name__)

ALERT_KIND = "database"
PROBE_S = 2.0  # a round trip this often while up: an outage is noticed even when nothing is written
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 5.0  # a returning database is found within this (plus the connection's own time)
SINGLE_NODE = "server"  # the alert's subject and the gauges' node label without [server.cluster]


class DatabaseWatch:
    """One node's watch over its PostgreSQL connection: the degraded mode's log, alert and recovery."""

    def __init__(
        self,
        db: PostgresDatabase,
        *,
        node: str,
        alerts: Callable[[], AlertManager | None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.node = node
        self._alerts = alerts
        self._clock = clock
        self._lost = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.down_since: float | None = None  # while unreachable: since when (this node noticed)
        db.on_lost.append(self._on_lost)

    def _on_lost(self, _reason: str) -> None:
        self._lost.set()  # the statement that met the loss raises on; the watch takes it from here

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="database-watch")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        with contextlib.suppress(ValueError):
            self.db.on_lost.remove(self._on_lost)

    async def _run(self) -> None:
        while not self._stop.is_set():
            if self.db.available:
                await self._wait(self._lost, PROBE_S)
                self._lost.clear()
                self._probe()
            if not self.db.available:
                self._went_down()
                await self._reconnect()

    def _probe(self) -> None:
        try:
            self.db.ping()
        except DatabaseUnavailable:
            pass  # noticed: the loop goes on to the degraded mode
        except Exception:  # the statement's own failure, not an outage: logged, probed again later
            log.exception("the database probe failed")

    async def _wait(self, event: asyncio.Event, timeout: float) -> None:
        """Until ``event``, stop, or ``timeout`` (the probe's period, the backoff): whichever is first."""
        waiters = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._stop.wait())}
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _reconnect(self) -> None:
        delay = FIRST_BACKOFF_S
        while not self._stop.is_set():
            try:
                conn = await asyncio.to_thread(self.db.open_connection)
            except Exception as exc:  # the driver's reason: still down
                log.debug("PostgreSQL still unreachable: %s", exc)
            else:
                try:
                    written = self.db.recovered(conn)
                except DatabaseUnavailable:
                    log.warning("PostgreSQL was lost again while the kept writes were written")
                else:
                    self._came_back(written)
                    return
            await self._wait(asyncio.Event(), delay)
            delay = min(MAX_BACKOFF_S, delay * 2)

    def _went_down(self) -> None:
        if self.down_since is not None:
            return
        self.down_since = self._clock()
        log.error(
            "node %s: PostgreSQL unreachable (%s): degraded; sign-ins and new calls are refused, calls in "
            "progress go on and their records wait in memory until it returns",
            self.node,
            self.db.lost_reason,
        )
        alerts = self._alerts()
        if alerts is not None:
            single = self.node == SINGLE_NODE
            alerts.raise_alert(
                ALERT_KIND,
                self.node,
                kiosk_id=None,
                severity="critical",
                message_ja=f"{'サーバー' if single else f'ノード {self.node}'}: データベース（PostgreSQL）に"
                "接続できません（縮退運転中）",
                message_en=f"{'server' if single else f'node {self.node}'}: PostgreSQL unreachable "
                "(degraded mode)",
                now=self.down_since,
                details={"reason": self.db.lost_reason or ""},
            )

    def _came_back(self, written: int) -> None:
        now = self._clock()
        lasted = now - (self.down_since if self.down_since is not None else now)
        self.down_since = None
        log.warning(
            "node %s: PostgreSQL reachable again after %.1f s; %d writes kept meanwhile are written",
            self.node,
            lasted,
            written,
        )
        alerts = self._alerts()
        if alerts is not None:
            alerts.clear(ALERT_KIND, self.node, now)


class DatabaseMetrics(Collector):
    """``madoguchi_database_up`` and ``madoguchi_database_pending_writes`` (per-app registry, /metrics)."""

    def __init__(self, db: Database, node: str) -> None:
        self.db = db
        self.node = node

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        for name, doc, value in (
            ("madoguchi_database_up", "1 when this node reaches its record database", self.db.available),
            ("madoguchi_database_pending_writes", "Writes waiting for the database", self.db.pending_writes),
        ):
            family = GaugeMetricFamily(name, doc, labels=["node"])
            family.add_metric([self.node], float(value))
            yield family


WATCH = web.AppKey("database_watch", DatabaseWatch)


def node_name(app: web.Application) -> str:
    cluster = app[CONFIG].server.cluster
    return cluster.node_id if cluster is not None else SINGLE_NODE


def setup_database_watch(app: web.Application) -> None:
    """The watch (PostgreSQL only), the gauges, and REST's translation of an unreachable database."""
    app.middlewares.append(database_unavailable)
    app.cleanup_ctx.append(_watch_ctx)


async def _watch_ctx(app: web.Application) -> AsyncIterator[None]:
    db, node = app[STORE].db, node_name(app)
    monitor = app.get(MONITOR)
    if monitor is not None:
        monitor.metrics.registry.register(DatabaseMetrics(db, node))
    if not isinstance(db, PostgresDatabase):
        yield  # a SQLite file: no degraded mode
        return
    watch = DatabaseWatch(db, node=node, alerts=lambda: getattr(app.get(MONITOR), "alerts", None))
    app[WATCH] = watch
    watch.start()
    yield
    await watch.stop()


def database_status(app: web.Application) -> tuple[dict[str, Any], int]:
    """For /healthz: the ``database`` field, and 503 while it is down (see the module's doc)."""
    db = app[STORE].db
    if db.available:
        return {"database": "up"}, 200
    return {"status": "degraded", "database": "down", "database_pending_writes": db.pending_writes}, 503


@web.middleware
async def database_unavailable(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A REST handler that met an unreachable database: 503 with the reason, which the caller may retry."""
    try:
        return await handler(request)
    except DatabaseUnavailable as exc:
        log.warning("%s %s refused: %s", request.method, request.path, exc)
        return web.json_response({"error": str(exc)}, status=503, headers={"Retry-After": "5"})
