"""Heartbeat ingestion and dashboard latency of one server process with a fleet of simulated kiosks.

The server (with monitoring) runs in a child process so that its CPU time is measured alone; this process
drives N websocket kiosks. Every figure is paired with a baseline measured in the same run on the same
connections: a Ping/Pong round trip.

- cpu_per_ping_us: server CPU per Ping/Pong (the baseline);
- cpu_per_heartbeat_us: server CPU per Heartbeat (a heartbeat+ping round minus a ping round), and its ratio;
- steady: N kiosks each sending a heartbeat and a ping every --interval seconds (as TelemetryReporter does)
  for --steady-s seconds: the server's share of one core, against the goal (< 5 %);
- burst: heartbeats sent as fast as the clients can, the server-side ingestion rate;
- dashboard: a signed-in IT dashboard's event stream; time from a kiosk's heartbeat with a changed device to
  the "kiosks" event carrying it (includes the coalescing delay, dashboard_flush_s), and the /it/api/fleet
  snapshot of the whole fleet.

    .venv/bin/python bench/bench_heartbeat.py --json [--kiosks 500]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from remote_call import protocol as p

IT_USER = "bench-it"
IT_PASSWORD = "bench it password"
FLUSH_S = 0.25  # MonitoringSettings.dashboard_flush_s (the default)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# ---------------------------------------------------------------------- server child process


async def serve(kiosks: int, workdir: str) -> None:
    from signaling_server.auth import hash_password
    from signaling_server.embedded import EmbeddedServer, provision
    from signaling_server.monitoring import setup_monitoring
    from signaling_server.testing import test_config

    logging.basicConfig(level=logging.ERROR)  # alerts raised by the benchmark's own changes are expected
    config = test_config(messages_per_second=1000.0, message_burst=1000)
    server = EmbeddedServer(config, Path(workdir) / "bench.sqlite3")
    ids = [f"bench-{i:04d}" for i in range(kiosks)]
    fleet = provision(server.store, config, kiosk_ids=ids, officers=[])
    server.store.add_officer(IT_USER, IT_USER, "it_admin", hash_password(IT_PASSWORD), {})
    setup_monitoring(server.app)
    async with server:
        print(
            json.dumps({"url": server.url, "http_url": server.http_url, "tokens": fleet.kiosk_tokens}),
            flush=True,
        )
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it


# ---------------------------------------------------------------------- the fleet


class Kiosk:
    def __init__(self, kiosk_id: str, ws: aiohttp.ClientWebSocketResponse):
        self.kiosk_id = kiosk_id
        self.ws = ws
        self.pongs: dict[int, asyncio.Future[float]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type is aiohttp.WSMsgType.TEXT and '"pong"' in frame.data:
                nonce = json.loads(frame.data)["nonce"]
                future = self.pongs.pop(nonce, None)
                if future is not None and not future.done():
                    future.set_result(time.perf_counter())

    def ping(self, nonce: int) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.pongs[nonce] = future
        return future


def heartbeat(index: int, printer: str = "ok") -> str:
    return p.encode(
        p.Heartbeat(
            app_version="1.4.2",
            uptime_s=3600 + index,
            os="Linux 6.1",
            cpu_percent=12.0,
            memory_percent=40.0,
            disk_percent=60.0,
            rtt_ms=5.0 + index % 20,
            devices={
                "camera": p.DeviceStatus(status="ok"),
                "microphone": p.DeviceStatus(status="ok"),
                "speaker": p.DeviceStatus(status="ok"),
                "scanner": p.DeviceStatus(status="ok"),
                "printer": p.DeviceStatus(status=printer, detail="" if printer == "ok" else "paper_near_end"),
            },
        )
    )


async def connect(session: aiohttp.ClientSession, url: str, tokens: dict[str, str]) -> list[Kiosk]:
    async def one(kiosk_id: str, token: str) -> Kiosk:
        ws = await session.ws_connect(url)
        hello = p.Hello(
            v=p.PROTOCOL_VERSION,
            role=p.Role.KIOSK,
            credentials=p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=token),
        )
        await ws.send_str(p.encode(hello))
        welcome = await ws.receive(timeout=30)
        if '"welcome"' not in welcome.data:
            raise RuntimeError(f"{kiosk_id} was not welcomed: {welcome.data[:200]}")
        return Kiosk(kiosk_id, ws)

    fleet = []
    items = list(tokens.items())
    for start in range(0, len(items), 50):  # connect in batches
        fleet += await asyncio.gather(*(one(k, t) for k, t in items[start : start + 50]))
    return fleet


async def round_trip(fleet: list[Kiosk], nonce: int, with_heartbeat: bool) -> None:
    waits = []
    for i, kiosk in enumerate(fleet):
        if with_heartbeat:
            await kiosk.ws.send_str(heartbeat(i))
        waits.append(kiosk.ping(nonce))
        await kiosk.ws.send_str(p.encode(p.Ping(nonce=nonce)))
    await asyncio.wait_for(asyncio.gather(*waits), 60)


def cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


async def measure_rounds(
    proc: psutil.Process, fleet: list[Kiosk], rounds: int, heartbeat_too: bool, base: int
) -> float:
    before = cpu(proc)
    for r in range(rounds):
        await round_trip(fleet, base + r, heartbeat_too)
    return cpu(proc) - before


# ---------------------------------------------------------------------- dashboard


class Dashboard:
    def __init__(self, response: aiohttp.ClientResponse):
        self.response = response
        self.fleet_size = 0
        self.waiters: dict[tuple[str, str], asyncio.Future[float]] = {}
        self.events = 0
        self.reader = asyncio.create_task(self._read())
        self.ready = asyncio.Event()

    async def _read(self) -> None:
        event = ""
        async for line in _lines(self.response):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                self.events += 1
                if event == "fleet":
                    self.fleet_size = len(data["kiosks"])
                    self.ready.set()
                elif event == "kiosks":
                    arrived = time.perf_counter()
                    for kiosk in data:
                        printer = kiosk["devices"].get("printer", {}).get("status")
                        future = self.waiters.pop((kiosk["id"], printer), None)
                        if future is not None and not future.done():
                            future.set_result(arrived)


async def _lines(response: aiohttp.ClientResponse):
    """Lines of an event stream, however long (the fleet snapshot of 500 kiosks is one ~0.5 MB line)."""
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line.decode()


async def dashboard_latency(
    http: aiohttp.ClientSession, base: str, fleet: list[Kiosk], samples: int
) -> dict[str, Any]:
    form = {"username": IT_USER, "password": IT_PASSWORD}
    async with http.post(base + "/it/login", data=form, allow_redirects=False) as r:
        if r.status != 303 or "error" in r.headers.get("Location", ""):
            raise RuntimeError(f"dashboard login failed: {r.status} {r.headers.get('Location')}")
    started = time.perf_counter()
    async with http.get(base + "/it/api/fleet") as r:
        body = await r.read()
    fleet_ms = (time.perf_counter() - started) * 1000
    response = await http.get(base + "/it/api/events", timeout=aiohttp.ClientTimeout(total=None))
    board = Dashboard(response)
    await asyncio.wait_for(board.ready.wait(), 30)
    latencies = []
    for n in range(samples):
        kiosk = fleet[(n * 37) % len(fleet)]
        index = fleet.index(kiosk)
        for printer in ("degraded", "ok"):  # a change, then back
            future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            board.waiters[(kiosk.kiosk_id, printer)] = future
            sent = time.perf_counter()
            await kiosk.ws.send_str(heartbeat(index, printer))
            arrived = await asyncio.wait_for(future, 10)
            latencies.append((arrived - sent) * 1000)
    board.reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await board.reader
    response.close()
    latencies.sort()
    return {
        "fleet_snapshot_ms": round(fleet_ms, 1),
        "fleet_snapshot_kb": round(len(body) / 1024, 1),
        "fleet_in_first_event": board.fleet_size,
        "update_samples": len(latencies),
        "update_median_ms": round(statistics.median(latencies), 1),
        "update_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
    }


async def browser_latency(base: str, fleet: list[Kiosk], samples: int) -> dict[str, Any]:
    """The real page in headless Chromium: load with the whole fleet, then heartbeat → card repainted."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1600, "height": 1000})
            await page.goto(base + "/it/login")
            await page.fill("#username", IT_USER)
            await page.fill("#password", IT_PASSWORD)
            started = time.perf_counter()
            await page.click("#login")
            await page.wait_for_selector("body[data-loaded='1']", timeout=60_000)
            load_ms = (time.perf_counter() - started) * 1000
            cards = await page.locator("article.kiosk").count()
            latencies: list[float] = []
            applies: list[float] = []
            for n in range(samples):
                index = (n * 53 + 7) % len(fleet)
                kiosk = fleet[index]
                for printer, state in (("degraded", "degraded"), ("ok", "online")):
                    sent = time.perf_counter()
                    await kiosk.ws.send_str(heartbeat(index, printer))
                    selector = f"article[data-kiosk-id='{kiosk.kiosk_id}'][data-state='{state}']"
                    await page.wait_for_selector(selector, state="attached", timeout=10_000)
                    latencies.append((time.perf_counter() - sent) * 1000)
                    applies.append(float(await page.evaluate("document.body.dataset.applyMs")))
        finally:
            await browser.close()
    latencies.sort()
    return {
        "cards": cards,
        "login_to_rendered_ms": round(load_ms, 1),
        "update_samples": len(latencies),
        "update_median_ms": round(statistics.median(latencies), 1),
        "update_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "apply_event_median_ms": round(statistics.median(applies), 1),  # the page's own JS time per event
    }


# ---------------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = tempfile.mkdtemp(prefix="bench-heartbeat-")
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--kiosks", str(args.kiosks), "--workdir", workdir],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        line = await asyncio.get_running_loop().run_in_executor(None, child.stdout.readline)
        if not line:
            raise RuntimeError("the server child process did not start")
        info = json.loads(line)
        proc = psutil.Process(child.pid)
        connector = aiohttp.TCPConnector(limit=0)
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as http:
            started = time.perf_counter()
            fleet = await connect(http, info["url"], info["tokens"])
            connect_s = time.perf_counter() - started
            await round_trip(fleet, 1, True)  # warm up: every kiosk known to the registry
            rounds = args.rounds
            ping_cpu = await measure_rounds(proc, fleet, rounds, False, 1000)
            both_cpu = await measure_rounds(proc, fleet, rounds, True, 2000)
            n = rounds * len(fleet)
            per_ping = ping_cpu / n
            per_heartbeat = max(0.0, both_cpu / n - per_ping)
            # Steady state: each kiosk a heartbeat and a ping every interval, spread evenly.
            before, wall = cpu(proc), time.perf_counter()
            rtts: list[float] = []
            nonce = 10_000
            gap = args.interval / len(fleet)
            deadline = wall + args.steady_s
            i = 0
            pending: list[tuple[float, asyncio.Future[float]]] = []
            while time.perf_counter() < deadline:
                kiosk = fleet[i % len(fleet)]
                await kiosk.ws.send_str(heartbeat(i % len(fleet)))
                nonce += 1
                pending.append((time.perf_counter(), kiosk.ping(nonce)))
                await kiosk.ws.send_str(p.encode(p.Ping(nonce=nonce)))
                i += 1
                await asyncio.sleep(max(0.0, wall + i * gap - time.perf_counter()))
            for sent, future in pending:
                rtts.append((await asyncio.wait_for(future, 30) - sent) * 1000)
            steady_wall = time.perf_counter() - wall
            steady_cpu = cpu(proc) - before
            # Burst: as fast as the clients can send.
            burst = args.burst
            before, t0 = cpu(proc), time.perf_counter()
            for _ in range(burst):
                for j, kiosk in enumerate(fleet):
                    await kiosk.ws.send_str(heartbeat(j))
            await round_trip(fleet, 99_999, False)
            burst_wall = time.perf_counter() - t0
            burst_cpu = cpu(proc) - before
            dashboard = await dashboard_latency(http, info["http_url"], fleet, args.dashboard_samples)
            browser = None
            if not args.no_browser and Path(CHROMIUM).exists():
                browser = await browser_latency(info["http_url"], fleet, args.dashboard_samples)
            for kiosk in fleet:
                await kiosk.ws.close()
                kiosk.reader.cancel()
        rtts.sort()
        steady_share = steady_cpu / steady_wall
        return {
            "kiosks": len(fleet),
            "connect_s": round(connect_s, 2),
            "baseline": {"cpu_per_ping_us": round(per_ping * 1e6, 1), "rounds": rounds},
            "cpu_per_heartbeat_us": round(per_heartbeat * 1e6, 1),
            "heartbeat_to_ping_cpu_ratio": round(per_heartbeat / per_ping, 2) if per_ping else None,
            "steady": {
                "interval_s": args.interval,
                "seconds": round(steady_wall, 1),
                "heartbeats": i,
                "server_core_share_pct": round(100 * steady_share, 2),
                "goal_pct": 5.0,
                "meets_goal": steady_share < 0.05,
                "ping_rtt_median_ms": round(statistics.median(rtts), 2),
                "ping_rtt_p95_ms": round(rtts[int(0.95 * (len(rtts) - 1))], 2),
            },
            "burst": {
                "heartbeats": burst * len(fleet),
                "wall_s": round(burst_wall, 2),
                "ingest_per_s": round(burst * len(fleet) / burst_wall),
                "server_cpu_per_heartbeat_us": round(burst_cpu / (burst * len(fleet)) * 1e6, 1),
                "one_core_capacity_per_s": round(burst * len(fleet) / burst_cpu) if burst_cpu else None,
            },
            "dashboard": dashboard,
            "browser": browser,
            "dashboard_update_to_ping_rtt_ratio": round(
                dashboard["update_median_ms"] / statistics.median(rtts), 1
            ),
            "dashboard_flush_s": FLUSH_S,
            "dashboard_update_beyond_flush_median_ms": round(
                dashboard["update_median_ms"] - FLUSH_S * 1000, 1
            ),
        }
    finally:
        if child.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
        for name in os.listdir(workdir):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(workdir, name))
        with contextlib.suppress(OSError):
            os.rmdir(workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kiosks", type=int, default=500)
    parser.add_argument(
        "--rounds", type=int, default=30, help="rounds for the ping and heartbeat CPU figures"
    )
    parser.add_argument("--interval", type=float, default=10.0, help="steady-state heartbeat interval (s)")
    parser.add_argument("--steady-s", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=10, help="heartbeats per kiosk in the burst")
    parser.add_argument("--dashboard-samples", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true", help="skip the headless Chromium figures")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.kiosks < 1:
        parser.error("--kiosks must be at least 1")
    if args.serve:
        asyncio.run(serve(args.kiosks, args.workdir))
        return
    result = asyncio.run(run(args))
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
