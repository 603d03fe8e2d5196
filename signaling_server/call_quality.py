"""The quality summary of each call and party, folded from the parties' ``CallQuality`` reports.

Per call and role (kiosk, officer): samples, mean/max RTT, max loss, max jitter, mean bitrates and frame
rates, first and last report — in SQLite (table ``call_quality``) at every report, and in memory while the
call lasts. The health registry (``health.py``) owns it and keeps the kiosks' side of the picture.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from remote_call.protocol import CallQuality
from signaling_server.db import Database, as_database

_FIELDS = (
    "call_id",
    "role",
    "identity",
    "samples",
    "rtt_n",
    "rtt_sum",
    "rtt_max",
    "loss_max",
    "jitter_max",
    "bitrate_n",
    "bitrate_in_sum",
    "bitrate_out_sum",
    "fps_n",
    "fps_in_sum",
    "fps_out_sum",
    "first_at",
    "last_at",
)
_SAVE = (
    f"INSERT INTO call_quality ({', '.join(_FIELDS)}) VALUES ({', '.join('?' for _ in _FIELDS)})"
    " ON CONFLICT (call_id, role) DO UPDATE SET "
    + ", ".join(f"{f} = excluded.{f}" for f in _FIELDS if f not in ("call_id", "role"))
)


def worst_loss(msg: CallQuality) -> float | None:
    """The higher of the two directions' loss (%), None when neither was measured."""
    return max((v for v in (msg.loss_in_pct, msg.loss_out_pct) if v is not None), default=None)


class CallQualityLog:
    def __init__(self, conn: Database | sqlite3.Connection):
        self.conn = as_database(conn)  # the table is made by migration 1 (signaling_server/db)
        self._calls: dict[tuple[str, str], dict[str, Any]] = {}  # (call id, role) -> the running summary

    def add(self, identity: str, role: str, msg: CallQuality, now: float) -> None:
        """Fold one report into its call's summary and save it."""
        key = (msg.call_id, role)
        summary = self._calls.get(key)
        if summary is None:
            summary = self._calls[key] = self._load(msg.call_id, role) or _empty(
                msg.call_id, role, identity, now
            )
        summary["samples"] += 1
        summary["last_at"] = now
        if msg.rtt_ms is not None:
            summary["rtt_n"] += 1
            summary["rtt_sum"] += msg.rtt_ms
            summary["rtt_max"] = _max(summary["rtt_max"], msg.rtt_ms)
        summary["loss_max"] = _max(summary["loss_max"], worst_loss(msg))
        summary["jitter_max"] = _max(summary["jitter_max"], msg.jitter_ms)
        if msg.bitrate_in_kbps is not None or msg.bitrate_out_kbps is not None:
            summary["bitrate_n"] += 1
            summary["bitrate_in_sum"] += msg.bitrate_in_kbps or 0.0
            summary["bitrate_out_sum"] += msg.bitrate_out_kbps or 0.0
        if msg.fps_in is not None or msg.fps_out is not None:
            summary["fps_n"] += 1
            summary["fps_in_sum"] += msg.fps_in or 0.0
            summary["fps_out_sum"] += msg.fps_out or 0.0
        values = [summary[f] for f in _FIELDS]  # the whole summary: kept while PostgreSQL is unreachable
        self.conn.write_behind(f"quality:{msg.call_id}:{role}", lambda: self.conn.execute(_SAVE, values))

    def end(self, call_id: str) -> str | None:
        """Forget a finished call's running summaries (the database keeps them); the kiosk that reported."""
        kiosk = self._calls.pop((call_id, "kiosk"), None)
        self._calls.pop((call_id, "officer"), None)
        return kiosk["identity"] if kiosk else None

    def summary(self, call_id: str) -> dict[str, Any] | None:
        """The quality summary of one call: per party (kiosk, officer) and overall; None if never reported."""
        parties = {}
        for row in self.conn.execute("SELECT * FROM call_quality WHERE call_id = ?", (call_id,)):
            data = dict(row)
            parties[data["role"]] = _party(data)
        if not parties:
            return None
        overall = {
            "samples": sum(p["samples"] for p in parties.values()),
            "rtt_max_ms": _max_of(p["rtt_max_ms"] for p in parties.values()),
            "loss_max_pct": _max_of(p["loss_max_pct"] for p in parties.values()),
            "jitter_max_ms": _max_of(p["jitter_max_ms"] for p in parties.values()),
        }
        return {"call_id": call_id, "overall": overall, "parties": parties}

    def purge(self, cutoff: float) -> None:
        self.conn.execute("DELETE FROM call_quality WHERE last_at < ?", (cutoff,))

    def _load(self, call_id: str, role: str) -> dict[str, Any] | None:
        if not self.conn.available:
            return None  # the database is unreachable: the summary starts from this sample
        row = self.conn.fetchone("SELECT * FROM call_quality WHERE call_id = ? AND role = ?", (call_id, role))
        return None if row is None else dict(row)


def _empty(call_id: str, role: str, identity: str, now: float) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "role": role,
        "identity": identity,
        "samples": 0,
        "rtt_n": 0,
        "rtt_sum": 0.0,
        "rtt_max": None,
        "loss_max": None,
        "jitter_max": None,
        "bitrate_n": 0,
        "bitrate_in_sum": 0.0,
        "bitrate_out_sum": 0.0,
        "fps_n": 0,
        "fps_in_sum": 0.0,
        "fps_out_sum": 0.0,
        "first_at": now,
        "last_at": now,
    }


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _max_of(values: Iterable[float | None]) -> float | None:
    result = None
    for v in values:
        result = _max(result, v)
    return result


def _party(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "identity": row["identity"],
        "samples": row["samples"],
        "rtt_mean_ms": row["rtt_sum"] / row["rtt_n"] if row["rtt_n"] else None,
        "rtt_max_ms": row["rtt_max"],
        "loss_max_pct": row["loss_max"],
        "jitter_max_ms": row["jitter_max"],
        "bitrate_in_mean_kbps": row["bitrate_in_sum"] / row["bitrate_n"] if row["bitrate_n"] else None,
        "bitrate_out_mean_kbps": row["bitrate_out_sum"] / row["bitrate_n"] if row["bitrate_n"] else None,
        "fps_in_mean": row["fps_in_sum"] / row["fps_n"] if row["fps_n"] else None,
        "fps_out_mean": row["fps_out_sum"] / row["fps_n"] if row["fps_n"] else None,
        "first_at": row["first_at"],
        "last_at": row["last_at"],
    }
