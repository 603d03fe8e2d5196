"""Every node visible: the leader's snapshot, the IT dashboard's fleet, and each node's own figures.

Once a second (``SHARE_EVERY_S``) every node of a cluster:

- **the leader** writes the snapshot of its switchboard (``views.snapshot_data``: counts, calls by state,
  departments with their waits) and the IT dashboard's open alerts and actions to ``<prefix>:snapshot``,
  and every ``STATS_EVERY_S`` its statistics (``/api/stats``: ``Router.stats()`` and the interpreters') to
  ``<prefix>:stats`` (both SET with a TTL of ``SNAPSHOT_TTL_S``: a dead leader's view disappears); the
  kiosks whose health changed since the last beat go to the hash ``<prefix>:fleet`` and, as the
  dashboard's ``kiosks`` event, to the followers (``commands.ClusterDesk``);
- **a follower** reads the snapshot (and the statistics when the snapshot says they are new) into
  ``LeaderView``, which its REST answers serve, and tells its own dashboards what changed in the leader's
  alerts and actions;
- **every node** reads the others' figures from their heartbeat keys (``<prefix>:alive:<id>``, written by
  the lease keeper with ``NodeFigures``) for the IT dashboard's nodes panel and ``/metrics``.

Why these periods (measured with ``time.thread_time`` at bench_cluster_routing.py's 1,000 waiting and 500
officers busy): the snapshot is 1.9 KB and 0.26 ms to build and encode, so once a second costs the leader
0.03 % of a core and keeps a follower's answers within about a second of the leader's. The statistics are
150 KB and 13.6 ms (the per-officer figures of ``Router.stats()`` are 144 KB of it), 2.7 ms to decode on a
follower: once a second they would cost the leader 1.4 % of a core and stall its event loop 13 ms in
every second, in front of routing decisions; every 5 s it is 0.27 %, and ``/api/stats`` readers (a
supervisor's figures, a monitoring scrape every 15 s or more) do not tell the difference.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import psutil
from aiohttp import web
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from remote_call.tasks import cancel_and_wait
from signaling_server.appkeys import SWITCHBOARD
from signaling_server.cluster.commands import DESK, ClusterDesk
from signaling_server.cluster.views import LEADER_VIEW, LeaderView, LocalView, SnapshotView, snapshot_data
from signaling_server.monitor import MONITOR, Monitor

if TYPE_CHECKING:
    from signaling_server.cluster.node import Node

log = logging.getLogger(__name__)

SHARE_EVERY_S = 1.0
STATS_EVERY_S = 5.0  # the statistics (Router.stats(): the per-officer figures are most of its cost)
SNAPSHOT_TTL_S = 10.0  # a leader gone for this long leaves no snapshot behind (a takeover takes ~ttl)
FLEET_SLICE = 500  # kiosks encoded between two turns of the event loop
# A new term writes every kiosk it knows to the hash, this long after it began: not among the herd of
# returning clients (20,000 kiosks: about 1 s of the new leader's CPU in its busiest seconds). Meanwhile
# the hash keeps the previous leader's picture, and the kiosks that change are written at each beat.
FLEET_FULL_AFTER_S = 10.0
FLEET_TTL_S = 3600.0  # the kiosks' hash, renewed while a leader writes it


def _version() -> str:
    try:
        return version("remote-madoguchi")
    except PackageNotFoundError:
        return "unknown"


class NodeFigures:
    """This node's own figures, as its heartbeat key carries them (JSON)."""

    VERSION = _version()

    def __init__(self, draining: Callable[[], bool]) -> None:
        self.draining = draining
        self._process = psutil.Process(os.getpid())
        self._process.cpu_percent(None)  # the first call starts the measurement
        self.last: dict[str, Any] = {}  # as last written (the keeper writes every lease_ttl_s / 3)

    def current(self, status: dict[str, Any]) -> dict[str, Any]:
        """``Node.status()`` with the process's RSS and CPU (since the last call), version and drain."""
        with self._process.oneshot():
            rss = self._process.memory_info().rss
            cpu = self._process.cpu_percent(None)
        return {
            **status,
            "rss_bytes": rss,
            "cpu_percent": round(cpu, 1),
            "version": self.VERSION,
            "draining": self.draining(),
            "at": round(time.time(), 3),
        }

    def encode(self, status: dict[str, Any]) -> bytes:
        self.last = self.current(status)
        return json.dumps(self.last, separators=(",", ":")).encode()


class Sharing:
    """The once-a-second loop of one node (see the module doc)."""

    def __init__(
        self,
        node: Node,
        app: web.Application,
        view: LeaderView,
        *,
        on_kiosks: Callable[[list[dict[str, Any]]], None],
    ) -> None:
        self.node = node
        self.app = app
        self.view = view
        self.on_kiosks = on_kiosks  # the leader's kiosk changes, to the followers' dashboards
        prefix = node.settings.key_prefix
        self.snapshot_key = f"{prefix}:snapshot"
        self.stats_key = f"{prefix}:stats"
        self.fleet_key = f"{prefix}:fleet"
        self.alive_prefix = f"{prefix}:alive:"
        self.nodes: list[dict[str, Any]] = []  # every node's last figures, by node id
        self._written_epoch: int | None = None
        self._stats_written = 0.0  # monotonic, on the leader
        self._stats_id = 0
        self._stats_read: str | None = None  # on a follower: which statistics it holds
        self._stats: dict[str, Any] = {}
        self._dirty: set[str] = set()
        self._full_fleet_at: float | None = None  # a new term's full write of the fleet, due then (monotonic)
        self._seen_alerts: dict[int, dict[str, Any]] = {}
        self._seen_actions: dict[str, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        monitor = self.monitor
        if monitor is not None:
            monitor.health.listeners.append(self._kiosk_changed)

    @property
    def monitor(self) -> Monitor | None:
        return self.app.get(MONITOR)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"cluster-sharing {self.node.node_id}")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except (RedisError, OSError) as exc:  # the node's keeper reports Redis outages (degraded mode)
                log.debug("node %s: sharing skipped a beat: %s", self.node.node_id, exc)
            except Exception:  # the next beat tries again: a view a second late, never a loop ended
                log.exception("node %s: sharing its view failed", self.node.node_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), SHARE_EVERY_S)  # the period, or a stop

    async def tick(self, *, statistics: bool = False) -> None:
        """One beat (the loop's; tests call it to see a change at once, ``statistics`` too)."""
        if self.node.leading:
            await self._write(statistics)
        else:
            self._written_epoch = None
            await self._read()
        await self._read_nodes()

    # ------------------------------------------------------------------ the leader

    def _kiosk_changed(self, kind: str, kiosk_id: str, data: dict[str, Any]) -> None:
        if kind == "updated":
            self._dirty.add(kiosk_id)

    async def _write(self, statistics: bool) -> None:
        term = self.node.lease.term
        epoch = term.holder.epoch if term is not None else 0
        data = snapshot_data(self.app[SWITCHBOARD], node=self.node.node_id, epoch=epoch, now=time.time())
        monitor = self.monitor
        if monitor is not None:
            data["fleet"] = {
                "alerts": [a.to_json() for a in monitor.alerts.open_alerts()],
                "actions": list(reversed(monitor.actions.values()))[:50],
            }
        ttl_ms = int(SNAPSHOT_TTL_S * 1000)
        new_term = epoch != self._written_epoch
        if statistics or new_term or time.monotonic() - self._stats_written >= STATS_EVERY_S:
            stats = json.dumps(LocalView(self.app[SWITCHBOARD]).stats(), ensure_ascii=False).encode()
            await self.node.redis.set(self.stats_key, stats, px=ttl_ms)
            self._stats_written, self._stats_id = time.monotonic(), self._stats_id + 1
        data["stats_id"] = f"{epoch}.{self._stats_id}"  # a follower reads the statistics when this moves
        # Written every beat, changed or not: while anyone waits, the longest wait changes every second, and
        # the write renews the TTL (a snapshot outlives its leader by at most SNAPSHOT_TTL_S).
        value = json.dumps(data, ensure_ascii=False).encode()
        await self.node.redis.set(self.snapshot_key, value, px=ttl_ms)
        if new_term:
            self._full_fleet_at = time.monotonic() + FLEET_FULL_AFTER_S
        full = self._full_fleet_at is not None and time.monotonic() >= self._full_fleet_at
        if full:
            self._full_fleet_at = None
        if monitor is not None:
            await self._write_fleet(monitor, first=full)
        self._written_epoch = epoch

    async def _write_fleet(self, monitor: Monitor, *, first: bool) -> None:
        """The kiosks whose health changed (all of them in a new term) to the hash and the followers."""
        dirty = set(monitor.health.kiosks) if first else self._dirty
        self._dirty = set()
        kiosks: list[dict[str, Any]] = []
        for n, kiosk_id in enumerate(sorted(dirty), 1):
            kiosk = monitor.kiosk_json(kiosk_id)
            if kiosk is not None:
                kiosks.append(kiosk)
            if n % FLEET_SLICE == 0:
                await asyncio.sleep(0)  # a new term writes every kiosk (20,000: seconds): let the loop turn
        if not kiosks:
            return
        mapping = {k["id"]: json.dumps(k, ensure_ascii=False) for k in kiosks}
        pipe = self.node.redis.pipeline(transaction=False)
        pipe.hset(self.fleet_key, mapping=mapping)
        pipe.pexpire(self.fleet_key, int(FLEET_TTL_S * 1000))
        await pipe.execute()
        if not first:
            self.on_kiosks(kiosks)

    # ------------------------------------------------------------------ a follower

    async def _read(self) -> None:
        raw = await self.node.redis.get(self.snapshot_key)
        if raw is None:
            self.view.snapshot = None
            return
        data = json.loads(raw)
        if data.get("stats_id") != self._stats_read:
            stats = await self.node.redis.get(self.stats_key)
            self._stats = json.loads(stats) if stats is not None else {}
            self._stats_read = data.get("stats_id")
        self.view.snapshot = SnapshotView(data, self._stats)
        self.view.fleet = data.get("fleet", {})
        self._tell_dashboards(self.view.fleet)

    def _tell_dashboards(self, fleet: dict[str, Any]) -> None:
        """The leader's alerts and actions that changed since the last read, as its dashboards hear them."""
        monitor = self.monitor
        if monitor is None:
            return
        alerts = {int(a["id"]): a for a in fleet.get("alerts", [])}
        for alert_id, alert in alerts.items():
            if alert_id not in self._seen_alerts:
                monitor.hub.publish("alert", {"event": "alert_raised", "alert": alert})
        for alert_id, alert in self._seen_alerts.items():
            if alert_id not in alerts:
                monitor.hub.publish("alert", {"event": "alert_cleared", "alert": alert})
        self._seen_alerts = alerts
        actions = {str(a["id"]): a for a in fleet.get("actions", [])}
        for action_id, action in actions.items():
            if self._seen_actions.get(action_id) != action:
                monitor.hub.publish("action", action)
        self._seen_actions = actions

    async def fleet(self) -> dict[str, Any]:
        """``Monitor.fleet()`` as this node serves it: on a follower, the leader's kiosks, alerts and
        actions (recent alerts come from the shared database either way)."""
        monitor = self.monitor
        assert monitor is not None
        data = monitor.fleet()
        data["nodes"] = self.nodes
        if self.view.current() is None:
            return data
        raw = await self.node.redis.hgetall(self.fleet_key)
        kiosks = {_text(k): json.loads(v) for k, v in raw.items()}
        for kiosk in data["kiosks"]:  # configured kiosks the leader has not written yet stay as known here
            kiosks.setdefault(kiosk["id"], kiosk)
        data["kiosks"] = [kiosks[k] for k in sorted(kiosks)]
        own = [a.to_json() for a in monitor.alerts.open_alerts() if a.kind.startswith("cluster")]
        data["alerts"] = self.view.fleet.get("alerts", []) + own
        data["actions"] = self.view.fleet.get("actions", [])
        return data

    # ------------------------------------------------------------------ every node

    async def _read_nodes(self) -> None:
        keys = sorted([key async for key in self.node.redis.scan_iter(match=f"{self.alive_prefix}*")])
        values = await self.node.redis.mget(keys) if keys else []
        nodes = []
        for key, value in zip(keys, values, strict=True):
            if value is None:
                continue
            try:
                figures = json.loads(value)
            except ValueError:
                continue
            if isinstance(figures, dict):
                nodes.append(figures)
            else:  # a node of an older release: its id only
                nodes.append({"node": _text(key).removeprefix(self.alive_prefix)})
        changed = nodes != self.nodes
        self.nodes = nodes
        monitor = self.monitor
        if changed and monitor is not None:
            monitor.hub.publish("nodes", nodes)


class SharingMetrics(Collector):
    """This node's own figures, node-labelled, and how old the leader's view it serves is (/metrics)."""

    def __init__(self, sharing: Sharing) -> None:
        self.sharing = sharing

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        node = self.sharing.node
        own = node.figures.last
        for name, doc, value in (
            (
                "madoguchi_cluster_node_rss_bytes",
                "Resident memory of this node's process",
                own.get("rss_bytes"),
            ),
            (
                "madoguchi_cluster_node_cpu_percent",
                "CPU of this node's process (% of one core)",
                own.get("cpu_percent"),
            ),
            ("madoguchi_cluster_node_draining", "1 while this node drains (SIGTERM)", own.get("draining")),
            (
                "madoguchi_cluster_nodes_alive",
                "Nodes whose heartbeat this node sees",
                len(self.sharing.nodes),
            ),
            (
                "madoguchi_cluster_view_age_seconds",
                "Age of the leader's snapshot this node serves (0 on the leader)",
                self.sharing.view.age_s() or 0.0,
            ),
        ):
            if value is None:
                continue
            family = GaugeMetricFamily(name, doc, labels=["node"])
            family.add_metric([node.node_id], float(value))
            yield family


SHARING = web.AppKey("sharing", Sharing)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def fleet_of(app: web.Application) -> dict[str, Any]:
    """The IT dashboard's fleet as this node serves it: its monitor's alone, or with every node's
    figures and, on a follower, the leader's kiosks, alerts and actions."""
    sharing = app.get(SHARING)
    return await sharing.fleet() if sharing is not None else app[MONITOR].fleet()


def setup_every_node(app: web.Application, node_of: Callable[[], Node | None]) -> None:
    """Before the app starts (``cluster.node.setup_cluster``): the view the REST answers read, and the
    sharing loop and command desk started after the node, stopped before it."""

    def following() -> bool:
        node = node_of()
        return node is not None and not node.leading

    def epoch() -> int | None:
        node = node_of()
        leader = node.gateway.leader if node is not None else None
        return leader.epoch if leader is not None else None

    app[LEADER_VIEW] = LeaderView(following=following, epoch=epoch)
    app.cleanup_ctx.append(lambda app: _every_node_ctx(app, node_of))
    app.on_shutdown.insert(0, _stop)  # before app._close_sockets stops the node (its Redis client)


async def _every_node_ctx(app: web.Application, node_of: Callable[[], Node | None]) -> AsyncIterator[None]:
    node = node_of()
    assert node is not None
    monitor = app.get(MONITOR)
    desk = ClusterDesk(
        node, app, on_kiosks=lambda kiosks: monitor.hub.publish("kiosks", kiosks) if monitor else None
    )
    sharing = Sharing(node, app, app[LEADER_VIEW], on_kiosks=desk.kiosks_changed)
    app[DESK], app[SHARING] = desk, sharing
    if monitor is not None:
        monitor.metrics.registry.register(SharingMetrics(sharing))
    await desk.start()
    sharing.start()
    yield
    await _stop(app)


async def _stop(app: web.Application) -> None:
    """Once on shutdown and again as the context ends: both stops are safe to repeat."""
    if SHARING in app:
        await app[SHARING].stop()
        await app[DESK].stop()
