"""A smoke run of bench/bench_cluster_relay.py --quick: both sides measured, one JSON object of the
documented shape (times are never asserted: a quick run's figures mean little on a shared machine)."""

from __future__ import annotations

import shutil

import pytest

from devtools.quick_bench import run_quick


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_cluster_relay_quick() -> None:
    result = run_quick("bench_cluster_relay")
    assert result["unit"] == "msg/s" and result["goal"] == ">= 0.5"
    details = result["details"]
    assert len(details["across_msg_s"]) == len(details["same_node_msg_s"]) == details["rounds"] >= 1
    assert result["value"] > 0 and result["baseline"] > 0
    assert result["ratio"] == pytest.approx(result["value"] / result["baseline"], rel=0.01)
