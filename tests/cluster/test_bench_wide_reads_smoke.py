"""A smoke run of bench/bench_wide_reads.py --quick: both subscriptions took the whole batch in, one JSON
object of the documented shape (times are never asserted: a quick run's figures mean little here)."""

from __future__ import annotations

import shutil

import pytest

from devtools.quick_bench import check_ratio, run_quick


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_wide_reads_quick() -> None:
    result = run_quick("bench_wide_reads")
    assert result["unit"] == "batches/s" and result["goal"] == ">= 3"
    details = result["details"]
    assert len(details["ours_s"]) == len(details["baseline_s"]) == details["rounds"] >= 1
    assert details["frames"] == 500 and min(details["ours_turns"] + details["baseline_turns"]) >= 0
    check_ratio(result)
