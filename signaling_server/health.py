"""The kiosk health registry: who is online, each device's status since when, network quality, history.

The switchboard hands every heartbeat, call-quality report and (dis)connection to the registry (through
``signaling_server.monitor.Monitor``). The registry keeps the live picture in memory and writes to SQLite:

- ``health_kiosks``: the last known picture of each kiosk (so a restarted server still lists its fleet);
- ``health_history``: one row per kiosk per ``history_step_s`` bucket (downsampled heartbeats), kept for
  ``retention_s`` (30 days by default);
- ``health_events``: online/offline transitions and device status changes, kept as long;
- ``call_quality``: the quality summary of each call and party (``call_quality.CallQualityLog``).

A kiosk is offline once ``offline_after_missed`` heartbeats are missed (plus half an interval of grace):
``check_offline(now)`` decides, called by a timer in production and directly by tests with a fake clock.
Observers (alert rules, the dashboard, metrics) subscribe to ``listeners``: ``(kind, kiosk_id, data)``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from remote_call.protocol import CallQuality, DeviceStatus, Heartbeat
from signaling_server.call_quality import CallQualityLog, worst_loss
from signaling_server.db import Database, as_database

log = logging.getLogger(__name__)

SPARKLINE_POINTS = 60
DEVICE_STATUSES = ("ok", "degraded", "error", "absent", "unknown")
SELFTEST_FAILURES = frozenset({"offline", "paper_out"})  # besides "error…": what fails a kiosk's self-test
# A device's changes written and announced: a burst, then one a minute (a flapping printer cover at one
# change per heartbeat wrote 8,640 rows a day; now at most 1,444, computed). The live picture is not delayed.
DEVICE_EVENT_BURST = 4
DEVICE_EVENT_EVERY_S = 60.0

# What "worse" means when one number must stand for all devices of a kiosk.
_SEVERITY = {"ok": 0, "absent": 0, "unknown": 1, "degraded": 2, "error": 3}

Listener = Callable[[str, str, dict[str, Any]], None]


@dataclass
class DeviceState:
    status: str
    detail: str
    since: float

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, "since": self.since}


@dataclass
class _Bucket:
    start: float
    samples: int = 0
    cpu: float = 0.0
    memory: float = 0.0
    disk_max: float = 0.0
    rtt_n: int = 0
    rtt_sum: float = 0.0
    rtt_max: float | None = None
    worst: str = "ok"


@dataclass
class _Reported:
    """A device's state as last written and announced, and its budget of further announcements."""

    status: str | None
    detail: str
    at: float  # when the budget was last refilled
    tokens: float = DEVICE_EVENT_BURST
    held: int = 0  # changes not yet written

    def refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(DEVICE_EVENT_BURST, self.tokens + (now - self.at) / DEVICE_EVENT_EVERY_S)
            self.at = now


@dataclass
class KioskHealth:
    kiosk_id: str
    name: str = ""
    location: str = ""
    online: bool | None = None  # None: never seen by this server
    connected: bool = False
    last_seen: float | None = None
    watch_from: float | None = None  # the time offline is counted from (last beat, or server start)
    app_version: str = ""
    uptime_s: float | None = None
    os: str = ""
    cpu_percent: float | None = None
    memory_percent: float | None = None
    disk_percent: float | None = None
    rtt_ms: float | None = None
    devices: dict[str, DeviceState] = field(default_factory=dict)
    rtt_history: deque[float | None] = field(default_factory=lambda: deque(maxlen=SPARKLINE_POINTS))
    loss_history: deque[float | None] = field(default_factory=lambda: deque(maxlen=SPARKLINE_POINTS))
    call_id: str | None = None
    call_quality: dict[str, Any] | None = None
    bucket: _Bucket | None = None
    reported: dict[str, _Reported] = field(default_factory=dict)
    selftest: dict[str, Any] | None = None  # the last self-test's answer: at, ok, checks (a checklist)

    @property
    def never_connected(self) -> bool:
        """Configured but never heard from: no heartbeat ever (this run or a stored one) and no socket."""
        return self.last_seen is None and not self.connected

    @property
    def state(self) -> str:
        """online / degraded / error / offline / never: the dashboard colour."""
        if self.online is None:
            return "never"
        if not self.online:
            return "offline"
        worst = max((_SEVERITY.get(d.status, 1) for d in self.devices.values()), default=0)
        return "error" if worst >= 3 else "degraded" if worst >= 1 else "online"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.kiosk_id,
            "name": self.name or self.kiosk_id,
            "location": self.location,
            "state": self.state,
            "online": bool(self.online),
            "connected": self.connected,
            "last_seen": self.last_seen,
            "app_version": self.app_version,
            "uptime_s": self.uptime_s,
            "os": self.os,
            "cpu_percent": self.cpu_percent,
            "memory_percent": self.memory_percent,
            "disk_percent": self.disk_percent,
            "rtt_ms": self.rtt_ms,
            "devices": {name: d.to_json() for name, d in sorted(self.devices.items())},
            "rtt_history": [None if v is None else round(v, 1) for v in self.rtt_history],
            "loss_history": [None if v is None else round(v, 2) for v in self.loss_history],
            "call_id": self.call_id,
            "call_quality": self.call_quality,
            "never_connected": self.never_connected,
            "selftest": self.selftest,
        }


class HealthRegistry:
    def __init__(
        self,
        conn: Database | sqlite3.Connection,
        *,
        heartbeat_s: float = 10.0,
        offline_after_missed: int = 3,
        history_step_s: float = 600.0,
        retention_s: float = 30 * 86400.0,
        kiosks: Iterable[tuple[str, str, str]] = (),
        now: float = 0.0,
    ):
        if heartbeat_s <= 0:
            raise ValueError(f"heartbeat_s must be positive, got {heartbeat_s!r}")
        if offline_after_missed < 1:
            raise ValueError(f"offline_after_missed must be at least 1, got {offline_after_missed!r}")
        if history_step_s <= 0:
            raise ValueError(f"history_step_s must be positive, got {history_step_s!r}")
        self.conn = conn = as_database(conn)  # tables made by migration 1 (signaling_server/db)
        self.heartbeat_s = heartbeat_s
        self.offline_after_missed = offline_after_missed
        self.history_step_s = history_step_s
        self.retention_s = retention_s
        self.kiosks: dict[str, KioskHealth] = {}
        self.listeners: list[Listener] = []
        self.heartbeats = 0
        self.last_purge = now
        self.quality = CallQualityLog(conn)
        for kiosk_id, name, location in kiosks:
            self.kiosks[kiosk_id] = KioskHealth(kiosk_id, name=name, location=location)
        self._load(now)

    @property
    def offline_after_s(self) -> float:
        return self.heartbeat_s * (self.offline_after_missed + 0.5)

    def _load(self, now: float) -> None:
        """Kiosks known from earlier runs are watched from now: back within the window or offline."""
        rows = self.conn.execute("SELECT kiosk_id, last_seen, app_version, os, devices FROM health_kiosks")
        for row in rows:
            kiosk = self.kiosks.setdefault(row[0], KioskHealth(row[0]))
            kiosk.online = True
            kiosk.last_seen = row[1]
            kiosk.watch_from = max(row[1], now)
            kiosk.app_version = row[2]
            kiosk.os = row[3]
            try:
                devices = json.loads(row[4])
                kiosk.devices = {
                    n: DeviceState(d["status"], d.get("detail", ""), d.get("since", 0.0))
                    for n, d in devices.items()
                }
            except (ValueError, KeyError, TypeError, AttributeError):
                log.warning("kiosk %s: stored device states are unreadable; starting empty", row[0])

    # ------------------------------------------------------------------ events in

    def heartbeat(self, kiosk_id: str, msg: Heartbeat, now: float) -> None:
        self.heartbeats += 1
        kiosk = self.kiosks.get(kiosk_id)
        if kiosk is None:
            kiosk = self.kiosks[kiosk_id] = KioskHealth(kiosk_id)
        kiosk.connected = True
        came_online = kiosk.online is not True
        kiosk.online = True
        kiosk.last_seen = kiosk.watch_from = now
        kiosk.app_version = msg.app_version
        kiosk.uptime_s = msg.uptime_s
        kiosk.os = msg.os
        kiosk.cpu_percent = msg.cpu_percent
        kiosk.memory_percent = msg.memory_percent
        kiosk.disk_percent = msg.disk_percent
        kiosk.rtt_ms = msg.rtt_ms
        if kiosk.call_id is None:  # during a call the sparkline follows the call's statistics
            kiosk.rtt_history.append(msg.rtt_ms)
            kiosk.loss_history.append(None)
        if came_online:
            self._event(now, kiosk_id, "online")
            self._emit("online", kiosk_id, {"now": now})
        changed = self._devices(kiosk, msg.devices, now)
        self._accumulate(kiosk, msg, now)
        if came_online or changed:
            self._save_kiosk(kiosk)
        self._emit("updated", kiosk_id, {})

    def _devices(self, kiosk: KioskHealth, reported: dict[str, DeviceStatus], now: float) -> bool:
        """Take the reported device states (the live picture changes at once); each change is written
        and announced through ``_device_changed``, which coalesces a flapping device."""
        changed = False
        for name, status in reported.items():
            old = kiosk.devices.get(name)
            if old is not None and (old.status, old.detail) == (status.status, status.detail):
                continue
            if old is not None and old.status == status.status:
                kiosk.devices[name] = DeviceState(old.status, status.detail, old.since)
            else:
                # The kiosk's own "since" is preferred; it cannot lie about the future.
                since = status.since if 0 < status.since <= now else now
                kiosk.devices[name] = DeviceState(status.status, status.detail, since)
            changed = True
            self._device_changed(kiosk, name, old, now)
        for name in [n for n in kiosk.devices if n not in reported]:
            changed = True
            self._device_changed(kiosk, name, kiosk.devices.pop(name), now)
        self._release_held(kiosk, now)
        return changed

    def _device_changed(self, kiosk: KioskHealth, name: str, old: DeviceState | None, now: float) -> None:
        """Written (an event row) and announced (alert rules, dashboard) while the device's budget lasts:
        ``DEVICE_EVENT_BURST`` changes, then one per ``DEVICE_EVENT_EVERY_S``. Changes beyond it are held
        and summarised in one row when the budget allows, so a flapping device writes a bounded number of
        rows (and raises a bounded number of alerts)."""
        last = kiosk.reported.get(name)
        if last is None:
            last = kiosk.reported[name] = _Reported(
                old.status if old else None, old.detail if old else "", now
            )
        last.refill(now)
        if last.tokens >= 1:
            self._report_device(kiosk, name, last, now)
        else:
            last.held += 1

    def _release_held(self, kiosk: KioskHealth, now: float) -> None:
        for name, last in kiosk.reported.items():
            if last.held:
                last.refill(now)
                if last.tokens >= 1:
                    self._report_device(kiosk, name, last, now)

    def _report_device(self, kiosk: KioskHealth, name: str, last: _Reported, now: float) -> None:
        current = kiosk.devices.get(name)
        new, detail = (current.status, current.detail) if current is not None else (None, "")
        held, last.held = last.held, 0
        if (new, detail) == (last.status, last.detail):
            return  # flapped back to what was last written: nothing to say
        last.tokens -= 1
        note = f"{detail} ({held} changes coalesced)".strip() if held else detail
        self._event(now, kiosk.kiosk_id, "device", name, new if new is not None else "unreported", note)
        data = {"device": name, "old": last.status, "new": new, "detail": detail, "now": now}
        last.status, last.detail = new, detail
        self._emit("device", kiosk.kiosk_id, data)

    def client_attached(self, role: str, identity: str, now: float) -> None:
        if role == "kiosk":
            kiosk = self.kiosks.setdefault(identity, KioskHealth(identity))
            kiosk.connected = True
            self._emit("updated", identity, {})

    def client_detached(self, role: str, identity: str, now: float) -> None:
        """The websocket is gone; the kiosk turns offline only when its heartbeats are missed."""
        if role == "kiosk" and identity in self.kiosks:
            kiosk = self.kiosks[identity]
            kiosk.connected = False
            kiosk.call_id = None
            self._emit("updated", identity, {})

    def call_quality(self, identity: str, role: str, msg: CallQuality, now: float) -> dict[str, Any]:
        """Fold one sample into the call's summary (memory and database); returns the sample as a dict."""
        sample = msg.model_dump(exclude={"type"})
        loss = worst_loss(msg)
        self.quality.add(identity, role, msg, now)
        if role == "kiosk" and identity in self.kiosks:
            kiosk = self.kiosks[identity]
            kiosk.call_id = msg.call_id
            kiosk.call_quality = sample
            kiosk.rtt_history.append(msg.rtt_ms)
            kiosk.loss_history.append(loss)
            self._emit("updated", identity, {})
        self._emit(
            "quality",
            identity,
            {"role": role, "call_id": msg.call_id, "sample": sample, "loss": loss, "now": now},
        )
        return sample

    def selftest_result(
        self, kiosk_id: str, ok: bool, detail: str, now: float
    ) -> list[dict[str, str]] | None:
        """Keep a kiosk's self-test answer for its card; returns the answer as a checklist (None: the
        kiosk's detail is not a device → result object, e.g. an older kiosk's free text)."""
        checks = selftest_checks(detail)
        kiosk = self.kiosks.get(kiosk_id)
        if kiosk is not None:
            kiosk.selftest = {"at": now, "ok": ok, "checks": checks, "detail": "" if checks else detail[:500]}
            self._emit("updated", kiosk_id, {})
        return checks

    def call_ended(self, call_id: str) -> None:
        """Forget the in-memory summaries of a finished call (the database keeps them)."""
        reporter = self.quality.end(call_id)  # the kiosk that reported on the call, if one did
        kiosk = self.kiosks.get(reporter) if reporter is not None else None
        if kiosk is not None and kiosk.call_id == call_id:
            kiosk.call_id = None
            kiosk.call_quality = None
            self._emit("updated", kiosk.kiosk_id, {})

    # ------------------------------------------------------------------ timers

    def check_offline(self, now: float) -> list[str]:
        """Mark kiosks whose heartbeats stopped as offline; returns the ids that went offline now."""
        gone = []
        for kiosk in self.kiosks.values():
            overdue = kiosk.watch_from is not None and now - kiosk.watch_from > self.offline_after_s
            if kiosk.online and overdue:
                kiosk.online = False
                kiosk.call_id = None
                self._flush_bucket(kiosk)
                self._event(now, kiosk.kiosk_id, "offline")
                gone.append(kiosk.kiosk_id)
                self._emit("offline", kiosk.kiosk_id, {"last_seen": kiosk.last_seen, "now": now})
                self._emit("updated", kiosk.kiosk_id, {})
        if now - self.last_purge > 3600:
            self.purge(now)
        return gone

    def purge(self, now: float) -> None:
        """Drop history and events older than the retention period."""
        cutoff = now - self.retention_s
        self.conn.execute("DELETE FROM health_history WHERE bucket < ?", (cutoff,))
        self.conn.execute("DELETE FROM health_events WHERE at < ?", (cutoff,))
        self.quality.purge(cutoff)
        self.last_purge = now

    def flush(self) -> None:
        """Write every open history bucket (at shutdown)."""
        for kiosk in self.kiosks.values():
            self._flush_bucket(kiosk)

    # ------------------------------------------------------------------ queries

    def snapshot(self) -> list[dict[str, Any]]:
        return [k.to_json() for k in sorted(self.kiosks.values(), key=lambda k: k.kiosk_id)]

    def history(self, kiosk_id: str, since: float) -> list[dict[str, Any]]:
        cursor = self.conn.execute(
            "SELECT bucket, samples, cpu_mean, memory_mean, disk_max, rtt_mean, rtt_max, worst_device "
            "FROM health_history WHERE kiosk_id = ? AND bucket >= ? ORDER BY bucket",
            (kiosk_id, since),
        )
        rows = [dict(row) for row in cursor]
        kiosk = self.kiosks.get(kiosk_id)
        if kiosk is not None and kiosk.bucket is not None and kiosk.bucket.start >= since:
            rows.append(_bucket_row(kiosk.bucket))
        return rows

    def events(self, kiosk_id: str, since: float) -> list[dict[str, Any]]:
        cursor = self.conn.execute(
            "SELECT at, kind, device, status, detail FROM health_events WHERE kiosk_id = ? AND at >= ? "
            "ORDER BY at",
            (kiosk_id, since),
        )
        return [dict(row) for row in cursor]

    def call_quality_summary(self, call_id: str) -> dict[str, Any] | None:
        """The quality summary of one call: per party (kiosk, officer) and overall; None if never reported."""
        return self.quality.summary(call_id)

    # ------------------------------------------------------------------ internals

    def _accumulate(self, kiosk: KioskHealth, msg: Heartbeat, now: float) -> None:
        start = now - now % self.history_step_s
        bucket = kiosk.bucket
        if bucket is not None and bucket.start != start:
            self._flush_bucket(kiosk)
            bucket = None
        if bucket is None:
            bucket = kiosk.bucket = _Bucket(start)
        bucket.samples += 1
        bucket.cpu += msg.cpu_percent
        bucket.memory += msg.memory_percent
        bucket.disk_max = max(bucket.disk_max, msg.disk_percent)
        if msg.rtt_ms is not None:
            bucket.rtt_n += 1
            bucket.rtt_sum += msg.rtt_ms
            bucket.rtt_max = msg.rtt_ms if bucket.rtt_max is None else max(bucket.rtt_max, msg.rtt_ms)
        for device in kiosk.devices.values():
            if _SEVERITY.get(device.status, 1) > _SEVERITY.get(bucket.worst, 1):
                bucket.worst = device.status

    def _flush_bucket(self, kiosk: KioskHealth) -> None:
        bucket, kiosk.bucket = kiosk.bucket, None
        if bucket is None or bucket.samples == 0:
            return
        row = _bucket_row(bucket)
        self._write(
            f"history:{kiosk.kiosk_id}:{row['bucket']}",
            "INSERT INTO health_history (kiosk_id, bucket, samples, cpu_mean, memory_mean, "
            "disk_max, rtt_mean, rtt_max, worst_device) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kiosk_id, bucket) DO UPDATE SET samples = excluded.samples,"
            " cpu_mean = excluded.cpu_mean, memory_mean = excluded.memory_mean, disk_max = excluded.disk_max,"
            " rtt_mean = excluded.rtt_mean, rtt_max = excluded.rtt_max, worst_device = excluded.worst_device",
            (
                kiosk.kiosk_id,
                row["bucket"],
                row["samples"],
                row["cpu_mean"],
                row["memory_mean"],
                row["disk_max"],
                row["rtt_mean"],
                row["rtt_max"],
                row["worst_device"],
            ),
        )
        self._save_kiosk(kiosk)

    def _save_kiosk(self, kiosk: KioskHealth) -> None:
        self._write(
            f"kiosk:{kiosk.kiosk_id}",
            "INSERT INTO health_kiosks (kiosk_id, last_seen, app_version, os, devices) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kiosk_id) DO UPDATE SET last_seen = excluded.last_seen,"
            " app_version = excluded.app_version, os = excluded.os, devices = excluded.devices",
            (
                kiosk.kiosk_id,
                kiosk.last_seen or 0.0,
                kiosk.app_version,
                kiosk.os,
                json.dumps({n: d.to_json() for n, d in kiosk.devices.items()}, ensure_ascii=False),
            ),
        )

    def _event(
        self,
        now: float,
        kiosk_id: str,
        kind: str,
        device: str | None = None,
        status: str | None = None,
        detail: str | None = None,
    ) -> None:
        self._write(
            None,
            "INSERT INTO health_events (at, kiosk_id, kind, device, status, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (now, kiosk_id, kind, device, status, detail),
        )

    def _write(self, key: str | None, sql: str, params: tuple[Any, ...]) -> None:
        """Health rows record what has happened: while PostgreSQL is unreachable they wait in memory, in
        order (``Database.write_behind``; a row upserted again keeps only its last values)."""
        self.conn.write_behind(key, lambda: self.conn.execute(sql, params))

    def _emit(self, kind: str, kiosk_id: str, data: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(kind, kiosk_id, data)
            except Exception:
                log.exception("health listener failed on %s for %s", kind, kiosk_id)


def selftest_checks(detail: str) -> list[dict[str, str]] | None:
    """A kiosk's self-test answer — a JSON object of device → result (``kiosk_client.remote_actions``:
    "ok (1240x1754)", "paper_near_end", "error: …") — as a checklist of device, status (ok / warning /
    error, by the kiosk's own rule for a failure) and the kiosk's words. None when it is not one."""
    try:
        data = json.loads(detail)
    except ValueError:
        return None
    if not isinstance(data, dict) or not data or not all(isinstance(v, str) for v in data.values()):
        return None
    return [
        {"device": str(name)[:64], "status": _check_status(value), "detail": value[:200]}
        for name, value in list(data.items())[:16]
    ]


def _check_status(value: str) -> str:
    if value.startswith("error") or value in SELFTEST_FAILURES:
        return "error"
    return "ok" if value == "ok" or value.startswith("ok ") else "warning"


def _bucket_row(bucket: _Bucket) -> dict[str, Any]:
    n = max(bucket.samples, 1)
    return {
        "bucket": bucket.start,
        "samples": bucket.samples,
        "cpu_mean": bucket.cpu / n,
        "memory_mean": bucket.memory / n,
        "disk_max": bucket.disk_max,
        "rtt_mean": bucket.rtt_sum / bucket.rtt_n if bucket.rtt_n else None,
        "rtt_max": bucket.rtt_max,
        "worst_device": bucket.worst,
    }
