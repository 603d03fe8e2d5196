"""The health registry on its own: offline after missed beats, device since-when, restart, retention."""

from __future__ import annotations

import pytest

from remote_call import protocol as p
from signaling_server.health import HealthRegistry

from .conftest import heartbeat


@pytest.fixture
def conn(engine_db):
    """The registry's tables on each engine (SQLite and PostgreSQL)."""
    return engine_db


def test_offline_after_the_missed_beats_and_device_since(conn):
    registry = HealthRegistry(conn, heartbeat_s=10, offline_after_missed=3, kiosks=[("k1", "上田", "")])
    events: list[tuple[str, str]] = []
    registry.listeners.append(lambda kind, kiosk_id, data: events.append((kind, kiosk_id)))
    assert registry.kiosks["k1"].state == "never"
    registry.heartbeat("k1", heartbeat(camera="ok", printer="ok"), 1000.0)
    registry.heartbeat("k1", heartbeat(camera="ok", printer=("error", "paper_out")), 1010.0)
    registry.heartbeat("k1", heartbeat(camera="ok", printer=("error", "paper_out")), 1020.0)
    printer = registry.kiosks["k1"].devices["printer"]
    assert (printer.status, printer.since) == ("error", 1010.0)  # since the change, not the last beat
    assert registry.check_offline(1020 + 34) == []
    assert registry.check_offline(1020 + 36) == ["k1"] and registry.kiosks["k1"].state == "offline"
    assert registry.check_offline(2000) == []
    assert [e for e in events if e[0] in ("online", "offline")] == [("online", "k1"), ("offline", "k1")]


def test_a_restarted_registry_remembers_the_fleet_and_watches_it(conn):
    first = HealthRegistry(conn, heartbeat_s=10)
    first.heartbeat("k9", heartbeat(camera=("degraded", "low light")), 500.0)
    second = HealthRegistry(conn, heartbeat_s=10, now=900.0)
    kiosk = second.kiosks["k9"]
    assert kiosk.devices["camera"].status == "degraded" and kiosk.last_seen == 500.0
    assert second.check_offline(930.0) == []  # watched from the restart, not from its last beat
    assert second.check_offline(936.0) == ["k9"]


def test_history_and_events_are_kept_for_the_retention_period(conn):
    registry = HealthRegistry(conn, heartbeat_s=10, history_step_s=60, retention_s=86400)
    for t in range(0, 600, 10):
        registry.heartbeat("k1", heartbeat(camera="ok"), 1_000_020.0 + t)
    registry.flush()
    rows = registry.history("k1", 0)
    assert len(rows) == 10 and all(r["samples"] == 6 for r in rows)  # 60 beats into 10 one-minute buckets
    registry.purge(1_000_020.0 + 86400 + 300)
    assert len(registry.history("k1", 0)) == 5
    assert registry.events("k1", 0) == []  # the online/device events were older


def test_call_quality_summary(conn):
    registry = HealthRegistry(conn)
    for i, (rtt, loss) in enumerate([(20.0, 0.0), (40.0, 3.0), (None, 1.0)]):
        registry.call_quality(
            "k1",
            "kiosk",
            p.CallQuality(call_id="c1", rtt_ms=rtt, loss_in_pct=loss, bitrate_in_kbps=800, fps_in=15),
            100.0 + i,
        )
    registry.call_quality(
        "hanako", "officer", p.CallQuality(call_id="c1", rtt_ms=90.0, loss_out_pct=7.0), 101.0
    )
    registry.call_ended("c1")
    summary = registry.call_quality_summary("c1")
    kiosk = summary["parties"]["kiosk"]
    assert kiosk["samples"] == 3 and kiosk["rtt_mean_ms"] == 30.0 and kiosk["rtt_max_ms"] == 40.0
    assert (
        kiosk["loss_max_pct"] == 3.0 and kiosk["bitrate_in_mean_kbps"] == 800 and kiosk["fps_in_mean"] == 15
    )
    assert summary["overall"] == {
        "samples": 4,
        "rtt_max_ms": 90.0,
        "loss_max_pct": 7.0,
        "jitter_max_ms": None,
    }
    assert registry.call_quality_summary("nope") is None


def test_bad_settings_are_named(conn):
    with pytest.raises(ValueError, match="heartbeat_s"):
        HealthRegistry(conn, heartbeat_s=0)
    with pytest.raises(ValueError, match="offline_after_missed"):
        HealthRegistry(conn, offline_after_missed=0)
