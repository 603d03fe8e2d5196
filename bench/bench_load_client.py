"""The load simulator's client CPU per sign-in (``simulator/load/wsclient.py``) against aiohttp's client.

When a node of a 20,000-kiosk run is killed some 10,000 clients reconnect at once, and the simulator's
workers share the machine's cores with the surviving nodes whose resume the run measures: with aiohttp's
client they took 60 % of the two cores in the 10 s after the kill. What each side does here is one
sign-in's worth of a load client: open the websocket (TCP, the upgrade), send a hello-sized text, read the
answer, and at the end close. The server (aiohttp, echoing) runs in another process so that the CPU
measured (``time.process_time`` of this process) is the clients' alone. Rounds alternate; medians
compared. Goal: ours signs in at least 1.5x as many clients per CPU-second as aiohttp's client (measured
1.7-1.9x on the 2-core VM: what is left is asyncio's own connection and transport set-up).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

try:
    from bench.common import ROOT, bench_main, median, ratio_result
except ModuleNotFoundError:  # run as a script
    from common import ROOT, bench_main, median, ratio_result  # type: ignore[no-redef]

from simulator.load.wsclient import connect

GOAL = 1.5
CONCURRENCY = 50  # the simulator's handshakes in flight per worker (``connect_concurrency``)
HELLO = '{"type":"hello","v":1,"role":"kiosk","app_version":"load-sim","credentials":' + '"x"' * 40 + "}"

SERVER = """
import asyncio, sys
from aiohttp import web

async def echo(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        await ws.send_str(message.data)
    return ws

async def main():
    app = web.Application()
    app.router.add_get("/ws", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def _ours(url: str) -> Callable[[], Awaitable[None]]:
    ws = await connect(url)
    await ws.send_str(HELLO)
    if (await ws.receive(timeout=30)).data != HELLO:
        raise RuntimeError("the echo did not come back")
    return ws.close


def _aiohttp(session: aiohttp.ClientSession) -> Callable[[str], Awaitable[Callable[[], Awaitable[Any]]]]:
    async def sign_in(url: str) -> Callable[[], Awaitable[Any]]:
        ws = await session.ws_connect(url, max_msg_size=1 << 20, compress=0, autoping=True)
        await ws.send_str(HELLO)
        if (await ws.receive(timeout=30)).data != HELLO:
            raise RuntimeError("the echo did not come back")
        return ws.close

    return sign_in


async def _round(url: str, clients: int, ours: bool) -> float:
    """CPU seconds this process spent signing ``clients`` in and closing them."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=False))
    sign_in = _ours if ours else _aiohttp(session)
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one() -> Callable[[], Awaitable[Any]]:
        async with slots:
            return await sign_in(url)

    try:
        began = time.process_time()
        closers = await asyncio.gather(*(one() for _ in range(clients)))
        await asyncio.gather(*(close() for close in closers))
        return time.process_time() - began
    finally:
        await session.close()


async def run(quick: bool) -> dict[str, Any]:
    clients, rounds = (200, 1) if quick else (2_000, 3)
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    try:
        assert server.stdout is not None
        port = int(await asyncio.wait_for(server.stdout.readline(), 60))
        url = f"ws://127.0.0.1:{port}/ws"
        measured: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for ours in (False, True):
                measured[ours].append(await _round(url, clients, ours))
    finally:
        server.terminate()
        await server.wait()
    return ratio_result(
        "load client sign-ins per CPU-second",
        clients / median(measured[True]),
        clients / median(measured[False]),
        "sign-ins/s",
        goal=GOAL,
        higher_is_better=True,
        details={
            "clients": clients,
            "rounds": rounds,
            "concurrency": CONCURRENCY,
            "ours_cpu_s": [round(s, 3) for s in measured[True]],
            "aiohttp_cpu_s": [round(s, 3) for s in measured[False]],
        },
    )


def main(argv: list[str] | None = None) -> int:
    return bench_main(__doc__ or "", run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
