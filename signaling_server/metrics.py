"""Prometheus metrics of one server process, in a per-app ``CollectorRegistry`` (served at /metrics).

Live values (kiosks, devices, queues, officers, open alerts) are read from the health registry and the
switchboard at scrape time; counters and histograms (heartbeats, ended calls by reason and outcome, call
quality samples) are updated as the events happen. Labels carry ids only, never personal data.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from signaling_server.alerts import AlertManager
from signaling_server.cluster.views import LiveView
from signaling_server.health import DEVICE_STATUSES, HealthRegistry

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

RTT_BUCKETS_MS = (10, 25, 50, 100, 150, 200, 300, 500, 1000, 2000)
LOSS_BUCKETS_PCT = (0.1, 0.5, 1, 2, 5, 10, 20, 50)
JITTER_BUCKETS_MS = (5, 10, 20, 30, 50, 100, 200)
BITRATE_BUCKETS_KBPS = (64, 128, 256, 512, 1000, 1500, 2500, 4000)
FPS_BUCKETS = (1, 5, 10, 15, 20, 25, 30)


class MonitoringMetrics:
    def __init__(
        self, health: HealthRegistry, alerts: AlertManager, live_view: Callable[[], LiveView | None]
    ):
        self.health = health
        self.alerts = alerts
        self.live_view = live_view  # the switchboard's figures; on a follower, the leader's (cluster/views)
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.heartbeats = Counter("madoguchi_heartbeats", "Heartbeats received from kiosks", registry=r)
        self.calls_ended = Counter(
            "madoguchi_calls_ended",
            "Calls ended, by end reason and recorded outcome",
            ["reason", "outcome"],
            registry=r,
        )
        self.alerts_raised = Counter(
            "madoguchi_alerts_raised", "Alerts raised, by kind", ["kind"], registry=r
        )
        self.quality_samples = Counter(
            "madoguchi_call_quality_samples", "Call-quality reports received", ["role"], registry=r
        )
        self.rtt = Histogram(
            "madoguchi_call_rtt_ms",
            "Call round-trip time reported by either party (ms)",
            ["role"],
            buckets=RTT_BUCKETS_MS,
            registry=r,
        )
        self.loss = Histogram(
            "madoguchi_call_packet_loss_percent",
            "Call packet loss per 5 s sample (%)",
            ["role", "direction"],
            buckets=LOSS_BUCKETS_PCT,
            registry=r,
        )
        self.jitter = Histogram(
            "madoguchi_call_jitter_ms", "Call jitter (ms)", ["role"], buckets=JITTER_BUCKETS_MS, registry=r
        )
        self.bitrate = Histogram(
            "madoguchi_call_bitrate_kbps",
            "Call media bitrate (kbit/s)",
            ["role", "direction"],
            buckets=BITRATE_BUCKETS_KBPS,
            registry=r,
        )
        self.fps = Histogram(
            "madoguchi_call_fps",
            "Call video frame rate",
            ["role", "direction"],
            buckets=FPS_BUCKETS,
            registry=r,
        )
        r.register(_LiveCollector(self))

    def observe_quality(self, role: str, sample: dict[str, Any]) -> None:
        self.quality_samples.labels(role).inc()
        if sample.get("rtt_ms") is not None:
            self.rtt.labels(role).observe(sample["rtt_ms"])
        if sample.get("jitter_ms") is not None:
            self.jitter.labels(role).observe(sample["jitter_ms"])
        for direction in ("in", "out"):
            if sample.get(f"loss_{direction}_pct") is not None:
                self.loss.labels(role, direction).observe(sample[f"loss_{direction}_pct"])
            if sample.get(f"bitrate_{direction}_kbps") is not None:
                self.bitrate.labels(role, direction).observe(sample[f"bitrate_{direction}_kbps"])
            if sample.get(f"fps_{direction}") is not None:
                self.fps.labels(role, direction).observe(sample[f"fps_{direction}"])

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    def __init__(self, metrics: MonitoringMetrics):
        self.m = metrics

    def describe(self) -> list[Metric]:
        return []  # values are read at scrape time; nothing to describe in advance

    def collect(self) -> Iterator[Metric]:
        yield from self._kiosks()
        yield self._open_alerts()
        view = self.m.live_view()
        if view is not None:
            yield from _queues(view)
            yield from _calls_and_connections(view)

    def _kiosks(self) -> Iterator[Metric]:
        kiosks = list(self.m.health.kiosks.values())
        states = Tally(k.state for k in kiosks)
        family = GaugeMetricFamily(
            "madoguchi_kiosks", "Kiosks by state (online counts degraded and error too)", labels=["state"]
        )
        online = sum(1 for k in kiosks if k.online)
        family.add_metric(["online"], online)
        for state in ("offline", "never", "degraded", "error"):
            family.add_metric([state], states.get(state, 0))
        yield family
        up = GaugeMetricFamily("madoguchi_kiosk_up", "1 if the kiosk's heartbeats arrive", labels=["kiosk"])
        rtt = GaugeMetricFamily(
            "madoguchi_kiosk_rtt_ms", "Kiosk to server round-trip time (ms)", labels=["kiosk"]
        )
        devices = GaugeMetricFamily(
            "madoguchi_kiosk_device_status",
            "1 for each kiosk device's current status",
            labels=["kiosk", "device", "status"],
        )
        by_status = GaugeMetricFamily(
            "madoguchi_devices", "Devices of online kiosks by type and status", labels=["device", "status"]
        )
        counts: Tally[tuple[str, str]] = Tally()
        for kiosk in kiosks:
            if kiosk.online is None:
                continue
            up.add_metric([kiosk.kiosk_id], 1 if kiosk.online else 0)
            if kiosk.rtt_ms is not None and kiosk.online:
                rtt.add_metric([kiosk.kiosk_id], kiosk.rtt_ms)
            for name, device in kiosk.devices.items():
                status = device.status if device.status in DEVICE_STATUSES else "unknown"
                devices.add_metric([kiosk.kiosk_id, name, status], 1)
                if kiosk.online:
                    counts[(name, status)] += 1
        for (name, status), n in sorted(counts.items()):
            by_status.add_metric([name, status], n)
        yield from (up, rtt, devices, by_status)

    def _open_alerts(self) -> Metric:
        alerts = GaugeMetricFamily(
            "madoguchi_alerts_open", "Open alerts by kind and severity", labels=["kind", "severity"]
        )
        open_alerts = Tally((a.kind, a.severity) for a in self.m.alerts.open_alerts())
        for (kind, severity), n in sorted(open_alerts.items()):
            alerts.add_metric([kind, severity], n)
        return alerts


def _queues(view: LiveView) -> Iterator[Metric]:
    waiting = GaugeMetricFamily(
        "madoguchi_queue_waiting", "Residents waiting, by department", labels=["department"]
    )
    ewt = GaugeMetricFamily(
        "madoguchi_queue_estimated_wait_seconds",
        "Estimated wait for a new arrival",
        labels=["department"],
    )
    is_open = GaugeMetricFamily(
        "madoguchi_department_open", "1 while the department is open", labels=["department"]
    )
    for info in view.department_infos():
        waiting.add_metric([info.id], info.waiting)
        is_open.add_metric([info.id], 1 if info.open else 0)
        if info.ewt_s is not None:
            ewt.add_metric([info.id], info.ewt_s)
    yield from (waiting, ewt, is_open)
    longest = GaugeMetricFamily(
        "madoguchi_queue_longest_wait_seconds", "Longest current wait", labels=["department"]
    )
    officers = GaugeMetricFamily(
        "madoguchi_officers", "Officers by state (primary department)", labels=["department", "state"]
    )
    try:
        stats = view.stats().get("departments", {})
    except Exception:  # statistics are best effort; the rest of the scrape still works
        stats = {}
    for dep_id, data in sorted(stats.items()):
        if isinstance(data.get("longest_wait_s"), int | float):
            longest.add_metric([dep_id], data["longest_wait_s"])
        for state, n in sorted((data.get("officers") or {}).items()):
            officers.add_metric([dep_id, state], n)
    yield from (longest, officers)


def _calls_and_connections(view: LiveView) -> Iterator[Metric]:
    calls = GaugeMetricFamily("madoguchi_calls_active", "Calls in progress by state", labels=["state"])
    for state, n in sorted(view.calls_by_state().items()):
        calls.add_metric([state], n)
    yield calls
    connected = GaugeMetricFamily("madoguchi_connections", "Connected websocket clients", labels=["role"])
    counts = view.counts()
    connected.add_metric(["kiosk"], counts["kiosks"])
    connected.add_metric(["officer"], counts["officers"])
    yield connected
