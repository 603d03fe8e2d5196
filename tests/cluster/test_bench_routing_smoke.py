"""A smoke run of bench/bench_cluster_routing.py --quick: both paths measured at 1,000 waiting / 500
officers, one JSON object of the documented shape (times are never asserted: a quick run's figures mean
little on a shared machine)."""

from __future__ import annotations

import shutil

import pytest

from devtools.quick_bench import run_quick


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_cluster_routing_quick() -> None:
    result = run_quick("bench_cluster_routing")
    assert result["unit"] == "ms" and result["goal"] == "p99 < 5 ms"
    details = result["details"]
    assert (details["waiting"], details["officers"]) == (1000, 500)
    assert details["decisions"] == 2 * details["rounds"] * details["cycles"]
    assert result["pass"] == (result["value"] < 5)
    assert result["ratio"] == pytest.approx(result["value"] / result["baseline"], rel=0.01)
