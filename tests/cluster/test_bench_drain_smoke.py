"""A smoke run of bench/bench_bus_drain.py --quick: both readers drained the whole burst, one JSON object of
the documented shape (times are never asserted: a quick run's figures mean little on a shared machine)."""

from __future__ import annotations

import shutil

import pytest

from devtools.quick_bench import check_ratio, run_quick


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_bus_drain_quick() -> None:
    result = run_quick("bench_bus_drain")
    assert result["unit"] == "frames/s" and result["goal"] == ">= 0.8"
    details = result["details"]
    rounds = details["rounds"]
    assert len(details["ours_frames_per_s"]) == len(details["baseline_frames_per_s"]) == rounds >= 1
    assert details["frames"] == 4000 and details["busy_clients"] > 0
    check_ratio(result)
