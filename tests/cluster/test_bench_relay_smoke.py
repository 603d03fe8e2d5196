"""A smoke run of bench/bench_cluster_relay.py --quick: both sides measured, one JSON object of the
documented shape (times are never asserted: a quick run's figures mean little on a shared machine)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_cluster_relay_quick() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_cluster_relay.py"), "--json", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout[:2000]
    result = json.loads(lines[0])
    assert result["quick"] is True and result["unit"] == "msg/s" and result["goal"] == ">= 0.5"
    details = result["details"]
    assert len(details["across_msg_s"]) == len(details["same_node_msg_s"]) == details["rounds"] >= 1
    assert result["value"] > 0 and result["baseline"] > 0
    assert result["ratio"] == pytest.approx(result["value"] / result["baseline"], rel=0.01)
