"""Smoke runs of the benchmarks in --quick mode: each prints one JSON object of the documented shape.

Times are never asserted here (the figures of a quick run on a CI machine mean little); what is checked is
that the benchmark really ran both sides (ours and the baseline) and reported a consistent result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import run_all  # noqa: E402
from bench.common import ratio_result, worst_of  # noqa: E402
from devtools.quick_bench import check_ratio, run_quick  # noqa: E402


def test_call_setup_quick() -> None:
    result = run_quick("bench_call_setup")
    check_ratio(result)
    assert result["unit"] == "ms"
    assert len(result["details"]["ours_ms"]) == len(result["details"]["baseline_ms"]) >= 1


def test_signaling_relay_quick() -> None:
    result = run_quick("bench_signaling_relay")
    check_ratio(result)
    assert result["unit"] == "msg/s"
    assert result["goal"] == ">= 0.7"


def test_kiosk_cpu_quick() -> None:
    result = run_quick("bench_kiosk_cpu")
    check_ratio(result)
    assert result["cases"] and all(case["unit"] == "% of a core" for case in result["cases"])
    for case in result["cases"]:
        # Both sides really received video during the measured interval.
        assert all(f["ours"] > 0 and f["baseline"] > 0 for f in case["details"]["frames_in"])


def test_memory_calls_quick() -> None:
    result = run_quick("bench_memory_calls")
    assert result["unit"] == "MB"
    ours = result["details"]["ours"]
    assert ours["min_frames_each_way"] > 0  # media flowed in every call
    assert {"rss_mb", "tasks", "fds"} <= set(ours["growth"])
    assert result["pass"] == (
        ours["growth"]["rss_mb"] < 30 and ours["growth"]["tasks"] <= 0 and ours["growth"]["fds"] <= 0
    )


def test_ratio_result_and_worst_case() -> None:
    slow = ratio_result("a", 3.0, 2.0, "ms", goal=1.2, higher_is_better=False)
    fast = ratio_result("b", 1.0, 2.0, "ms", goal=1.2, higher_is_better=False)
    assert (slow["ratio"], slow["pass"], fast["pass"]) == (1.5, False, True)
    combined = worst_of("both", [fast, slow], higher_is_better=False)
    assert combined["ratio"] == 1.5 and combined["pass"] is False and len(combined["cases"]) == 2
    with pytest.raises(ValueError, match="baseline must be positive"):
        ratio_result("c", 1.0, 0.0, "ms", goal=1.0, higher_is_better=False)


def test_run_all_records_a_failing_benchmark_and_renders_the_table(tmp_path: Path) -> None:
    broken = {"script": "bench_broken.py", "error": "exit 1: boom"}
    good = {
        "script": "bench_x.py",
        "result": ratio_result("x", 1.0, 2.0, "ms", goal=1.5, higher_is_better=False),
    }
    report = {
        "machine": {
            "cpu": "CPU",
            "cores": 2,
            "python": "3.11",
            "aiortc": "1",
            "aiohttp": "3",
            "av": "1",
            "os": "Linux",
            "loadavg_1m": 0.1,
        },
        "quick": False,
        "finished": "now",
        "benchmarks": [broken, good],
    }
    doc = tmp_path / "performance.md"
    doc.write_text(f"# P\n\nintro\n\n{run_all.BEGIN}\nold\n{run_all.END}\n\nnotes stay\n", encoding="utf-8")
    run_all.update_doc(report, doc)
    text = doc.read_text(encoding="utf-8")
    assert "intro" in text and "notes stay" in text and "old" not in text
    assert "| bench_broken.py |" in text and "error: exit 1: boom" in text
    assert "| x | 1 | 2 | ms | 0.5 | <= 1.5 | ✅ |" in text
    assert run_all.parse_output('noise\n{"a": 1}\n') == {"a": 1}
    with pytest.raises(ValueError, match="no JSON"):
        run_all.parse_output("nothing here")


def test_load_client_quick() -> None:
    result = run_quick("bench_load_client")
    check_ratio(result)
    assert result["unit"] == "sign-ins/s" and result["goal"] == ">= 1.5"
    details = result["details"]
    assert details["clients"] == 200 and len(details["ours_cpu_s"]) == len(details["aiohttp_cpu_s"]) >= 1
    assert min(details["ours_cpu_s"] + details["aiohttp_cpu_s"]) > 0  # both really worked
