"""Benchmark of the queue router: decision time against queue size, and the wait estimate's error.

Run: .venv/bin/python bench/bench_routing.py [--json] [--quick]

1. Decision time. For 10 → 10,000 waiting callers (officers = half as many, all busy), a steady
   cycle of events is timed one call at a time: a caller joins, a call ends, the officer ends
   wrap-up and is offered the head caller, accepts (everyone behind moves up and gets a position),
   a waiting caller leaves. Two layouts: Morioka's departments (callers and officers spread over
   them) and everything in one department (worst case for position pushes). The baseline is the
   same event sequence on bare deques and dicts in the same run, doing the least work the events
   require (append, popleft, and one (call, position) tuple per caller whose position changed).
2. Wait estimate. A discrete-event simulation drives the router (Poisson arrivals, exponential handle
   times, officers answering every offer) and compares the estimate each caller was given when it
   joined with the wait it then had (mean absolute error, seconds), next to a naive estimate
   (position × default handle time) for scale.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import random
import statistics
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.loader import load_config
from config.schema import Department, OpeningHours
from signaling_server.routing import Connect, QueuePosition, Ring, Router, SkillLevel

ALWAYS_OPEN = OpeningHours(
    **{day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    closed_on_public_holidays=False,
    closed_new_year=False,
    last_join_minutes_before_close=0,
)


def _clock_ns() -> int:
    return _TIMER()


# CPU time of this thread by default: the figures do not move when other processes share the machine.
# --wall switches to wall-clock time (perf_counter).
_TIMER = time.thread_time_ns


class Clock:
    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _departments(layout: str, max_queue: int) -> list[Department]:
    if layout == "single":
        return [
            Department(
                id="kosodate",
                name_ja="子育てあんしん課",
                name_en="Child and Family Support",
                audience="residents",
                hours=ALWAYS_OPEN,
                max_queue=max_queue,
                overflow_after_s=None,
            )
        ]
    config = load_config()
    return [
        dep.model_copy(update={"hours": ALWAYS_OPEN, "max_queue": max_queue, "overflow_after_s": None})
        for dep in config.departments
        if dep.remote
    ]


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(ns: list[int]) -> dict[str, float]:
    us = [n / 1000 for n in ns]
    return {
        "p50_us": round(_percentile(us, 0.50), 2),
        "p99_us": round(_percentile(us, 0.99), 2),
        "max_us": round(max(us), 2),
        "mean_us": round(statistics.fmean(us), 2),
    }


def bench_router(layout: str, waiting: int, officers: int, cycles: int, seed: int) -> dict[str, Any]:
    """Time each router event of `cycles` steady-state cycles with `waiting` callers queued."""
    rng = random.Random(seed)
    clock = Clock()
    deps = _departments(layout, max_queue=10_000)
    dep_ids = [d.id for d in deps]
    router = Router(deps, clock=clock)
    ids = iter(range(10**9))
    for i in range(officers):  # each officer primary in one department, secondary in the next
        primary = dep_ids[i % len(dep_ids)]
        skills = {primary: SkillLevel.PRIMARY}
        if len(dep_ids) > 1:
            skills[dep_ids[(i + 1) % len(dep_ids)]] = SkillLevel.SECONDARY
        router.officer_online(f"o{i}", skills)
    connected: dict[str, str] = {}  # call -> officer
    queued: dict[str, str] = {}  # call -> department
    ringing: dict[str, str] = {}  # officer -> call

    def apply(out: list) -> None:
        for d in out:
            if isinstance(d, Ring):
                ringing[d.officer_id] = d.call_id
            elif isinstance(d, Connect):
                connected[d.call_id] = d.officer_id
                queued.pop(d.call_id, None)

    def join() -> list:
        call = f"c{next(ids)}"
        dep = dep_ids[rng.randrange(len(dep_ids))]
        queued[call] = dep
        return router.join(call, dep)

    # Fill: every officer gets a call, then `waiting` callers wait behind them.
    while len(connected) < officers:
        apply(join())
        for officer, call in list(ringing.items()):
            del ringing[officer]
            apply(router.accept(officer, call))
    while len(queued) < waiting:
        apply(join())
    assert not ringing and len(queued) == waiting

    timings: dict[str, list[int]] = {
        "join": [],
        "call_finished": [],
        "set_available": [],
        "accept": [],
        "leave": [],
    }
    decisions = 0
    gc.collect()

    def settle() -> None:  # officers answer every outstanding offer
        for other, call in list(ringing.items()):
            del ringing[other]
            apply(router.accept(other, call))

    def timed(name: str, event: Any, *args: str) -> list:
        # The previous event's decisions are freed by the caller, outside the timed region.
        t0 = _clock_ns()
        result = event(*args)
        timings[name].append(_clock_ns() - t0)
        return result

    for _ in range(cycles):
        clock.now += 1.0
        settle()
        out = timed("join", join)
        decisions += len(out)
        apply(out)
        settle()
        call, officer = next(iter(connected.items()))
        del connected[call]
        out = timed("call_finished", router.call_finished, call)
        decisions += len(out)
        out = timed("set_available", router.set_available, officer)  # offered the best waiting caller
        decisions += len(out)
        apply(out)
        offered = ringing.pop(officer, None)
        if offered is not None:  # (with few callers its departments may have nobody waiting)
            out = timed("accept", router.accept, officer, offered)
            decisions += len(out)
            apply(out)
        settle()
        if queued:
            victim = rng.choice(list(queued)) if len(queued) < 2000 else next(iter(queued))
            del queued[victim]
            ringing_officer = next((o for o, c in ringing.items() if c == victim), None)
            if ringing_officer is not None:
                del ringing[ringing_officer]
            out = timed("leave", router.leave, victim)
            decisions += len(out)
            apply(out)
        apply(join())  # keep the queue length steady
    everything = [ns for series in timings.values() for ns in series]
    return {
        "per_event": {name: _summary(series) for name, series in timings.items()},
        "all_events": _summary(everything),
        "decisions_per_event": round(decisions / len(everything), 1),
    }


def bench_baseline(layout: str, waiting: int, officers: int, cycles: int, seed: int) -> dict[str, Any]:
    """The same event sequence on bare deques and dicts: the least work the events need."""
    rng = random.Random(seed)
    ndeps = len(_departments(layout, 10))
    queues: list[deque[str]] = [deque() for _ in range(ndeps)]
    where: dict[str, int] = {}
    idle: deque[str] = deque()
    busy: dict[str, str] = {}
    ids = iter(range(10**9))
    for i in range(officers):
        busy[f"c{next(ids)}"] = f"o{i}"
    for _ in range(waiting):
        call = f"c{next(ids)}"
        dep = rng.randrange(ndeps)
        queues[dep].append(call)
        where[call] = dep
    timings: list[int] = []
    gc.collect()
    for _ in range(cycles):
        t0 = _clock_ns()
        call = f"c{next(ids)}"
        dep = rng.randrange(ndeps)
        queues[dep].append(call)
        where[call] = dep
        out = [(call, len(queues[dep]))]
        timings.append(_clock_ns() - t0)
        out = []
        t0 = _clock_ns()
        finished, officer = next(iter(busy.items()))
        del busy[finished]
        idle.append(officer)
        timings.append(_clock_ns() - t0)
        out = []
        t0 = _clock_ns()
        officer = idle.popleft()
        dep = max(range(ndeps), key=lambda d: len(queues[d]))
        head = queues[dep][0]
        timings.append(_clock_ns() - t0)
        out = []
        t0 = _clock_ns()
        queues[dep].popleft()
        del where[head]
        busy[head] = officer
        out = [(c, i) for i, c in enumerate(queues[dep], 1)]
        timings.append(_clock_ns() - t0)
        out = []
        victim = rng.choice(list(where)) if len(where) < 2000 else next(iter(where))
        t0 = _clock_ns()
        vdep = where.pop(victim)
        index = queues[vdep].index(victim)
        del queues[vdep][index]
        out = [(c, i) for i, c in enumerate(list(queues[vdep])[index:], index + 1)]
        timings.append(_clock_ns() - t0)
        out = []
        call = f"c{next(ids)}"
        dep = rng.randrange(ndeps)
        queues[dep].append(call)
        where[call] = dep
        del out
    return _summary(timings)


def simulate_ewt(
    officers: int,
    utilisation: float,
    mean_handle_s: float,
    wrap_up_s: float,
    callers: int,
    warmup: int,
    seed: int,
) -> dict[str, Any]:
    """Drive the router with a simulated day; compare each caller's EWT at join with its actual wait."""
    rng = random.Random(seed)
    clock = Clock()
    dep = Department(
        id="kosodate",
        name_ja="子育てあんしん課",
        name_en="Child and Family Support",
        audience="residents",
        hours=ALWAYS_OPEN,
        max_queue=10_000,
        wrap_up_s=wrap_up_s,
        overflow_after_s=None,
    )
    default_handle_s = 300.0
    router = Router([dep], clock=clock, default_handle_s=default_handle_s)
    for i in range(officers):
        router.officer_online(f"o{i}", {"kosodate": SkillLevel.PRIMARY})
    rate = utilisation * officers / (mean_handle_s + wrap_up_s)
    events: list[tuple[float, int, str, str]] = []  # (time, seq, kind, call)
    seq = iter(range(10**9))
    t = clock.now
    for i in range(callers):
        t += rng.expovariate(rate)
        heapq.heappush(events, (t, next(seq), "arrive", f"c{i}"))
    estimate: dict[str, float | None] = {}
    naive: dict[str, float] = {}
    joined: dict[str, float] = {}
    waits: dict[str, float] = {}

    def apply(out: list) -> None:
        for d in out:
            if isinstance(d, Ring):  # officers answer every offer at once
                apply(router.accept(d.officer_id, d.call_id))
            elif isinstance(d, Connect):
                waits[d.call_id] = clock.now - joined[d.call_id]
                end = clock.now + rng.expovariate(1 / mean_handle_s)
                heapq.heappush(events, (end, next(seq), "end", d.call_id))

    while events or router.next_deadline() is not None:
        deadline = router.next_deadline()
        if events and (deadline is None or events[0][0] <= deadline):
            when, _, kind, call = heapq.heappop(events)
            clock.now = when
            if kind == "arrive":
                joined[call] = when
                out = router.join(call, "kosodate")
                mine = [d for d in out if isinstance(d, QueuePosition) and d.call_id == call]
                estimate[call] = mine[0].ewt_s
                naive[call] = (mine[0].position - 1) * default_handle_s
                apply(out)
            else:
                apply(router.call_finished(call))
        else:
            clock.now = deadline  # type: ignore[assignment]
            apply(router.tick())
    scored = [c for c in list(joined)[warmup:] if estimate[c] is not None and c in waits]
    errors = [abs(estimate[c] - waits[c]) for c in scored]  # type: ignore[operator]
    naive_errors = [abs(naive[c] - waits[c]) for c in scored]
    return {
        "officers": officers,
        "utilisation": utilisation,
        "mean_handle_s": mean_handle_s,
        "wrap_up_s": wrap_up_s,
        "callers_scored": len(scored),
        "mean_wait_s": round(statistics.fmean(waits[c] for c in scored), 1),
        "ewt_mae_s": round(statistics.fmean(errors), 1),
        "naive_mae_s": round(statistics.fmean(naive_errors), 1),
        "answered": len(waits),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--quick", action="store_true", help="fewer cycles and callers (a smoke run)")
    parser.add_argument(
        "--wall", action="store_true", help="time with wall-clock time instead of thread CPU time"
    )
    args = parser.parse_args(argv)
    global _TIMER
    _TIMER = time.perf_counter_ns if args.wall else time.thread_time_ns
    cycles = 200 if args.quick else 2000
    sizes = [(10, 5), (100, 50), (1000, 500), (10_000, 5000)]
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cycles": cycles,
        "timer": "perf_counter (wall)" if args.wall else "thread_time (CPU time of the calling thread)",
        "decision_time": [],
    }
    for layout in ("morioka", "single"):
        for waiting, officers in sizes:
            if layout == "single":
                waiting = min(waiting, 9_990)  # one department holds at most max_queue = 10,000 callers
            router = bench_router(layout, waiting, officers, cycles, seed=1)
            baseline = bench_baseline(layout, waiting, officers, cycles, seed=1)
            results["decision_time"].append(
                {
                    "layout": layout,
                    "waiting": waiting,
                    "officers": officers,
                    "router": router,
                    "baseline": baseline,
                    "p99_ratio_to_baseline": round(router["all_events"]["p99_us"] / baseline["p99_us"], 2),
                }
            )
    target = next(r for r in results["decision_time"] if r["layout"] == "morioka" and r["waiting"] == 1000)
    results["target_1000_waiting_500_officers"] = {
        "p99_us": target["router"]["all_events"]["p99_us"],
        "under_1ms": target["router"]["all_events"]["p99_us"] < 1000,
    }
    callers = 1500 if args.quick else 6000
    results["ewt"] = [
        simulate_ewt(
            officers=5, utilisation=u, mean_handle_s=300, wrap_up_s=15, callers=callers, warmup=200, seed=7
        )
        for u in (0.8, 0.95)
    ]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"router decision time ({cycles} cycles of 5 events; p99 in µs; timer {results['timer']})")
    print(f"{'layout':8} {'waiting':>8} {'officers':>8} {'router p99':>11} {'baseline p99':>13} {'ratio':>6}")
    for r in results["decision_time"]:
        print(
            f"{r['layout']:8} {r['waiting']:>8} {r['officers']:>8} {r['router']['all_events']['p99_us']:>11}"
            f" {r['baseline']['p99_us']:>13} {r['p99_ratio_to_baseline']:>6}"
        )
    print("EWT against simulated outcomes (seconds)")
    for e in results["ewt"]:
        print(
            f"  {e['officers']} officers, utilisation {e['utilisation']}: mean wait {e['mean_wait_s']}, "
            f"EWT MAE {e['ewt_mae_s']} (naive {e['naive_mae_s']}) over {e['callers_scored']} callers"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
