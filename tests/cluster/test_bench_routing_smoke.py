"""A smoke run of bench/bench_cluster_routing.py --quick: both paths measured at 1,000 waiting / 500
officers, one JSON object of the documented shape (times are never asserted: a quick run's figures mean
little on a shared machine)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_cluster_routing_quick() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_cluster_routing.py"), "--json", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout[:2000]
    result = json.loads(lines[0])
    assert result["quick"] is True and result["unit"] == "ms" and result["goal"] == "p99 < 5 ms"
    details = result["details"]
    assert (details["waiting"], details["officers"]) == (1000, 500)
    assert details["decisions"] == 2 * details["rounds"] * details["cycles"]
    assert result["pass"] == (result["value"] < 5)
    assert result["ratio"] == pytest.approx(result["value"] / result["baseline"], rel=0.01)
