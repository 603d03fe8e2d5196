"""Memory over consecutive calls: 200 short calls in one process; RSS, asyncio tasks and open files.

Ours: a KioskController and a ConsoleController through an embedded signaling server, all in this process,
place 200 consecutive calls (media flowing ~0.5 s each at 160×120). RSS, the number of asyncio tasks and
open file descriptors are sampled (after a garbage collection) once warmed up and at the end. Baseline: the
same number of bare aiortc loopback calls (two RTCPeerConnections, same tracks) in a separate process,
sampled the same way. Goal: RSS growth under 30 MB after warm-up, and no growth in tasks or descriptors;
the ratio (growth / baseline growth, the baseline floored at 1 MB) shows how our stack compares.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import os
import sys
from pathlib import Path

import psutil

try:
    from bench.common import ROOT, CallRig, bare_loopback_call, bench_main
except ModuleNotFoundError:
    from common import ROOT, CallRig, bare_loopback_call, bench_main  # type: ignore[no-redef]

WIDTH, HEIGHT, FPS = 160, 120, 15
CALL_SECONDS = 0.5
GROWTH_LIMIT_MB = 30.0


def _sample() -> dict:
    gc.collect()
    proc = psutil.Process()
    tasks = asyncio.all_tasks()
    names = collections.Counter(t.get_coro().__qualname__ if t.get_coro() else t.get_name() for t in tasks)
    return {
        "rss_mb": proc.memory_info().rss / 2**20,
        "tasks": len(tasks),
        "fds": proc.num_fds(),
        "task_kinds": dict(names),
    }


def _growth(start: dict, end: dict) -> dict:
    kinds = {
        k: end["task_kinds"].get(k, 0) - start["task_kinds"].get(k, 0)
        for k in set(start["task_kinds"]) | set(end["task_kinds"])
    }
    return {
        "rss_mb": round(end["rss_mb"] - start["rss_mb"], 2),
        "tasks": end["tasks"] - start["tasks"],
        "fds": end["fds"] - start["fds"],
        "new_task_kinds": {k: v for k, v in kinds.items() if v > 0},
    }


async def _series(call, calls: int, warmup: int) -> dict:
    for _ in range(warmup):
        await call()
    first = _sample()
    trace = [round(first["rss_mb"], 1)]
    for i in range(calls - warmup):
        await call()
        if (i + 1) % 20 == 0:
            trace.append(round(_sample()["rss_mb"], 1))
    last = _sample()
    return {"warm": first, "end": last, "growth": _growth(first, last), "rss_trace_mb": trace}


async def _ours(calls: int, warmup: int) -> dict:
    frames = []
    async with CallRig(WIDTH, HEIGHT, FPS) as rig:

        async def call() -> None:
            result = await rig.call(CALL_SECONDS)
            frames.append(min(result["frames_to_officer"], result["frames_to_kiosk"]))

        series = await _series(call, calls, warmup)
    series["min_frames_each_way"] = min(frames)
    return series


async def _bare_child(calls: int, warmup: int) -> dict:
    async def call() -> None:
        await bare_loopback_call(WIDTH, HEIGHT, FPS, CALL_SECONDS)

    return await _series(call, calls, warmup)


async def _bare(calls: int, warmup: int) -> dict:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(calls),
        str(warmup),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = await proc.communicate()
    for line in reversed(out.decode().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"the baseline process failed (exit {proc.returncode}): {err.decode()[-1500:]}")


async def run(quick: bool) -> dict:
    calls, warmup = (8, 3) if quick else (200, 20)
    ours = await _ours(calls, warmup)
    bare = await _bare(calls, warmup)
    growth, base_growth = ours["growth"], bare["growth"]
    passed = growth["rss_mb"] < GROWTH_LIMIT_MB and growth["tasks"] <= 0 and growth["fds"] <= 0
    value, baseline = growth["rss_mb"], base_growth["rss_mb"]
    return {
        "name": f"memory over {calls} calls (RSS growth after warm-up)",
        "value": round(value, 2),
        "baseline": round(baseline, 2),
        "unit": "MB",
        "ratio": round(value / max(baseline, 1.0), 3),
        "goal": f"< {GROWTH_LIMIT_MB:g} MB growth, tasks and fds not growing",
        "pass": passed,
        "details": {
            "calls": calls,
            "warmup_calls": warmup,
            "call_seconds": CALL_SECONDS,
            "resolution": f"{WIDTH}x{HEIGHT}@{FPS}",
            "ours": {
                "growth": growth,
                "rss_warm_mb": round(ours["warm"]["rss_mb"], 1),
                "rss_end_mb": round(ours["end"]["rss_mb"], 1),
                "tasks_end": ours["end"]["tasks"],
                "fds_end": ours["end"]["fds"],
                "rss_trace_mb": ours["rss_trace_mb"],
                "min_frames_each_way": ours["min_frames_each_way"],
            },
            "baseline": {
                "growth": base_growth,
                "rss_warm_mb": round(bare["warm"]["rss_mb"], 1),
                "rss_end_mb": round(bare["end"]["rss_mb"], 1),
                "rss_trace_mb": bare["rss_trace_mb"],
            },
        },
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        print(json.dumps(asyncio.run(_bare_child(int(sys.argv[2]), int(sys.argv[3])))))
        sys.exit(0)
    sys.exit(bench_main(__doc__.splitlines()[0], run))
