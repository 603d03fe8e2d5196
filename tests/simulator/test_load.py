"""The signaling-only load simulation: a real server process, real websocket clients, real calls."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from config import load_config
from config.loader import default_config_path
from remote_call import protocol as p
from simulator.load import (
    LoadOptions,
    _calls_per_kiosk,
    _percentiles,
    fake_sdp,
    load_config_text,
    run_load,
    succeeded,
)
from simulator.load.clients import STATS_PREFIX, failure_reason
from simulator.load.wsclient import connect

ROOT = Path(__file__).resolve().parents[2]


def _sim(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_config_text_opens_every_department_and_sets_server(tmp_path: Path) -> None:
    text = load_config_text(
        default_config_path().read_text(encoding="utf-8"),
        port=12345,
        database=str(tmp_path / "x.sqlite3"),
        max_queue=5000,
    )
    target = tmp_path / "load.toml"
    target.write_text(text, encoding="utf-8")
    config = load_config(target)
    assert config.server.port == 12345
    assert config.server.database == str(tmp_path / "x.sqlite3")
    assert config.departments
    for dep in config.departments:
        assert dep.max_queue == 5000
        assert dep.hours.sun == ["00:00-24:00"] and dep.hours.mon == ["00:00-24:00"]
        assert not dep.hours.closed_on_public_holidays and not dep.hours.closed_new_year
    # Everything else is the base configuration unchanged.
    base = tomllib.loads(default_config_path().read_text(encoding="utf-8"))
    assert [d.id for d in config.departments] == [d["id"] for d in base["departments"]]
    assert len(config.procedures) == len(base["procedures"])


def test_config_text_adds_a_server_table_when_missing(tmp_path: Path) -> None:
    base = (
        'ice_servers = []\n\n[[departments]]\nid = "a"\nname_ja = "甲"\nname_en = "A"\n'
        'audience = "residents"\n'
    )
    target = tmp_path / "load.toml"
    target.write_text(load_config_text(base, port=2222, database="db.sqlite3"), encoding="utf-8")
    config = load_config(target)
    assert config.server.port == 2222 and config.departments[0].hours.sat == ["00:00-24:00"]


def test_config_text_keeps_hours_when_asked() -> None:
    text = load_config_text(
        default_config_path().read_text(encoding="utf-8"), port=1, database="d", always_open=False
    )
    assert "00:00-24:00" not in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kiosks": 0}, "at least one kiosk"),
        ({"calls": -1}, "calls must be at least 0"),
        ({"call_seconds": -1}, "call_seconds"),
        ({"workers": -2}, "workers"),
        ({"sdp_bytes": 10}, "sdp_bytes"),
        ({"max_in_flight": -1}, "max_in_flight"),
        ({"officer_auth": "magic"}, "officer_auth"),
        ({"ice_candidates": -1}, "ice_candidates"),
    ],
)
def test_bad_options_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoadOptions(**kwargs)


def test_worker_count_grows_with_the_fleet() -> None:
    assert LoadOptions(kiosks=50, officers=10).worker_count() == 1
    assert LoadOptions(kiosks=2000, officers=500).worker_count() == 2
    assert LoadOptions(kiosks=50, officers=10, workers=3).worker_count() == 3


def test_fake_sdp_looks_like_sdp_and_has_the_asked_size() -> None:
    sdp = fake_sdp("offer", 7, 3000)
    assert sdp.startswith("v=0\r\n") and sdp.endswith("\r\n")
    assert "m=audio" in sdp and "m=video" in sdp and "a=fingerprint:sha-256" in sdp
    assert "a=setup:actpass" in sdp and "a=setup:active" in fake_sdp("answer", 7, 3000)
    assert 2800 <= len(sdp) <= 3200
    assert fake_sdp("offer", 7, 3000) == sdp  # deterministic per seed


def test_the_statistics_the_load_clients_skip_are_recognised_as_the_wire_writes_them() -> None:
    """The clients count statistics without parsing them, by the text's start: if the encoding changed, they
    would parse (and count) them as any other message again, and the run would slow down unnoticed."""
    for stats in ({}, {"departments": {"kosodate": {"waiting": 2}}}):
        assert p.encode(p.SupervisorStats(stats=stats)).startswith(STATS_PREFIX)
    assert not p.encode(p.Queued(call_id="c1", department="kosodate", position=1)).startswith(STATS_PREFIX)


async def test_failed_sign_ins_after_an_outage_are_grouped_by_why() -> None:
    """``resume_failed_sign_ins`` groups failures by a reason without addresses or identities: a dead node's
    port, a refusal by error code, a welcome that never came."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]  # nobody listens once the socket is closed
    with pytest.raises(OSError) as refused:
        await connect(f"ws://127.0.0.1:{closed_port}/ws")
    assert failure_reason(refused.value) == "could not connect: ECONNREFUSED"
    assert failure_reason(ConnectionError("refused: unavailable: no switchboard is leading")) == (
        "refused: unavailable"
    )
    assert failure_reason(TimeoutError()) == "no welcome in time"
    assert failure_reason(ConnectionError("no welcome (frame CLOSE, close code 1013)")).endswith("1013)")


def test_calls_are_spread_over_kiosks() -> None:
    spread = _calls_per_kiosk(["a", "b", "c"], 7)
    assert spread == {"a": 3, "b": 2, "c": 2}
    assert sum(_calls_per_kiosk([f"k{i}" for i in range(50)], 50).values()) == 50


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert _percentiles(values) == {"p50": 50.5, "p95": 95.0, "p99": 99.0, "max": 100.0}
    assert _percentiles([]) == {"p50": None, "p95": None, "p99": None, "max": None}


def test_small_signaling_only_fleet_through_the_cli() -> None:
    result = _sim(
        "--signaling-only",
        "--kiosks",
        "50",
        "--officers",
        "10",
        "--calls",
        "50",
        "--json",
        "--seed",
        "1",
        "--ice-candidates",
        "1",
    )
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    summary = json.loads(result.stdout)
    assert summary["calls_requested"] == 50
    assert summary["calls_completed"] == 50
    assert summary["calls_failed"] == 0 and summary["callers_lost"] == 0
    assert summary["connected_kiosks"] == 50 and summary["connected_officers"] == 10
    # The server itself saw every client connected at once.
    assert summary["server_seen_kiosks"] == 50 and summary["server_seen_officers"] == 10
    assert summary["server_rss_mb"] > 0
    assert set(summary["route_ms"]) == {"p50", "p95", "p99", "max"}
    assert summary["route_ms"]["p50"] is not None
    assert summary["connect_rate_per_s"] > 0 and summary["messages_per_s"] > 0
    # Each call relayed one SDP offer and one answer, and one trickled candidate each way.
    assert summary["messages_by_type_received"]["sdp"] == 100
    assert summary["messages_by_type_received"]["ice_candidate"] == 100
    assert summary["messages_by_type_received"]["call_ended"] == 100
    assert summary["officer_calls_ended"] == 50 and summary["officer_calls_open_at_end"] == 0
    assert summary["errors"] == []


def test_calls_refused_when_closed_are_failed_but_not_lost(tmp_path: Path) -> None:
    """With --respect-hours and departments that never open, every call is refused: the exit code says so,
    and no caller is lost (each kiosk was told)."""
    closed = "{ mon = [], tue = [], wed = [], thu = [], fri = [], sat = [], sun = [] }"
    config = tmp_path / "closed.toml"
    config.write_text(
        f'[[departments]]\nid = "a"\nname_ja = "甲"\nname_en = "A"\naudience = "residents"\n'
        f"hours = {closed}\n",
        encoding="utf-8",
    )
    summary = run_load(
        LoadOptions(
            kiosks=3, officers=1, calls=3, config_path=str(config), respect_hours=True, officer_auth="session"
        )
    )
    assert summary["calls_requested"] == 3
    assert summary["calls_completed"] == 0 and summary["calls_failed"] == 3
    assert summary["callers_lost"] == 0
    assert not succeeded(summary)
    assert any("refused: closed" in e for e in summary["errors"])


def test_media_fleet_places_real_calls() -> None:
    result = _sim("--kiosks", "2", "--officers", "2", "--calls", "6", "--call-seconds", "3", "--json")
    assert result.returncode == 0, result.stderr[-2000:] + result.stdout[-2000:]
    summary = json.loads(result.stdout)
    assert summary["calls_completed"] == 6 and summary["callers_lost"] == 0
    assert summary["video_frames_to_officer_min"] >= 30
    assert summary["video_frames_to_kiosk_min"] >= 30
    assert summary["audio_frames_to_officer_min"] > 0 and summary["audio_frames_to_kiosk_min"] > 0
    assert summary["setup_ms"]["p95"] is not None  # reported, not asserted: timing is for the benchmarks
