"""Run every benchmark (bench/bench_*.py --json), write bench/results.json, regenerate docs/performance.md.

    .venv/bin/python bench/run_all.py [--quick] [--only NAME ...] [--timeout SECONDS] [--render-only]

Benchmarks run one after another (never side by side: they measure CPU and time). One that fails, times out
or prints no JSON is recorded with its error and the others still run. The table in docs/performance.md
between the ``results`` markers is replaced; the text around it is kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

try:
    from bench.common import ROOT, machine
except ModuleNotFoundError:
    from common import ROOT, machine  # type: ignore[no-redef]

BENCH_DIR = ROOT / "bench"
RESULTS = BENCH_DIR / "results.json"
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def discover(only: list[str] | None = None) -> list[Path]:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if only:
        wanted = {name.removeprefix("bench_").removesuffix(".py") for name in only}
        unknown = wanted - {s.stem.removeprefix("bench_") for s in scripts}
        if unknown:
            raise SystemExit(
                f"no such benchmark: {', '.join(sorted(unknown))} "
                f"(have: {', '.join(s.stem for s in scripts)})"
            )
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
    return scripts


def parse_output(stdout: str) -> dict[str, Any]:
    """The benchmark's JSON object: the whole output, or else its last line that is one."""
    text = stdout.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
        for line in reversed(text.splitlines()):
            if line.startswith("{"):
                try:
                    data = json.loads(line)
                    break
                except ValueError:
                    continue
    if not isinstance(data, dict):
        raise ValueError("printed no JSON object")
    return data


def run_one(script: Path, quick: bool, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(script), "--json"]
    source = script.read_text(encoding="utf-8")
    if quick and ("--quick" in source or "bench_main(" in source):  # bench_main gives --quick
        cmd.append("--quick")
    started = time.perf_counter()
    entry: dict[str, Any] = {
        "script": script.name,
        "command": " ".join(["python", f"bench/{script.name}", *cmd[2:]]),
    }
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        entry["seconds"] = round(time.perf_counter() - started, 1)
        if proc.returncode != 0:
            entry["error"] = f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-1500:]}"
        try:
            entry["result"] = parse_output(proc.stdout)
        except ValueError as exc:
            entry.setdefault("error", f"{exc}: {proc.stderr.strip()[-1500:]}")
    except subprocess.TimeoutExpired:
        entry["seconds"] = round(time.perf_counter() - started, 1)
        entry["error"] = f"timed out after {timeout:.0f} s"
    return entry


def _rows(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Table rows of one benchmark. Results in the common shape (objects with ``ratio``, ``cases`` first)
    give full rows; for other shapes every numeric field named like a ratio (``*ratio*``, ``*_vs_*``)
    becomes a row with just that ratio (and the benchmark's ``goal_ratio`` if it states one)."""
    result = entry.get("result")
    if entry.get("error") and not result:
        return [{"name": entry["script"], "error": entry["error"]}]
    found: list[dict[str, Any]] = []
    goal_ratio = result.get("goal_ratio") if isinstance(result, dict) else None

    def label_of(node: dict, fallback: str) -> str:
        return str(node.get("name") or fallback)

    def walk(node: Any, label: str, depth: int) -> None:
        if depth > 5:
            return
        if isinstance(node, dict):
            cases = node.get("cases")
            if cases and depth == 0 and isinstance(cases, list):
                walk(cases, label, depth + 1)
                return
            if isinstance(node.get("ratio"), int | float) and not isinstance(node.get("ratio"), bool):
                row = {**node, "name": label_of(node, label)}
                if "goal" not in row and goal_ratio is not None:
                    row["goal"] = f"goal ratio {goal_ratio}"
                found.append(row)
                return
            for key, value in node.items():
                if key in ("machine", "details", "goal_ratio"):
                    continue
                if (
                    isinstance(value, int | float)
                    and not isinstance(value, bool)
                    and ("ratio" in key or "_vs_" in key)
                ):
                    found.append({"name": f"{label} {key}", "ratio": value})
                else:
                    walk(value, f"{label} {key}".strip(), depth + 1)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{label} [{i}]", depth + 1)

    walk(result, entry["script"].removeprefix("bench_").removesuffix(".py"), 0)
    if not found:
        found = [{"name": entry["script"], "note": "no ratio reported; see bench/results.json"}]
    if entry.get("error"):
        for row in found:
            row.setdefault("error", entry["error"])
    return found


def _cell(text: Any, limit: int = 160) -> str:
    """One markdown table cell: a single line, no pipes."""
    return " ".join(str(text).split()).replace("|", "/")[:limit]


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def table(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"Measured {report['finished']} on **{m['cpu']}**, {m['cores']} cores, Python {m['python']}, "
        f"aiortc {m['aiortc']}, aiohttp {m['aiohttp']}, PyAV {m['av']} ({m['os']}; 1-minute load average "
        f"{m['loadavg_1m']} at the start{', quick mode' if report['quick'] else ''}).",
        "",
        *(
            [
                f"Re-run afterwards on the same machine: "
                f"{', '.join(u['script'] + ' (' + u['at'] + ')' for u in report['updates'])}.",
                "",
            ]
            if report.get("updates")
            else []
        ),
        "| Benchmark | Ours | Baseline | Unit | Ratio | Goal | Pass |",
        "|---|---:|---:|---|---:|---|:---:|",
    ]
    for entry in report["benchmarks"]:
        for row in _rows(entry):
            if "error" in row and "ratio" not in row:
                lines.append(f"| {_cell(row['name'])} | — | — | — | — | — | error: {_cell(row['error'])} |")
                continue
            if "note" in row:
                lines.append(f"| {_cell(row['name'])} | — | — | — | — | — | {_cell(row['note'])} |")
                continue
            verdict = "—" if "pass" not in row else "✅" if row["pass"] else "❌"
            lines.append(
                f"| {_cell(row['name'])} | {_fmt(row.get('value'))} | {_fmt(row.get('baseline'))} | "
                f"{_cell(row.get('unit', ''))} | {_fmt(row.get('ratio'))} | "
                f"{_cell(row.get('goal', ''))} | {verdict} |"
            )
    return "\n".join(lines)


def update_doc(report: dict[str, Any], doc: Path = DOC) -> None:
    block = f"{BEGIN}\n{table(report)}\n{END}"
    if doc.exists():
        text = doc.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, _, rest = text.partition(BEGIN)
            _, _, tail = rest.partition(END)
            doc.write_text(head + block + tail, encoding="utf-8")
            return
        doc.write_text(text.rstrip() + "\n\n## Results\n\n" + block + "\n", encoding="utf-8")
        return
    doc.write_text("# Performance\n\n## Results\n\n" + block + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to the benchmarks that have it")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only these (e.g. call_setup); they replace their entries in the results",
    )
    parser.add_argument("--timeout", type=float, default=900, help="per benchmark, seconds")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="only regenerate docs/performance.md from an existing results file",
    )
    args = parser.parse_args(argv)
    if args.render_only:
        report = json.loads(args.output.read_text(encoding="utf-8"))
        update_doc(report)
        print(table(report))
        return 0
    report: dict[str, Any] = {
        "machine": machine(),
        "quick": args.quick,
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "benchmarks": [],
    }
    for script in discover(args.only):
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        entry = run_one(script, args.quick, args.timeout)
        report["benchmarks"].append(entry)
        status = f"error: {entry['error'][:200]}" if "error" in entry else "ok"
        print(f"  {script.name}: {status} ({entry.get('seconds')} s)", file=sys.stderr, flush=True)
    report["finished"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if args.only and args.output.exists():  # a partial run updates those entries of the last full run
        previous = json.loads(args.output.read_text(encoding="utf-8"))
        fresh = {e["script"]: e for e in report["benchmarks"]}
        updates = [
            *previous.get("updates", []),
            *({"script": name, "at": report["finished"]} for name in fresh),
        ]
        merged = [fresh.pop(e["script"], e) for e in previous.get("benchmarks", [])]
        previous["benchmarks"] = sorted([*merged, *fresh.values()], key=lambda e: e["script"])
        previous["updates"] = updates
        report = previous
    args.output.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if not args.no_doc:
        update_doc(report)
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
