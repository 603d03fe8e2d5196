"""A benchmark's ``--quick`` run for the smoke tests: run it, check the JSON shape every benchmark shares
(bench/common.py), return the result. Times are never asserted on it: a quick run's figures on a shared
machine mean little; what matters is that both sides (ours and the baseline) were measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"name", "value", "baseline", "unit", "ratio", "goal", "pass", "details", "quick", "machine"}


def run_quick(name: str, timeout: float = 240) -> dict[str, Any]:
    """``bench/<name>.py --json --quick``: its one JSON object, with the shared keys checked."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), "--json", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line, got: {proc.stdout[:2000]}"
    result: dict[str, Any] = json.loads(lines[0])
    assert set(result) >= KEYS, f"missing keys: {KEYS - set(result)}"
    assert result["quick"] is True
    assert isinstance(result["pass"], bool)
    assert result["value"] is not None and result["baseline"] is not None
    assert result["machine"]["cores"] >= 1 and result["machine"]["aiortc"]
    return result


def check_ratio(result: dict[str, Any]) -> None:
    """Both sides measured, and the ratio is theirs."""
    assert result["baseline"] > 0 and result["value"] > 0
    assert result["ratio"] == pytest.approx(result["value"] / result["baseline"], rel=0.01)
    assert result["goal"].startswith(("<=", ">="))
