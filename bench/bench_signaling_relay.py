"""Signaling relay throughput: ICE candidates relayed within calls vs a bare aiohttp websocket echo.

Ours: K calls set up through the real signaling server (embedded, loopback, same process as the clients);
in each call the kiosk and the officer bounce an ``ice_candidate`` back and forth through the server (kiosk →
server → officer → server → kiosk ...). Every relayed message is one client send, one server receive +
parse + validation + authorisation + relay, one client receive. Baseline: a bare aiohttp websocket echo
server (same loop, same loopback, same message text) over K connections, each round trip one client send,
one server receive + send, one client receive. Throughput in messages per second over all K streams;
9 rounds alternate between the two, medians compared. The server's per-connection rate limit (a policy, 50/s
by default) is raised for this run so that the relay path itself is measured. Goal: ours >= 0.7x.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

try:
    from bench.common import bench_main, median, ratio_result
except ModuleNotFoundError:
    from common import bench_main, median, ratio_result  # type: ignore[no-redef]  # run as a script

from remote_call import protocol as p
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.testing import test_config

GOAL = 0.7
DEPARTMENT = "shimin-toroku"
CANDIDATE = "candidate:842163049 1 udp 1677729535 192.0.2.10 50210 typ srflx raddr 10.0.0.5 rport 50210"


async def _expect(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 30.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.receive()
            if frame.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"connection closed while waiting for {kind!r} ({frame.type.name})")
            data = json.loads(frame.data)
            if data.get("type") == kind:
                return data
            if data.get("type") == "error":
                raise RuntimeError(f"server error while waiting for {kind!r}: {data}")


async def _connect(
    session: aiohttp.ClientSession, url: str, hello: p.Hello
) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(url, compress=0)
    await ws.send_str(p.encode(hello))
    await _expect(ws, "welcome")
    return ws


async def _ping_pong(
    a: aiohttp.ClientWebSocketResponse,
    b: aiohttp.ClientWebSocketResponse,
    text_a: str,
    text_b: str,
    count: int,
) -> None:
    """a sends, b receives and answers, a receives...: ``count`` relayed messages in all."""

    async def side(ws, text: str, first: bool, n: int) -> None:
        if first:
            await ws.send_str(text)
        for i in range(n):
            while True:
                frame = await ws.receive()
                if frame.type is not aiohttp.WSMsgType.TEXT:
                    raise ConnectionError(f"relay stream closed ({frame.type.name})")
                if '"ice_candidate"' in frame.data or frame.data == text:
                    break
                if '"error"' in frame.data:
                    raise RuntimeError(f"server error during the relay: {frame.data[:300]}")
            if not (first and i == n - 1):
                await ws.send_str(text)

    half = count // 2
    await asyncio.gather(side(a, text_a, True, half), side(b, text_b, False, half))


async def _set_up_calls(session: aiohttp.ClientSession, url: str, creds, pairs: int) -> list[tuple]:
    """``pairs`` calls in the connecting state: (kiosk socket, officer socket, candidate message text)."""
    kiosks, officers = [], []
    for kiosk_id, token in list(creds.kiosk_tokens.items())[:pairs]:
        kiosks.append(
            await _connect(
                session,
                url,
                p.Hello(
                    v=p.PROTOCOL_VERSION,
                    role=p.Role.KIOSK,
                    credentials=p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=token),
                ),
            )
        )
    for name, password in list(creds.officer_passwords.items())[:pairs]:
        officers.append(
            await _connect(
                session,
                url,
                p.Hello(
                    v=p.PROTOCOL_VERSION,
                    role=p.Role.OFFICER,
                    credentials=p.PasswordCredentials(username=name, password=password),
                ),
            )
        )
    matched: list[tuple] = []
    for kiosk in kiosks:  # one call at a time, so the offer is for the kiosk just asking
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


async def _ours(streams: list[tuple], count: int) -> tuple[float, int]:
    started = time.perf_counter()
    await asyncio.gather(*(_ping_pong(k, o, text, text, count) for k, o, text in streams))
    return time.perf_counter() - started, len(streams) * (count // 2) * 2


async def _first_offer(officers, matched) -> tuple:
    busy = {id(o) for _, o, _ in matched}
    free = [o for o in officers if id(o) not in busy]
    waits = {asyncio.ensure_future(_expect(o, "call_offer")): o for o in free}
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    task = done.pop()
    return waits[task], task.result()


async def _echo_handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, max_msg_size=64 * 1024)
    await ws.prepare(request)
    async for frame in ws:
        if frame.type is aiohttp.WSMsgType.TEXT:
            await ws.send_str(frame.data)
    return ws


async def _baseline(sockets: list, count: int, text: str) -> tuple[float, int]:
    async def stream(ws) -> None:
        for _ in range(count // 2 * 2):
            await ws.send_str(text)
            frame = await ws.receive()
            if frame.type is not aiohttp.WSMsgType.TEXT:
                raise ConnectionError("echo stream closed")

    started = time.perf_counter()
    await asyncio.gather(*(stream(ws) for ws in sockets))
    return time.perf_counter() - started, len(sockets) * (count // 2) * 2


async def run(quick: bool) -> dict:
    # 9 rounds: single 5-round runs of the same code spread 0.67-0.78 on the shared 2-core VM (2026-12-01).
    pairs, count, rounds = (4, 400, 2) if quick else (10, 2000, 9)
    config = test_config(messages_per_second=1e9, message_burst=10**9)
    echo_app = web.Application()
    echo_app.router.add_get("/echo", _echo_handler)
    runner = web.AppRunner(echo_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    echo_url = f"ws://127.0.0.1:{runner.addresses[0][1]}/echo"
    text = p.encode(
        p.IceCandidate(call_id="0123456789abcdef", candidate=CANDIDATE, sdp_mid="0", sdp_mline_index=0)
    )
    ours: list[float] = []
    bare: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="madoguchi-bench-") as tmp:
            async with (
                EmbeddedServer(config, Path(tmp) / "relay.sqlite3") as server,
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
            ):
                creds = provision(
                    server.store,
                    config,
                    kiosk_ids=[f"relay-kiosk-{i}" for i in range(pairs)],
                    officers=[f"relay-officer-{i}" for i in range(pairs)],
                )
                streams = await _set_up_calls(session, server.url, creds, pairs)
                sockets = [await session.ws_connect(echo_url, compress=0) for _ in range(pairs)]
                await _ours(streams, 20)  # warm-up
                await _baseline(sockets, 20, text)
                for _ in range(rounds):
                    elapsed, n = await _ours(streams, count)
                    ours.append(n / elapsed)
                    elapsed, n = await _baseline(sockets, count, text)
                    bare.append(n / elapsed)
                for ws in (*sockets, *(k for k, _, _ in streams), *(o for _, o, _ in streams)):
                    await ws.close()
    finally:
        await runner.cleanup()
    return ratio_result(
        "signaling relay (ice_candidate, within calls)",
        median(ours),
        median(bare),
        "msg/s",
        goal=GOAL,
        higher_is_better=True,
        details={
            "streams": pairs,
            "messages_per_stream": count,
            "rounds": rounds,
            "ours_msg_s": [round(v) for v in ours],
            "baseline_msg_s": [round(v) for v in bare],
        },
    )


if __name__ == "__main__":
    sys.exit(bench_main(__doc__.splitlines()[0], run))
