"""The summary of a load run: what the workers and the server process reported, merged into one dict
(``madoguchi-sim --signaling-only --json`` prints it; docs/performance.md explains the figures)."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulator.load.moves import summarise_outages
from simulator.load.options import MAX_ERRORS, LoadOptions
from simulator.load.server import ServerProcess

if TYPE_CHECKING:
    from simulator.load.cpu_window import CpuWindow
    from simulator.load.nodes import Nodes


@dataclass
class RunRecord:
    """What one run saw, by worker index: ready (connected), done (calls placed), results (the calls)."""

    workers: int = 0  # worker processes started
    ready: dict[int, dict] = field(default_factory=dict)
    done: dict[int, dict] = field(default_factory=dict)
    results: dict[int, dict] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # the run's own (workers' errors are in results)
    health: dict[str, Any] = field(default_factory=dict)  # the server's /healthz once all were connected
    rss_connected: float = 0.0
    cpu_before_calls: float = 0.0
    cpu_after_calls: float = 0.0
    calls_started_at: float = 0.0
    calls_ended_at: float = 0.0
    started_on_record: set[str] = field(default_factory=set)  # start unheard by the kiosk (records.py)
    cpu_window: CpuWindow | None = None  # the processes' CPU after a kill (cpu_window.py)


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(rank(0.95), 2),
        "p99": round(rank(0.99), 2),
        "max": round(ordered[-1], 2),
    }


def stage_breakdown(
    calls: list[dict], rings: dict[str, float], stages: dict[str, dict[str, float]]
) -> dict[str, float | None]:
    """The median time of each step of a call (ms), kiosk (k) and officer (o) clocks being the same."""
    steps: dict[str, list[float]] = {
        "request_to_ring": [],
        "ring_to_connecting_k": [],
        "connecting_k_to_offer_o": [],
        "offer_o_to_answer_k": [],
        "answer_k_to_started_k": [],
        "started_o_to_ended_k": [],
    }
    for c in calls:
        o = stages.get(c["call_id"], {})
        ring = rings.get(c["call_id"])
        points = {
            "request": c["requested_at"],
            "ring": ring,
            "connecting_k": c["connecting_at"],
            "offer_o": o.get("offer_at"),
            "answer_k": c["answer_at"],
            "started_k": c["started_at"],
            "started_o": o.get("started_at"),
            "ended_k": c["ended_at"],
        }
        for step in steps:
            start, _, end = step.partition("_to_")
            if points.get(start) is not None and points.get(end) is not None:
                steps[step].append((points[end] - points[start]) * 1000)
    return {step: round(statistics.median(v), 2) if v else None for step, v in steps.items()}


def completed_call(call: dict[str, Any], run: RunRecord) -> bool:
    """The kiosk heard the call start and end ``completed``; or heard the end only, and the server's records
    show the call started and completed (``records.py``)."""
    if call["end_reason"] != "completed":
        return False
    return bool(call["started"]) or call["call_id"] in run.started_on_record


def succeeded(summary: dict[str, Any]) -> bool:
    """Every requested call completed and no caller was left without being told the call ended; with
    several nodes, every client whose node went away found another."""
    return (
        summary["calls_completed"] == summary["calls_requested"]
        and summary["callers_lost"] == 0
        and summary["calls_failed"] == 0
        and not summary.get("clients_not_back")
    )


RESUME_BOUNDS_S = (1, 2, 5, 10, 15, 20, 30, 60)


def resume_counts(durations: list[float]) -> dict[str, int]:
    """How many outages ended within each bound (``"<=5"``: over 2 s and up to 5 s), and the rest: where a
    p95 comes from (a long tail, or a wave that came back together)."""
    counts = dict.fromkeys([f"<={b}" for b in RESUME_BOUNDS_S] + [f">{RESUME_BOUNDS_S[-1]}"], 0)
    for seconds in durations:
        bound = next((b for b in RESUME_BOUNDS_S if seconds <= b), None)
        counts[f"<={bound}" if bound is not None else f">{RESUME_BOUNDS_S[-1]}"] += 1
    return counts


def attempts_by_wait(durations: list[float], attempts: object) -> dict[str, float | None]:
    """The sign-ins a client tried per outage, on average: all outages, and the slowest tenth (many
    attempts: refusals and backoff; one: a welcome that was slow to come)."""
    tried = list(attempts) if isinstance(attempts, list) else []
    pairs = sorted(zip(durations, tried, strict=False))
    slowest = pairs[len(pairs) - max(1, len(pairs) // 10) :] if pairs else []

    def mean(values: list[int]) -> float | None:
        return round(sum(values) / len(values), 2) if values else None

    return {"mean": mean([a for _, a in pairs]), "slowest_tenth_mean": mean([a for _, a in slowest])}


def by_node(durations: list[float], landed: object, nodes: Nodes) -> dict[str, dict[str, float | None]]:
    """``resume_s`` p50 and p95 by the node the clients came back on (the new leader's own, or relayed)."""
    where = list(landed) if isinstance(landed, list) else []
    names = [server.node_id or str(i) for i, server in enumerate(nodes.servers)]
    figures: dict[str, dict[str, float | None]] = {}
    for index, name in enumerate(names):
        mine = [d for d, n in zip(durations, where, strict=False) if n == index]
        if mine:
            spread = percentiles(mine)
            figures[name] = {"outages": float(len(mine)), "p50": spread["p50"], "p95": spread["p95"]}
    return figures


def _listed(values: object) -> list[float]:
    return list(values) if isinstance(values, list) else []


def _spread(durations: object) -> dict[str, float | None]:
    spread = percentiles(_listed(durations))
    return {"p50": spread["p50"], "p95": spread["p95"], "max": spread["max"]}


def nodes_summary(nodes: Nodes, run: RunRecord) -> dict[str, Any]:
    """A multi-node run's own figures: the kill, the clients that moved, how soon they resumed, the calls
    whose kiosk and officer were on different nodes, and each node's RSS and CPU."""
    results = list(run.results.values())
    outages: dict[str, list] = {}
    officer_nodes: dict[str, int] = {}
    for r in results:
        outages.update(r.get("outages", {}))
        officer_nodes.update(r.get("officer_nodes", {}))
    moves = summarise_outages(outages)
    completed = [c for r in results for c in r["calls"] if completed_call(c, run)]
    cross = sum(
        1
        for c in completed
        if c.get("node") is not None
        and officer_nodes.get(c["call_id"]) is not None
        and c["node"] != officer_nodes[c["call_id"]]
    )
    durations, welcomes = moves["resume_durations"], _listed(moves["welcome_durations"])
    assert isinstance(durations, list)
    resume = percentiles(durations)
    return {
        "nodes": len(nodes.servers),
        "node_killed": nodes.killed,
        "clients_moved": moves["moved"],
        "clients_not_back": moves["not_back"],
        "outages": moves["outages"],
        "resume_s": {"p50": resume["p50"], "p95": resume["p95"], "max": resume["max"]},
        "resume_s_counts": resume_counts(durations),
        "resume_attempts": attempts_by_wait(durations, moves["resume_attempts"]),
        # Why sign-ins after an outage failed (refused, closed, timed out), most frequent first.
        "resume_failed_sign_ins": dict(
            sum((Counter(r.get("failed_sign_ins", {})) for r in results), Counter()).most_common()
        ),
        "resume_s_by_node": by_node(durations, moves["resume_nodes"], nodes),
        # From the connect of the sign-in that was welcomed to its welcome: the servers' part of resume_s.
        "resume_welcome_s": _spread(welcomes),
        "resume_welcome_s_by_node": by_node(welcomes, moves["resume_nodes"], nodes),
        "cross_node_calls": cross,
        "per_node": nodes.figures(),
        # Cores each survivor and each of the simulator's workers used in the 10 s after the kill.
        "failover_cpu": run.cpu_window.figures() if run.cpu_window is not None else None,
    }


def summarise(
    options: LoadOptions, server: ServerProcess, run: RunRecord, fd_limit: int, wall_start: float
) -> dict[str, Any]:
    results = list(run.results.values())
    calls = [c for r in results for c in r["calls"]]
    completed = [c for c in calls if completed_call(c, run)]
    kiosks = _span(r["kiosk_connect"] for r in run.ready.values())
    officers = _span(r["officer_connect"] for r in run.ready.values())
    connected_k = sum(r["kiosks"] for r in run.ready.values())
    connected_o = sum(r["officers"] for r in run.ready.values())
    errors = run.errors + [e for r in results for e in r["errors"]]
    return {
        "mode": "signaling-only",
        "database": options.database,
        "calls_requested": options.calls,
        "calls_completed": len(completed),
        "calls_failed": options.calls - len(completed),
        "callers_lost": sum(1 for c in calls if c["end_reason"] is None),
        "end_reasons": dict(Counter(str(c["end_reason"]) for c in calls if not completed_call(c, run))),
        "calls_start_unheard": len(run.started_on_record),  # completed: the server's records say so
        # A few calls that did not complete, with what their kiosk heard: where to start looking.
        "failed_call_traces": [
            {"call_id": c["call_id"], "kiosk": c["kiosk"], "end_reason": c["end_reason"], "trace": c["trace"]}
            for c in calls
            if not completed_call(c, run)
        ][:5],
        "connected_kiosks": connected_k,
        "connected_officers": connected_o,
        "server_seen_kiosks": run.health.get("kiosks"),
        "server_seen_officers": run.health.get("officers"),
        **_server_load(server, run, kiosks, officers),
        **_timings(calls, results),
        "connect_rate_per_s": _rate(connected_k, kiosks[1] - kiosks[0]),
        "kiosk_connect_s": round(kiosks[1] - kiosks[0], 2),
        "officer_login_rate_per_s": _rate(connected_o, officers[1] - officers[0]),
        "officer_login_s": round(officers[1] - officers[0], 2),
        **_messages(run, results, len(completed)),
        "max_in_flight": options.max_in_flight or None,
        "officer_auth": options.officer_auth,
        "workers": run.workers,
        "fd_limit": fd_limit,
        "wall_s": round(time.monotonic() - wall_start, 2),
        "officer_calls_ended": sum(r["officer_calls_ended"] for r in results),
        "officer_calls_open_at_end": sum(r["officer_open_calls"] for r in results),
        "sends_paced": sum(r.get("paced", 0) for r in results),
        "error_count": sum(r["error_count"] for r in results) + len(run.errors),
        "errors": errors[:MAX_ERRORS],
    }


def _span(spans: Iterable[list[float]]) -> tuple[float, float]:
    """From the first start to the last end of the workers' (start, end) spans; (0, 0) without any."""
    pairs = list(spans)
    return min((s[0] for s in pairs), default=0.0), max((s[1] for s in pairs), default=0.0)


def _rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds else None


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _call_phase(run: RunRecord) -> float:
    return max(1e-9, run.calls_ended_at - run.calls_started_at) if run.calls_ended_at else 0.0


def _server_load(
    server: ServerProcess, run: RunRecord, kiosks: tuple[float, float], officers: tuple[float, float]
) -> dict[str, Any]:
    calls = (run.calls_started_at, run.calls_ended_at or float("inf"))
    during_calls = bool(run.calls_started_at)
    call_phase = _call_phase(run)
    return {
        "server_rss_mb": round(server.peak_rss_mb(), 1),
        "server_rss_mb_connected": round(run.rss_connected, 1),
        "server_rss_mb_peak_kiosk_connect": round(server.peak_rss_mb(*kiosks), 1),
        "server_rss_mb_peak_officer_login": round(server.peak_rss_mb(*officers), 1),
        "server_rss_mb_peak_calls": round(server.peak_rss_mb(*calls), 1) if during_calls else None,
        "server_cpu_pct_kiosk_connect": _pct(server.cpu_percent(*kiosks)),
        "server_cpu_pct_officer_login": _pct(server.cpu_percent(*officers)),
        "server_cpu_pct_calls": _pct(server.cpu_percent(*calls)) if during_calls else None,
        "server_cpu_s_calls": round(run.cpu_after_calls - run.cpu_before_calls, 2),
        "client_cpu_pct_calls": round(100 * sum(d["cpu_s"] for d in run.done.values()) / call_phase, 1)
        if call_phase
        else None,
    }


def _timings(calls: list[dict], results: list[dict]) -> dict[str, Any]:
    rings: dict[str, float] = {}  # the first ring of each call, whichever worker's officer saw it
    for r in results:
        for call_id, at in r["rings"].items():
            rings[call_id] = min(at, rings.get(call_id, at))
    stages: dict[str, dict[str, float]] = {}
    for r in results:
        stages.update(r["stages"])
    route = [(rings[c["call_id"]] - c["requested_at"]) * 1000 for c in calls if c["call_id"] in rings]
    return {"route_ms": percentiles(route), "stage_ms_p50": stage_breakdown(calls, rings, stages)}


def _messages(run: RunRecord, results: list[dict], completed: int) -> dict[str, Any]:
    call_phase = _call_phase(run)
    messages = sum(d["sent"] + d["received"] for d in run.done.values())
    by_type: dict[str, int] = {}
    for r in results:
        for kind, n in r["by_type"].items():
            by_type[kind] = by_type.get(kind, 0) + n
    return {
        "messages_per_s": round(messages / call_phase, 1) if call_phase else None,
        "messages": messages,
        "messages_by_type_received": dict(sorted(by_type.items())),
        "call_phase_s": round(call_phase, 2),
        "calls_per_s": round(completed / call_phase, 1) if call_phase else None,
    }
