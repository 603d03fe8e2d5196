"""The three-way benchmark's smoke run (--quick) and the simulator's verdict on a three-way run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.three_way import ThreeWayOptions, percentiles, succeeded

ROOT = Path(__file__).resolve().parents[2]


def test_three_way_bench_quick_measures_both_calls_with_video_from_every_peer() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_three_way.py"), "--json", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["quick"] is True and result["unit"] == "% of a core"
    assert result["ratio"] == pytest.approx(result["value"] / result["baseline"], rel=0.01)
    for frames in result["details"]["frames_in"]:
        assert len(frames["two_way"]) == 1 and len(frames["three_way"]) == 2  # one peer, then two
        assert all(count > 0 for count in frames["two_way"] + frames["three_way"])


def summary(**changes: object) -> dict:
    held = {
        "calls_requested": 3,
        "calls_completed": 3,
        "callers_lost": 0,
        "video_frames_min_any_direction": 30,
        "video_frames_after_leave_min": 30,
    }
    return held | changes


@pytest.mark.parametrize(
    "changes",
    [
        {"calls_completed": 2},
        {"callers_lost": 1},
        {"video_frames_min_any_direction": 29},
        {"video_frames_after_leave_min": 0},
    ],
)
def test_the_run_fails_when_anything_did_not_hold(changes: dict) -> None:
    options = ThreeWayOptions(calls=3)
    assert succeeded(summary(), options)
    assert not succeeded(summary(**changes), options)


def test_percentiles() -> None:
    assert percentiles([]) == {"p50": None, "p95": None}
    assert percentiles([float(v) for v in range(1, 21)]) == {"p50": 10.5, "p95": 19.0}
