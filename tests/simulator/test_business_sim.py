"""`madoguchi-sim --business`: business calls in real headless Chromium against a headless officer console,
run as the real command in a subprocess (its own event loop, its own Chromium, nothing shared with pytest)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"
)


def _command(*args: str) -> list[str]:
    """The installed ``madoguchi-sim`` entry point of this environment (``-m simulator.cli`` without it)."""
    script = Path(sys.executable).parent / "madoguchi-sim"
    head = [str(script)] if script.exists() else [sys.executable, "-m", "simulator.cli"]
    return [*head, *args]


@needs_chromium
def test_two_business_calls_complete_with_media_screen_documents_and_a_clean_console() -> None:
    proc = subprocess.run(
        _command("--business", "--calls", "2", "--json"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    summary = json.loads(lines[0])
    assert proc.returncode == 0, json.dumps(summary, ensure_ascii=False, indent=1)
    assert summary["calls_requested"] == summary["calls_completed"] == 2
    assert summary["callers_lost"] == 0
    assert summary["video_frames_to_officer_min"] >= 30
    assert summary["video_frames_to_business_min"] >= 30
    assert summary["audio_frames_to_officer_min"] >= 30 and summary["audio_packets_to_business_min"] >= 30
    assert summary["screen_frames_min"] > 0
    assert summary["documents_verified"] == 2 and summary["document_bytes"] >= 1024 * 1024
    assert summary["chats_both_ways"] == 2
    assert summary["browser_console_errors"] == 0 and summary["errors"] == []
    setup = summary["setup_ms"]
    assert 0 < setup["p50"] <= setup["p95"] <= setup["max"] < 60_000


def test_a_missing_chromium_is_named_and_exits_2() -> None:
    env = os.environ | {"MADOGUCHI_CHROMIUM": "/nonexistent/chromium"}
    proc = subprocess.run(
        _command("--business", "--calls", "1", "--json"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "/nonexistent/chromium not found" in proc.stderr
    assert proc.stdout == ""


@needs_chromium
def test_an_interrupted_run_leaves_no_chromium_behind() -> None:
    """SIGTERM while Chromium runs: the browser (and its helpers) end with the simulator."""
    proc = subprocess.Popen(
        _command("--business", "--calls", "3", "--json", "--log-level", "INFO"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait for the simulator to say its browser is up (no sleeping)
            if "simulator.business: chromium" in line and "started" in line:
                break
        else:
            pytest.fail(f"the simulator ended before starting Chromium (exit {proc.wait()})")
        children = psutil.Process(proc.pid).children(recursive=True)
        browsers = [c for c in children if "chrom" in c.name().lower()]
        assert browsers, [c.name() for c in children]
        proc.send_signal(signal.SIGTERM)
        proc.stderr.read()  # drain, so the simulator never blocks on a full pipe while it cleans up
        assert proc.wait(timeout=60) != 0
        _gone, alive = psutil.wait_procs(browsers, timeout=30)
        assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
