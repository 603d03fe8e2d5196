"""Routing decision p99 with the cluster's state path: a kiosk on a follower vs a kiosk on the leader, at
1,000 waiting and 500 officers busy.

Two nodes in this process on one redis-server (unix socket, started and stopped here) and one database;
node A leads and runs the router. A's router is filled as bench_routing.py fills it: 500 officers online,
each in a call, and 1,000 callers waiting in one department (the worst case for positions). Then one
kiosk cycles through the two decisions a resident makes: ``request_call`` → its ``queued`` position
(``Router.join`` behind 1,000, the call record written, the queue snapshot saved) and ``cancel_call`` →
``call_ended`` (``Router.leave``). Each decision is timed at the client from send to answer (wall clock).
Across nodes the kiosk is connected to B: kiosk → B → Redis → A's router → Redis → B → kiosk. Baseline,
same run: the same cycle from a kiosk connected to A itself (the decision in one process, no Redis).
Rounds alternate. Goal: p99 across nodes < 5 ms; the ratio to the one-process p99 is reported.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

try:
    from bench.bench_cluster_relay import _redis
    from bench.common import bench_main, ratio_result
except ModuleNotFoundError:  # run as a script
    from bench_cluster_relay import _redis  # type: ignore[no-redef]
    from common import bench_main, ratio_result  # type: ignore[no-redef]

from config.schema import AppConfig, ClusterConfig
from remote_call import protocol as p
from signaling_server.cluster.node import CLUSTER
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.routing import Ring
from signaling_server.testing import test_config

GOAL_MS = 5.0
DEPARTMENT = "kosodate"
WAITING, OFFICERS = 1000, 500
TIMEOUT_S = 30.0


def _config(url: str, node: str) -> AppConfig:
    cluster = ClusterConfig(redis_url=url, node_id=node, lease_ttl_s=10.0)  # no takeover on a stall
    config = test_config(messages_per_second=1e9, message_burst=10**9, ws_heartbeat_s=300, cluster=cluster)
    departments = [
        d.model_copy(update={"max_queue": 10_000, "overflow_after_s": None}) for d in config.departments
    ]
    return config.model_copy(update={"departments": departments})


def _fill(router: Any) -> None:
    """500 officers in calls and 1,000 callers waiting behind them, straight into the leader's router (as
    bench_routing.py; the switchboard knows none of them, so only the timed kiosk hears its decisions)."""
    for i in range(OFFICERS):
        router.officer_online(f"bench-officer-{i}", {DEPARTMENT: "primary"})
    for i in range(OFFICERS + WAITING):
        for decision in router.join(f"bench-call-{i}", DEPARTMENT):
            if isinstance(decision, Ring):
                router.accept(decision.officer_id, decision.call_id)
    assert len(router.waiting(DEPARTMENT)) == WAITING


async def _answer(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    while True:
        message = await asyncio.wait_for(ws.receive_json(), TIMEOUT_S)
        if message["type"] == kind:
            return message
        if message["type"] == "error":
            raise RuntimeError(f"the server refused: {message}")


async def _cycles(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[float]:
    """``count`` request/cancel cycles; each decision's round trip in milliseconds."""
    samples = []
    request = p.encode(p.RequestCall(department=DEPARTMENT))
    for _ in range(count):
        started = time.perf_counter()
        await ws.send_str(request)
        queued = await _answer(ws, "queued")
        samples.append((time.perf_counter() - started) * 1000)
        assert queued["position"] == WAITING + 1
        started = time.perf_counter()
        await ws.send_str(p.encode(p.CancelCall(call_id=queued["call_id"])))
        await _answer(ws, "call_ended")
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _kiosk(http: aiohttp.ClientSession, url: str, kiosk_id: str, token: str) -> Any:
    ws = await http.ws_connect(url)
    credentials = p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=token)
    await ws.send_str(p.encode(p.Hello(v=p.PROTOCOL_VERSION, role=p.Role.KIOSK, credentials=credentials)))
    await _answer(ws, "welcome")
    return ws


def _queue_snapshot_cost(router: Any) -> dict[str, float]:
    """What the switchboard's save of the queue snapshot costs at this size before any disk write (it saves
    it at its next tick after a change, at most about once a second, in the event loop): the tails of both
    paths wait behind it."""
    times = []
    for _ in range(5):
        started = time.thread_time()
        size = len(json.dumps(router.snapshot()))
        times.append((time.thread_time() - started) * 1000)
    return {"kb": round(size / 1000), "cpu_ms": round(sorted(times)[2], 1)}


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(quick: bool) -> dict:
    cycles, rounds = (30, 1) if quick else (250, 4)
    local: list[float] = []
    across: list[float] = []
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-cluster-routing-") as tmp:
        directory = Path(tmp)
        redis, url = await _redis(directory)
        database = directory / "cluster.sqlite3"
        try:
            async with (
                EmbeddedServer(_config(url, "node-a"), database) as a,
                EmbeddedServer(_config(url, "node-b"), database) as b,
                aiohttp.ClientSession() as http,
            ):
                assert a.app[CLUSTER].leading and not b.app[CLUSTER].leading
                creds = provision(
                    a.store, _config(url, "node-a"), kiosk_ids=["kiosk-ueda", "kiosk-tonan"], officers=[]
                )
                _fill(a.switchboard.router)
                on_leader = await _kiosk(http, a.url, "kiosk-ueda", creds.kiosk_tokens["kiosk-ueda"])
                on_follower = await _kiosk(http, b.url, "kiosk-tonan", creds.kiosk_tokens["kiosk-tonan"])
                await _cycles(on_leader, 10)  # warm-up
                await _cycles(on_follower, 10)
                for _ in range(rounds):
                    local.extend(await _cycles(on_leader, cycles))
                    across.extend(await _cycles(on_follower, cycles))
                queue_snapshot = _queue_snapshot_cost(a.switchboard.router)
                await on_leader.close()
                await on_follower.close()
        finally:
            redis.terminate()
            await redis.wait()
    value, baseline = _p(across, 0.99), _p(local, 0.99)
    result = ratio_result(
        "routing decision p99 across nodes (1,000 waiting / 500 officers)",
        value,
        baseline,
        "ms",
        goal=GOAL_MS / baseline,  # replaced below: the goal is absolute
        higher_is_better=False,
        details={
            "waiting": WAITING,
            "officers": OFFICERS,
            "decisions": len(across),
            "rounds": rounds,
            "cycles": cycles,
            "queue_snapshot": queue_snapshot,
            "across_ms": {
                "p50": round(_p(across, 0.5), 3),
                "p99": round(value, 3),
                "max": round(max(across), 3),
            },
            "one_process_ms": {
                "p50": round(_p(local, 0.5), 3),
                "p99": round(baseline, 3),
                "max": round(max(local), 3),
            },
        },
    )
    result["goal"] = f"p99 < {GOAL_MS:g} ms"
    result["pass"] = value < GOAL_MS
    return result


if __name__ == "__main__":
    sys.exit(bench_main(__doc__.splitlines()[0], run))
