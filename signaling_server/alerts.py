"""Alerts: raised once, cleared on recovery, persisted, logged, and handed to observers (webhook, dashboard).

``AlertManager`` owns the open alerts (table ``monitoring_alerts``; reloaded at start so a restart does not
raise them again). While PostgreSQL is unreachable an alert is still raised, logged and handed to the
observers, with a provisional negative id; its row is written when the database returns
(``Database.write_behind``; the ``database`` alert itself is raised so, signaling_server/database_watch.py).
``AlertRules`` turns health-registry events into alerts:

- ``kiosk_offline`` (critical): the kiosk missed its heartbeats; cleared by its next heartbeat;
- ``device_error`` (critical): a device reports "error"; cleared when it reports anything else;
- ``printer_paper_out`` (critical) / ``printer_paper_near_end`` (warning): from the printer's detail
  (``paper_out`` / ``paper_near_end``, see docs/monitoring.md); cleared when the detail no longer says so;
- ``call_quality`` (warning): packet loss over ``loss_pct`` or RTT over ``rtt_ms`` sustained for
  ``sustained_s``; cleared after ``sustained_s`` of good samples or when the call ends.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from signaling_server.db import Database, as_database

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "warning")
_COLUMNS = "id, kind, subject, kiosk_id, severity, message_ja, message_en, raised_at, cleared_at, details"
_PAPER_OUT = re.compile(r"paper[_ ]?(out|empty|end\b)|no[_ ]paper|用紙切れ|用紙なし")
_PAPER_NEAR_END = re.compile(r"paper[_ ]?(near[_ ]?end|low)|用紙残り|用紙少")


@dataclass
class Alert:
    id: int
    kind: str
    subject: str
    kiosk_id: str | None
    severity: str
    message_ja: str
    message_en: str
    raised_at: float
    cleared_at: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Observer = Callable[[str, Alert], None]  # ("raised" | "cleared", alert)


class AlertManager:
    def __init__(self, conn: Database | sqlite3.Connection):
        self.conn = conn = as_database(conn)  # the table is made by migration 1 (signaling_server/db)
        self.observers: list[Observer] = []
        self.open: dict[tuple[str, str], Alert] = {}
        self._provisional = 0  # ids below 0: alerts raised while PostgreSQL is unreachable (write_behind)
        cursor = conn.execute(
            f"SELECT {_COLUMNS} FROM monitoring_alerts WHERE cleared_at IS NULL ORDER BY id"
        )
        for row in cursor:
            alert = _alert(row)
            self.open[(alert.kind, alert.subject)] = alert

    def raise_alert(
        self,
        kind: str,
        subject: str,
        *,
        kiosk_id: str | None,
        severity: str,
        message_ja: str,
        message_en: str,
        now: float,
        details: dict[str, Any] | None = None,
    ) -> Alert | None:
        """Open an alert unless the same (kind, subject) is already open; returns it only when new."""
        if severity not in SEVERITIES:
            raise ValueError(f"alert severity must be one of {SEVERITIES}, got {severity!r}")
        if (kind, subject) in self.open:
            return None
        details = details or {}
        alert = Alert(
            0,  # its row's id once written: at once, or when an unreachable database returns
            kind,
            subject,
            kiosk_id,
            severity,
            message_ja,
            message_en,
            now,
            None,
            details,
        )
        self.conn.write_behind(None, lambda: self._insert(alert))  # an outage is alerted too
        if alert.id == 0:  # kept until the database returns: a provisional id of its own meanwhile
            self._provisional -= 1
            alert.id = self._provisional
        self.open[(kind, subject)] = alert
        log.warning("ALERT raised [%s] %s: %s", severity, subject, message_en)
        self._notify("raised", alert)
        return alert

    def clear(self, kind: str, subject: str, now: float) -> Alert | None:
        """Close the open alert of (kind, subject), if any; returns it when it was open."""
        alert = self.open.pop((kind, subject), None)
        if alert is None:
            return None
        alert.cleared_at = now
        self.conn.write_behind(None, lambda: self._cleared(alert))  # after its insert, which may wait
        log.warning("ALERT cleared %s %s after %.0f s", kind, subject, now - alert.raised_at)
        self._notify("cleared", alert)
        return alert

    def _insert(self, alert: Alert) -> None:
        row = self.conn.fetchone(
            "INSERT INTO monitoring_alerts (kind, subject, kiosk_id, severity, message_ja, message_en, "
            "details, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                alert.kind,
                alert.subject,
                alert.kiosk_id,
                alert.severity,
                alert.message_ja,
                alert.message_en,
                json.dumps(alert.details),
                alert.raised_at,
            ),
        )
        if alert.id == 0:  # written at once; a provisional id stays what observers were told
            alert.id = int(row[0])

    def _cleared(self, alert: Alert) -> None:
        if alert.id > 0:
            self.conn.execute(
                "UPDATE monitoring_alerts SET cleared_at = ? WHERE id = ?", (alert.cleared_at, alert.id)
            )
            return
        self.conn.execute(
            "UPDATE monitoring_alerts SET cleared_at = ? WHERE kind = ? AND subject = ? AND raised_at = ?"
            " AND cleared_at IS NULL",
            (alert.cleared_at, alert.kind, alert.subject, alert.raised_at),
        )

    def is_open(self, kind: str, subject: str) -> bool:
        return (kind, subject) in self.open

    def open_alerts(self) -> list[Alert]:
        return sorted(self.open.values(), key=lambda a: a.id)

    def purge(self, cutoff: float) -> int:
        """Cleared alerts older than ``cutoff`` go (retention, as for health history); open ones stay."""
        cursor = self.conn.execute(
            "DELETE FROM monitoring_alerts WHERE cleared_at IS NOT NULL AND cleared_at < ?", (cutoff,)
        )
        return cursor.rowcount

    def recent(self, limit: int = 100) -> list[Alert]:
        cursor = self.conn.execute(
            f"SELECT {_COLUMNS} FROM monitoring_alerts ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_alert(row) for row in cursor]

    def _notify(self, event: str, alert: Alert) -> None:
        for observer in self.observers:
            try:
                observer(event, alert)
            except Exception:
                log.exception("alert observer failed")


def _alert(row: Any) -> Alert:
    try:
        details = json.loads(row[9])
    except (TypeError, ValueError):
        details = {}
    return Alert(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], details)


def paper_condition(detail: str) -> str | None:
    """ "out", "near_end" or None from a printer's status detail."""
    text = detail.lower()
    if _PAPER_NEAR_END.search(text):
        return "near_end"
    if _PAPER_OUT.search(text):
        return "out"
    return None


@dataclass
class _QualityTrack:
    kiosk_id: str | None
    bad_since: float | None = None
    good_since: float | None = None


class AlertRules:
    """Turns health-registry events into alerts. Subscribe ``on_health`` to ``HealthRegistry.listeners``."""

    def __init__(
        self,
        alerts: AlertManager,
        *,
        clock: Callable[[], float],
        loss_pct: float = 5.0,
        rtt_ms: float = 300.0,
        sustained_s: float = 15.0,
        names: Callable[[str], str] | None = None,
    ):
        if loss_pct <= 0 or rtt_ms <= 0 or sustained_s < 0:
            raise ValueError("alert thresholds must be positive (sustained_s may be 0)")
        self.alerts = alerts
        self.clock = clock
        self.loss_pct = loss_pct
        self.rtt_ms = rtt_ms
        self.sustained_s = sustained_s
        self.names = names or (lambda kiosk_id: kiosk_id)
        self._quality: dict[str, _QualityTrack] = {}  # "<call id>/<role>"

    def on_health(self, kind: str, kiosk_id: str, data: dict[str, Any]) -> None:
        now = data.get("now", self.clock())
        if kind == "offline":
            name = self.names(kiosk_id)
            self.alerts.raise_alert(
                "kiosk_offline",
                kiosk_id,
                kiosk_id=kiosk_id,
                severity="critical",
                now=now,
                message_ja=f"{name}: 端末がオフラインです(ハートビート途絶)",
                message_en=f"{name}: kiosk is offline (heartbeats missed)",
                details={"last_seen": data.get("last_seen")},
            )
        elif kind == "online":
            self.alerts.clear("kiosk_offline", kiosk_id, now)
        elif kind == "device":
            self._device(kiosk_id, data["device"], data["new"], data.get("detail", ""), now)
        elif kind == "quality":
            self._call_quality(kiosk_id, data, now)

    def _device(self, kiosk_id: str, device: str, status: str | None, detail: str, now: float) -> None:
        name = self.names(kiosk_id)
        subject = f"{kiosk_id}/{device}"
        paper = paper_condition(detail) if status is not None else None
        if paper == "out":
            self.alerts.clear("printer_paper_near_end", subject, now)
            self.alerts.raise_alert(
                "printer_paper_out",
                subject,
                kiosk_id=kiosk_id,
                severity="critical",
                now=now,
                message_ja=f"{name}: プリンターの用紙切れ",
                message_en=f"{name}: printer is out of paper",
                details={"device": device, "detail": detail},
            )
        elif paper == "near_end":
            self.alerts.clear("printer_paper_out", subject, now)
            self.alerts.raise_alert(
                "printer_paper_near_end",
                subject,
                kiosk_id=kiosk_id,
                severity="warning",
                now=now,
                message_ja=f"{name}: プリンターの用紙残りわずか",
                message_en=f"{name}: printer paper near end",
                details={"device": device, "detail": detail},
            )
        else:
            self.alerts.clear("printer_paper_out", subject, now)
            self.alerts.clear("printer_paper_near_end", subject, now)
        if status == "error" and paper is None:
            self.alerts.raise_alert(
                "device_error",
                subject,
                kiosk_id=kiosk_id,
                severity="critical",
                now=now,
                message_ja=f"{name}: 機器の異常 ({device}) {detail}".rstrip(),
                message_en=f"{name}: device error ({device}) {detail}".rstrip(),
                details={"device": device, "detail": detail},
            )
        else:
            self.alerts.clear("device_error", subject, now)

    def _call_quality(self, identity: str, data: dict[str, Any], now: float) -> None:
        sample = data["sample"]
        role = data["role"]
        subject = f"{data['call_id']}/{role}"
        track = self._quality.setdefault(subject, _QualityTrack(identity if role == "kiosk" else None))
        loss = data.get("loss")
        rtt = sample.get("rtt_ms")
        bad = (loss is not None and loss > self.loss_pct) or (rtt is not None and rtt > self.rtt_ms)
        if bad:
            track.good_since = None
            track.bad_since = track.bad_since if track.bad_since is not None else now
            if now - track.bad_since >= self.sustained_s:
                who = self.names(identity) if role == "kiosk" else identity
                self.alerts.raise_alert(
                    "call_quality",
                    subject,
                    kiosk_id=track.kiosk_id,
                    severity="warning",
                    now=now,
                    message_ja=f"{who}: 通話品質の低下 (損失 {_fmt(loss)}%, RTT {_fmt(rtt)} ms)",
                    message_en=f"{who}: poor call quality (loss {_fmt(loss)}%, RTT {_fmt(rtt)} ms)",
                    details={"call_id": data["call_id"], "role": role, "loss_pct": loss, "rtt_ms": rtt},
                )
        else:
            track.bad_since = None
            track.good_since = track.good_since if track.good_since is not None else now
            if now - track.good_since >= self.sustained_s or self.sustained_s == 0:
                self.alerts.clear("call_quality", subject, now)

    def call_ended(self, call_id: str) -> None:
        now = self.clock()
        for role in ("kiosk", "officer"):
            subject = f"{call_id}/{role}"
            self._quality.pop(subject, None)
            self.alerts.clear("call_quality", subject, now)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}" if value >= 10 else f"{value:.1f}"
