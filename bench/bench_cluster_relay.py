"""Cluster relay throughput: ICE candidates relayed between a kiosk and an officer on two nodes (through
Redis) vs on the leader node itself.

Two nodes in this process on one redis-server (unix socket, started and stopped here) and one database;
node A leads. Same-node: K calls with kiosks and officers all connected to A. Across nodes: K calls with
the kiosks connected to B and the officers to A, so each relayed message also crosses Redis once (kiosk →
B → Redis → A's switchboard → officer, and officer → A → Redis → B → kiosk). Each call bounces an
``ice_candidate`` back and forth as in bench_signaling_relay.py; messages per second over all K streams,
rounds alternating, medians compared. Goal: across nodes >= 0.5x same-node.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

try:
    from bench.bench_signaling_relay import DEPARTMENT, _connect, _expect, _first_offer, _ping_pong
    from bench.common import bench_main, median, ratio_result
except ModuleNotFoundError:  # run as a script
    from bench_signaling_relay import DEPARTMENT, _connect, _expect, _first_offer, _ping_pong  # type: ignore[no-redef]
    from common import bench_main, median, ratio_result  # type: ignore[no-redef]

from config.schema import ClusterConfig
from remote_call import protocol as p
from signaling_server.cluster.node import CLUSTER
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.testing import test_config

GOAL = 0.5
CANDIDATE = "candidate:842163049 1 udp 1677729535 192.0.2.10 50210 typ srflx raddr 10.0.0.5 rport 50210"


async def _redis(directory: Path, *, tcp_port: int | None = None) -> tuple[asyncio.subprocess.Process, str]:
    """redis-server on a unix socket in ``directory`` (or on 127.0.0.1:``tcp_port``): (process, URL)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (scripts/bootstrap.sh installs it)")
    socket = directory / "redis.sock"
    if tcp_port is None:
        listen, url = ["--port", "0", "--unixsocket", str(socket)], f"unix://{socket}"
    else:
        listen, url = ["--bind", "127.0.0.1", "--port", str(tcp_port)], f"redis://127.0.0.1:{tcp_port}"
    process = await asyncio.create_subprocess_exec(
        binary, *listen, "--save", "", "--appendonly", "no",
        "--dir", str(directory), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        while True:
            line = await asyncio.wait_for(process.stdout.readline(), 15)
            if not line:
                raise SystemExit("redis-server exited before it was ready")
            if b"ready to accept connections" in line.lower():
                return process, url
    except BaseException:  # never leave the server behind
        process.kill()
        await process.wait()
        raise


def _hello(role: p.Role, credentials: p.Credentials) -> p.Hello:
    return p.Hello(v=p.PROTOCOL_VERSION, role=role, credentials=credentials)


async def _calls(session, kiosk_url: str, officer_url: str, creds, first: int, pairs: int) -> list[tuple]:
    """``pairs`` calls in the connecting state: (kiosk socket, officer socket, candidate text)."""
    kiosk_ids = list(creds.kiosk_tokens)[first : first + pairs]
    names = list(creds.officer_passwords)[first : first + pairs]
    kiosks = [
        await _connect(
            session,
            kiosk_url,
            _hello(p.Role.KIOSK, p.DeviceTokenCredentials(kiosk_id=k, token=creds.kiosk_tokens[k])),
        )
        for k in kiosk_ids
    ]
    officers = [
        await _connect(
            session,
            officer_url,
            _hello(p.Role.OFFICER, p.PasswordCredentials(username=n, password=creds.officer_passwords[n])),
        )
        for n in names
    ]
    matched: list[tuple] = []
    for kiosk in kiosks:
        await kiosk.send_str(p.encode(p.RequestCall(department=DEPARTMENT)))
        officer, offer = await asyncio.wait_for(_first_offer(officers, matched), 30)
        await officer.send_str(p.encode(p.AcceptCall(call_id=offer["call_id"])))
        await _expect(officer, "call_connecting")
        await _expect(kiosk, "call_connecting")
        text = p.encode(
            p.IceCandidate(call_id=offer["call_id"], candidate=CANDIDATE, sdp_mid="0", sdp_mline_index=0)
        )
        matched.append((kiosk, officer, text))
    return matched


async def _relay(streams: list[tuple], count: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(_ping_pong(k, o, text, text, count) for k, o, text in streams))
    return len(streams) * (count // 2) * 2 / (time.perf_counter() - started)


async def run(quick: bool) -> dict:
    pairs, count, rounds = (4, 400, 2) if quick else (10, 2000, 7)
    same: list[float] = []
    across: list[float] = []
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-cluster-") as tmp:
        directory = Path(tmp)
        redis, url = await _redis(directory)
        database = directory / "cluster.sqlite3"

        def config(node: str):
            # Long enough that a loaded 2-core machine's event-loop stalls neither depose the leader nor
            # time idle sockets out between rounds (the streams of one kind wait while the other runs).
            cluster = ClusterConfig(redis_url=url, node_id=node, lease_ttl_s=10.0)
            return test_config(
                messages_per_second=1e9,
                message_burst=10**9,
                ws_heartbeat_s=300,
                setup_timeout_s=3600,  # the calls stay 'connecting': no media in this benchmark
                cluster=cluster,
            )

        try:
            async with (
                EmbeddedServer(config("node-a"), database) as a,
                EmbeddedServer(config("node-b"), database) as b,
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
            ):
                assert a.app[CLUSTER].leading and not b.app[CLUSTER].leading
                creds = provision(
                    a.store,
                    config("node-a"),
                    kiosk_ids=[f"relay-kiosk-{i}" for i in range(2 * pairs)],
                    officers=[f"relay-officer-{i}" for i in range(2 * pairs)],
                )
                local = await _calls(session, a.url, a.url, creds, 0, pairs)
                relayed = await _calls(session, b.url, a.url, creds, pairs, pairs)
                await _relay(local, 20)  # warm-up
                await _relay(relayed, 20)
                for _ in range(rounds):
                    same.append(await _relay(local, count))
                    across.append(await _relay(relayed, count))
                for kiosk, officer, _ in (*local, *relayed):
                    await kiosk.close()
                    await officer.close()
        finally:
            redis.terminate()
            await redis.wait()
    return ratio_result(
        "cluster relay (ice_candidate, across nodes vs same node)",
        median(across),
        median(same),
        "msg/s",
        goal=GOAL,
        higher_is_better=True,
        details={
            "streams": pairs,
            "messages_per_stream": count,
            "rounds": rounds,
            "across_msg_s": [round(v) for v in across],
            "same_node_msg_s": [round(v) for v in same],
        },
    )


if __name__ == "__main__":
    sys.exit(bench_main(__doc__.splitlines()[0], run))
