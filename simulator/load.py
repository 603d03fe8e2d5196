"""Signaling-only load: thousands of raw-protocol kiosks and officers against one server process.

`madoguchi-sim --signaling-only` runs this. The signaling server runs as a separate process
(`python -m signaling_server.cli`) on a free loopback port with a temporary configuration and database
(credentials provisioned into it first). Kiosks and officers are lightweight websocket clients speaking the
wire protocol with plain JSON (no media, no pydantic on the receive path), spread over one or more worker
processes. Every call follows the real sequence: ``request_call`` → officer ``call_offer`` → ``accept_call``
→ both ``call_connecting`` → the kiosk sends an SDP offer (~3 KB), the officer answers, both send
``media_connected`` → ``call_started`` → after ``call_seconds`` the officer ends it → both ``call_ended``;
the officer then sets itself available again.

Timestamps are ``time.monotonic()`` (CLOCK_MONOTONIC, shared by every process on the machine), so a
request sent in one worker and the ring received in another give a valid routing time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import random
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from config import load_config
from config.loader import default_config_path
from config.schema import AppConfig, CounterKind
from remote_call import protocol as p
from signaling_server.ratelimit import TokenBucket

MAX_ERRORS = 50
HELLO_TIMEOUT_S = 120.0  # officer sign-in is argon2, deliberately slow; hundreds queue behind each other


@dataclass
class LoadOptions:
    kiosks: int = 50
    officers: int = 10
    calls: int = 50
    call_seconds: float = 0.0
    workers: int = 0  # 0: chosen from the fleet size
    connect_concurrency: int = 50  # kiosk handshakes in flight per worker
    login_concurrency: int = 4  # officer sign-ins (argon2 on the server) in flight per worker
    ice_candidates: int = 0  # trickled candidates each party sends per call (aiortc peers send none)
    sdp_bytes: int = 3000
    call_timeout_s: float = 600.0
    ready_timeout_s: float = 600.0
    seed: int | None = None
    config_path: str | None = None
    respect_hours: bool = False
    max_queue: int = 10_000
    max_in_flight: int = 0  # calls placed at once across the fleet; 0: every kiosk calls at once (a burst)
    officer_auth: str = "password"  # "password" (argon2 sign-in) or "session" (reconnect with its token)

    def __post_init__(self) -> None:
        if self.kiosks < 1 or self.officers < 1:
            raise ValueError("a load run needs at least one kiosk and one officer")
        if self.calls < 0:
            raise ValueError(f"calls must be at least 0, got {self.calls}")
        if self.call_seconds < 0:
            raise ValueError(f"call_seconds must be at least 0, got {self.call_seconds}")
        if self.workers < 0:
            raise ValueError(f"workers must be at least 0 (0: automatic), got {self.workers}")
        if not 200 <= self.sdp_bytes <= 40_000:
            raise ValueError(f"sdp_bytes must be between 200 and 40000, got {self.sdp_bytes}")
        if self.officer_auth not in ("password", "session"):
            raise ValueError(f"officer_auth must be 'password' or 'session', got {self.officer_auth!r}")
        if not 0 <= self.ice_candidates <= 20:
            raise ValueError(f"ice_candidates must be between 0 and 20, got {self.ice_candidates}")
        if self.max_in_flight < 0:
            raise ValueError(f"max_in_flight must be at least 0 (0: no limit), got {self.max_in_flight}")
        if not 1 <= self.max_queue <= 10_000:
            raise ValueError(f"max_queue must be between 1 and 10000, got {self.max_queue}")

    def worker_count(self) -> int:
        if self.workers:
            return self.workers
        return 1 if self.kiosks + self.officers <= 1000 else 2


# ----------------------------------------------------------------------------- server side


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (inherited by child processes); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_ALL_DAY = '["00:00-24:00"]'
_OPEN_ALWAYS = (
    "hours = { " + ", ".join(f"{d} = {_ALL_DAY}" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    + ", closed_on_public_holidays = false, closed_new_year = false, last_join_minutes_before_close = 0 }"
)


def load_config_text(base_text: str, *, port: int, database: str, always_open: bool = True,
                     max_queue: int = 10_000) -> str:
    """The base TOML adjusted for a load run: [server] port and database, every department open all day
    (unless ``always_open`` is false) and a queue long enough for the whole fleet."""
    lines = base_text.splitlines()
    out: list[str] = []
    table = ""
    server_seen = False
    for line in lines:
        stripped = line.strip()
        header = re.match(r"^\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?", stripped)
        if header:
            table = header.group(1)
            out.append(line)
            if stripped == "[server]":
                server_seen = True
                out.append(f"port = {port}")
                out.append(f"database = {json.dumps(database)}")
            elif stripped == "[[departments]]":
                out.append(f"max_queue = {max_queue}")
                if always_open:
                    out.append(_OPEN_ALWAYS)
            continue
        if table == "server" and re.match(r"^(port|database)\s*=", stripped):
            continue
        if table == "departments" and re.match(r"^max_queue\s*=", stripped):
            continue
        if always_open and table == "departments" and re.match(r"^hours\s*=", stripped):
            continue
        if always_open and table.startswith("departments.hours"):
            raise ValueError("the base configuration has a [departments.hours] table; write hours inline "
                             "or run with --respect-hours")
        out.append(line)
    if not server_seen:  # a [server] table goes before the first table (after the top-level keys)
        first = next((i for i, ln in enumerate(out) if ln.strip().startswith("[")), len(out))
        out[first:first] = ["[server]", f"port = {port}", f"database = {json.dumps(database)}", ""]
    return "\n".join(out) + "\n"


class ServerProcess:
    """`madoguchi-server` in a child process with a temporary config and database; its RSS is sampled."""

    def __init__(self, workdir: Path, options: LoadOptions, kiosk_ids: list[str], officers: list[str]):
        self.workdir = workdir
        self.options = options
        self.port = free_port()
        self.database = str(workdir / "load.sqlite3")
        self.config_file = workdir / "load.toml"
        base = Path(options.config_path) if options.config_path else default_config_path()
        text = load_config_text(base.read_text(encoding="utf-8"), port=self.port, database=self.database,
                                always_open=not options.respect_hours, max_queue=options.max_queue)
        self.config_file.write_text(text, encoding="utf-8")
        self.config: AppConfig = load_config(self.config_file)
        self.kiosk_ids = kiosk_ids
        self.officer_names = officers
        self.credentials = self._provision()
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.http = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.ps: psutil.Process | None = None
        self.samples: list[tuple[float, int, float]] = []  # (monotonic, rss bytes, cpu seconds)
        self._stop_sampling = threading.Event()
        self._sampler: threading.Thread | None = None
        self.log_file = workdir / "server.log"

    def _provision(self):
        from signaling_server.auth import new_token, token_hash
        from signaling_server.embedded import provision
        from signaling_server.store import Store

        store = Store(self.database)
        try:
            fleet = provision(store, self.config, kiosk_ids=self.kiosk_ids, officers=self.officer_names)
            self.officer_sessions: dict[str, str] = {}
            if self.options.officer_auth == "session":  # as a console reconnecting after its first sign-in
                expires = time.time() + self.config.server.session_ttl_s
                for name in self.officer_names:
                    token = new_token()
                    store.add_session(token_hash(token), name, expires)
                    self.officer_sessions[name] = token
            return fleet
        finally:
            store.close()

    def start(self, timeout_s: float = 30.0) -> None:
        log = open(self.log_file, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signaling_server.cli", "--config", str(self.config_file),
             "--port", str(self.port), "--database", self.database, "--log-level", "WARNING"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
        )
        self.ps = psutil.Process(self.proc.pid)
        self._sampler = threading.Thread(target=self._sample, name="server-rss", daemon=True)
        self._sampler.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.proc.returncode}: {self.log_tail()}")
            with contextlib.suppress(OSError):
                self.health()
                return
            time.sleep(0.05)  # polling a child process's port, not test synchronisation
        raise RuntimeError(f"the server did not answer /healthz within {timeout_s:.0f} s: {self.log_tail()}")

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.http}/healthz", timeout=5) as response:
            return json.loads(response.read())

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 2**20 if self.ps else 0.0

    def cpu_s(self) -> float:
        if not self.ps:
            return 0.0
        times = self.ps.cpu_times()
        return times.user + times.system

    def _sample(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                times = self.ps.cpu_times()
                self.samples.append((time.monotonic(), self.ps.memory_info().rss, times.user + times.system))
            if self._stop_sampling.wait(0.1):
                return

    def peak_rss_mb(self, start: float = 0.0, end: float = float("inf")) -> float:
        """The highest RSS sampled between two monotonic times (MiB)."""
        return max((rss for t, rss, _ in self.samples if start <= t <= end), default=0) / 2**20

    def cpu_percent(self, start: float, end: float) -> float | None:
        """The server's CPU use between two monotonic times, in % of one core."""
        window = [(t, cpu) for t, _, cpu in self.samples if start <= t <= end]
        if len(window) < 2 or window[-1][0] <= window[0][0]:
            return None
        return 100 * (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])

    def log_tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log_file.read_text(errors="replace")[-chars:]
        return ""

    def stop(self) -> int | None:
        self._stop_sampling.set()
        if self._sampler:
            self._sampler.join()
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    code = self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    code = self.proc.wait()
            else:
                code = self.proc.returncode
        with contextlib.suppress(Exception):
            self._log.close()
        return code


# ----------------------------------------------------------------------------- fake SDP


def fake_sdp(kind: str, seed: int, size: int = 3000) -> str:
    """A realistic-looking SDP (audio + video, codecs, ICE, DTLS fingerprint, host candidates) of about
    ``size`` bytes. Never parsed by the server: it is relayed unchanged."""
    rng = random.Random(seed)
    hexes = ":".join(f"{rng.randrange(256):02X}" for _ in range(32))
    ufrag = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
    pwd = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))
    setup = "actpass" if kind == "offer" else "active"
    lines = [
        "v=0", f"o=- {rng.randrange(10**15)} 0 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
        "a=msid-semantic:WMS *",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8", "c=IN IP4 0.0.0.0", "a=sendrecv", "a=mid:0",
        "a=msid:audio-" + ufrag + " " + pwd[:12], "a=rtcp:9 IN IP4 0.0.0.0", "a=rtcp-mux",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=rtpmap:111 opus/48000/2", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
        f"a=ssrc:{rng.randrange(2**32)} cname:{pwd[:16]}",
    ]
    video = [
        "m=video 9 UDP/TLS/RTP/SAVPF 97 98 99 100 101 102", "c=IN IP4 0.0.0.0", "a=sendrecv", "a=mid:1",
        "a=msid:video-" + ufrag + " " + pwd[12:], "a=rtcp:9 IN IP4 0.0.0.0", "a=rtcp-mux",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "a=rtpmap:97 VP8/90000", "a=rtcp-fb:97 nack", "a=rtcp-fb:97 nack pli", "a=rtcp-fb:97 goog-remb",
        "a=rtpmap:98 rtx/90000", "a=fmtp:98 apt=97",
        "a=rtpmap:99 H264/90000", "a=rtcp-fb:99 nack", "a=rtcp-fb:99 nack pli", "a=rtcp-fb:99 goog-remb",
        "a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
        "a=rtpmap:100 rtx/90000", "a=fmtp:100 apt=99",
        "a=rtpmap:101 H264/90000", "a=rtcp-fb:101 nack", "a=rtcp-fb:101 nack pli",
        "a=fmtp:101 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        "a=rtpmap:102 rtx/90000", "a=fmtp:102 apt=101",
    ]
    ssrc = rng.randrange(2**32)
    video += [f"a=ssrc-group:FID {ssrc} {ssrc + 1}", f"a=ssrc:{ssrc} cname:{pwd[:16]}",
              f"a=ssrc:{ssrc + 1} cname:{pwd[:16]}"]
    common = [f"a=ice-ufrag:{ufrag}", f"a=ice-pwd:{pwd}", f"a=fingerprint:sha-256 {hexes}",
              f"a=setup:{setup}"]
    body = lines + common + video + common
    port = 40000 + rng.randrange(20000)
    while len("\r\n".join(body)) < size - 120:
        port += 1
        body.append(f"a=candidate:{rng.randrange(2**31)} 1 udp {2130706431 - len(body)} "
                    f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)} {port} typ host")
    body.append("a=end-of-candidates")
    return "\r\n".join(body) + "\r\n"


# ----------------------------------------------------------------------------- clients (worker side)


@dataclass
class KioskCall:
    """One call as the kiosk saw it."""

    kiosk: str
    department: str
    requested_at: float
    call_id: str = ""
    started: bool = False
    end_reason: str | None = None  # None: never told how the call ended
    error: str | None = None
    connecting_at: float | None = None
    answer_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None


@dataclass
class WorkerStats:
    messages_sent: int = 0
    messages_received: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    paced: int = 0  # sends delayed to stay under the server's rate limit

    def error(self, text: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(text)


class _Client:
    """A raw websocket client: sends encoded protocol messages (paced below the server's per-connection
    rate limit, as a well-behaved client must), dispatches received JSON by type."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, identity: str, stats: WorkerStats,
                 rate: tuple[float, int]):
        self.ws = ws
        self.identity = identity
        self.stats = stats
        self.reader: asyncio.Task | None = None
        self.bucket = TokenBucket(*rate)

    async def send(self, message: p.Wire) -> None:
        await self.send_raw(p.encode(message))

    async def send_raw(self, text: str) -> None:
        while not self.bucket.allow():
            self.stats.paced += 1
            await asyncio.sleep(self.bucket.retry_after())  # pacing under the rate limit
        self.stats.messages_sent += 1
        await self.ws.send_str(text)

    async def run(self) -> None:
        try:
            async for frame in self.ws:
                if frame.type is not aiohttp.WSMsgType.TEXT:
                    continue
                self.stats.messages_received += 1
                data = json.loads(frame.data)
                kind = data.get("type", "?")
                self.stats.by_type[kind] = self.stats.by_type.get(kind, 0) + 1
                try:
                    await self.on_message(kind, data)
                except (ConnectionError, RuntimeError) as exc:
                    self.stats.error(f"{self.identity}: sending failed: {exc}")
        finally:
            self.on_closed()

    async def on_message(self, kind: str, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def on_closed(self) -> None:
        pass


class _Kiosk(_Client):
    def __init__(self, ws, identity, stats, rate, options: LoadOptions):
        super().__init__(ws, identity, stats, rate)
        self.options = options
        self.call: KioskCall | None = None
        self.done: asyncio.Future | None = None

    def begin(self, call: KioskCall) -> asyncio.Future:
        self.call = call
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def _finish(self, reason: str) -> None:
        if self.call is not None:
            self.call.end_reason = reason
        if self.done is not None and not self.done.done():
            self.done.set_result(reason)

    async def on_message(self, kind: str, data: dict[str, Any]) -> None:
        call = self.call
        if kind == "error":
            self.stats.error(f"{self.identity}: server error {data.get('code')}: {data.get('detail')}")
            return
        if call is None:
            return
        if kind == "queued":
            call.call_id = call.call_id or data["call_id"]
        elif kind == "call_refused":
            call.error = f"refused: {data.get('reason')}"
            self._finish(f"refused:{data.get('reason')}")
        elif kind == "call_connecting":
            call.call_id = data["call_id"]
            call.connecting_at = time.monotonic()
            sdp = fake_sdp("offer", zlib.crc32(data["call_id"].encode()), self.options.sdp_bytes)
            await self.send(p.SessionDescription(call_id=call.call_id, sdp_type="offer", sdp=sdp))
            for i in range(self.options.ice_candidates):
                await self.send(p.IceCandidate(call_id=call.call_id, sdp_mid="0", sdp_mline_index=0,
                                               candidate=f"candidate:{i} 1 udp 2130706431 10.0.0.{i + 1} "
                                                         f"{50000 + i} typ host"))
        elif kind == "sdp" and data.get("sdp_type") == "answer":
            call.answer_at = time.monotonic()
            await self.send(p.MediaConnected(call_id=data["call_id"]))
        elif kind == "call_started" and data.get("call_id") == call.call_id:
            call.started = True
            call.started_at = time.monotonic()
        elif kind == "call_ended" and data.get("call_id") == call.call_id:
            call.ended_at = time.monotonic()
            self._finish(data.get("reason", "?"))

    def on_closed(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError(f"{self.identity}: connection closed"))


class _Officer(_Client):
    def __init__(self, ws, identity, stats, rate, options: LoadOptions, rings: dict[str, float],
                 stages: dict[str, dict[str, float]]):
        super().__init__(ws, identity, stats, rate)
        self.options = options
        self.rings = rings
        self.stages = stages
        self.calls_ended = 0
        self.open_calls: set[str] = set()  # connecting or in a call, not yet told it ended
        self.state = "offline"  # the last officer_state the server sent
        self._timers: set[asyncio.TimerHandle] = set()

    async def on_message(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "call_offer":
            self.rings.setdefault(data["call_id"], time.monotonic())
            await self.send(p.AcceptCall(call_id=data["call_id"]))
        elif kind == "sdp" and data.get("sdp_type") == "offer":
            call_id = data["call_id"]
            self.stages.setdefault(call_id, {})["offer_at"] = time.monotonic()
            sdp = fake_sdp("answer", zlib.crc32(call_id.encode()) + 1, self.options.sdp_bytes)
            await self.send(p.SessionDescription(call_id=call_id, sdp_type="answer", sdp=sdp))
            for i in range(self.options.ice_candidates):
                await self.send(p.IceCandidate(call_id=call_id, sdp_mid="0", sdp_mline_index=0,
                                               candidate=f"candidate:{i} 1 udp 2130706431 10.1.0.{i + 1} "
                                                         f"{52000 + i} typ host"))
            await self.send(p.MediaConnected(call_id=call_id))
        elif kind == "call_started":
            call_id = data["call_id"]
            self.stages.setdefault(call_id, {})["started_at"] = time.monotonic()
            if self.options.call_seconds <= 0:
                await self._end(call_id)
            else:
                loop = asyncio.get_running_loop()
                handle = loop.call_later(self.options.call_seconds,
                                         lambda: asyncio.ensure_future(self._end(call_id)))
                self._timers.add(handle)
        elif kind == "call_ended":
            self.calls_ended += 1
            self.open_calls.discard(data["call_id"])
            self.stages.setdefault(data["call_id"], {})["ended_at"] = time.monotonic()
        elif kind == "call_connecting":
            self.open_calls.add(data["call_id"])
            self.stages.setdefault(data["call_id"], {})["connecting_at"] = time.monotonic()
        elif kind == "officer_state":
            self.state = data.get("state", "?")
            if self.state == "wrap_up":
                await self.send(p.SetStatus(status="available"))
        elif kind == "error":
            self.stats.error(f"{self.identity}: server error {data.get('code')}: {data.get('detail')}")

    async def _end(self, call_id: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(p.EndCall(call_id=call_id, outcome="resolved", notes="load simulation"))

    def on_closed(self) -> None:
        for handle in self._timers:
            handle.cancel()


async def _handshake(session: aiohttp.ClientSession, url: str, hello: p.Hello,
                     stats: WorkerStats) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(url, max_msg_size=1 << 20, compress=0, autoping=True)
    try:
        await ws.send_str(p.encode(hello))
        frame = await ws.receive(timeout=HELLO_TIMEOUT_S)
        if frame.type is not aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"no welcome (frame {frame.type.name}, close code {ws.close_code})")
        data = json.loads(frame.data)
        if data.get("type") != "welcome":
            raise ConnectionError(f"refused: {data.get('code')}: {data.get('detail')}")
        return ws
    except BaseException:
        await ws.close()
        raise


@dataclass
class WorkerAssignment:
    index: int
    url: str
    kiosks: dict[str, str]  # kiosk id -> token
    kiosk_calls: dict[str, int]  # kiosk id -> calls it places
    officers: dict[str, str]  # username -> password (or session token)
    departments: list[str]
    options: LoadOptions
    rate: tuple[float, int]  # what each client may send: (messages per second, burst)


class _Worker:
    def __init__(self, a: WorkerAssignment, report, start_calls, stop):
        self.a = a
        self.report = report
        self.start_calls = start_calls
        self.stop = stop
        self.stats = WorkerStats()
        self.rings: dict[str, float] = {}
        self.stages: dict[str, dict[str, float]] = {}  # officer side, by call id
        self.kiosks: list[_Kiosk] = []
        self.officers: list[_Officer] = []
        self.results: list[KioskCall] = []
        limit = a.options.max_in_flight
        share = max(1, round(limit * len(a.kiosks) / max(1, a.options.kiosks))) if limit else 0
        self.slots = asyncio.Semaphore(share) if share else None
        self.rng = random.Random(None if a.options.seed is None else a.options.seed * 1000 + a.index)

    async def _wait_event(self, event, timeout: float) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, event.wait, timeout)

    async def _connect_all(self, items, make, concurrency: int) -> tuple[float, float, int]:
        gate = asyncio.Semaphore(concurrency)
        started = time.monotonic()

        async def one(item):
            async with gate:
                try:
                    return await make(*item)
                except Exception as exc:
                    self.stats.error(f"{item[0]}: could not connect: {type(exc).__name__}: {exc}")
                    return None

        done = await asyncio.gather(*(one(item) for item in items))
        return started, time.monotonic(), sum(1 for d in done if d is not None)

    async def _kiosk(self, kiosk_id: str, token: str):
        hello = p.Hello(v=p.PROTOCOL_VERSION, role=p.Role.KIOSK, app_version="load-sim",
                        credentials=p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=token))
        ws = await _handshake(self.session, self.a.url, hello, self.stats)
        kiosk = _Kiosk(ws, kiosk_id, self.stats, self.a.rate, self.a.options)
        kiosk.reader = asyncio.create_task(kiosk.run())
        self.kiosks.append(kiosk)
        return kiosk

    async def _officer(self, username: str, secret: str):
        credentials = (p.SessionCredentials(token=secret) if self.a.options.officer_auth == "session"
                       else p.PasswordCredentials(username=username, password=secret))
        hello = p.Hello(v=p.PROTOCOL_VERSION, role=p.Role.OFFICER, app_version="load-sim",
                        credentials=credentials)
        ws = await _handshake(self.session, self.a.url, hello, self.stats)
        officer = _Officer(ws, username, self.stats, self.a.rate, self.a.options, self.rings, self.stages)
        officer.reader = asyncio.create_task(officer.run())
        self.officers.append(officer)
        await officer.send(p.SetStatus(status="available"))
        return officer

    async def _kiosk_loop(self, kiosk: _Kiosk, calls: int) -> None:
        for _ in range(calls):
            department = self.rng.choice(self.a.departments)
            call = KioskCall(kiosk=kiosk.identity, department=department, requested_at=time.monotonic())
            self.results.append(call)
            try:
                async with self.slots or contextlib.nullcontext():
                    call.requested_at = time.monotonic()
                    done = kiosk.begin(call)
                    await kiosk.send(p.RequestCall(department=department))
                    await asyncio.wait_for(done, self.a.options.call_timeout_s)
            except TimeoutError:
                call.error = "timed out waiting for the call to end"
            except Exception as exc:
                call.error = f"{type(exc).__name__}: {exc}"
            if call.error:
                self.stats.error(f"{kiosk.identity} call {call.call_id or '?'}: {call.error}")
            if kiosk.ws.closed:
                return

    async def run(self) -> None:
        a = self.a
        raise_fd_limit()
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        self.session = aiohttp.ClientSession(connector=connector)
        try:
            k0, k1, kn = await self._connect_all(list(a.kiosks.items()), self._kiosk,
                                                 a.options.connect_concurrency)
            o0, o1, on = await self._connect_all(list(a.officers.items()), self._officer,
                                                 a.options.login_concurrency)
            self.report.put(("ready", a.index, {"kiosks": kn, "officers": on, "kiosk_connect": [k0, k1],
                                                "officer_connect": [o0, o1]}))
            if not await self._wait_event(self.start_calls, a.options.ready_timeout_s):
                raise TimeoutError("never told to start the calls")
            self.stats.messages_sent = self.stats.messages_received = 0
            cpu0 = time.process_time()
            by_kiosk = {k.identity: k for k in self.kiosks}
            await asyncio.gather(*(self._kiosk_loop(by_kiosk[k], n) for k, n in a.kiosk_calls.items()
                                   if k in by_kiosk and n > 0))
            sent, received = self.stats.messages_sent, self.stats.messages_received
            self.report.put(("kiosks_done", a.index, {"at": time.monotonic(), "sent": sent,
                                                      "received": received,
                                                      "cpu_s": time.process_time() - cpu0}))
            await self._wait_event(self.stop, a.options.call_timeout_s + 60)
            # The officers' call_ended travels at the same time as the kiosks': let the last ones land and
            # the officers get back to available before hanging up.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(o.open_calls or o.state == "wrap_up"
                                                      for o in self.officers):
                await asyncio.sleep(0.02)
        except Exception as exc:
            self.stats.error(f"worker {a.index}: {type(exc).__name__}: {exc}")
            self.report.put(("failed", a.index, {"error": f"{type(exc).__name__}: {exc}"}))
        finally:
            await asyncio.gather(*(c.ws.close() for c in (*self.kiosks, *self.officers)),
                                 return_exceptions=True)
            for c in (*self.kiosks, *self.officers):
                if c.reader:
                    c.reader.cancel()
            await self.session.close()
            connected = {x.identity for x in self.kiosks}
            missing = [k for k, n in a.kiosk_calls.items() if n > 0 and k not in connected]
            for kiosk_id in missing:  # a kiosk that never connected: its calls were never placed
                for _ in range(a.kiosk_calls[kiosk_id]):
                    self.results.append(KioskCall(kiosk=kiosk_id, department="", requested_at=0.0,
                                                  error="the kiosk could not connect"))
            self.report.put(("result", a.index, {
                "calls": [asdict(c) for c in self.results],
                "rings": self.rings,
                "stages": self.stages,
                "officer_calls_ended": sum(o.calls_ended for o in self.officers),
                "officer_open_calls": sum(len(o.open_calls) for o in self.officers),
                "by_type": self.stats.by_type,
                "errors": self.stats.errors,
                "error_count": self.stats.error_count,
                "paced": self.stats.paced,
            }))


def _worker_main(assignment: WorkerAssignment, report, start_calls, stop) -> None:
    asyncio.run(_Worker(assignment, report, start_calls, stop).run())


# ----------------------------------------------------------------------------- orchestration


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {"p50": round(statistics.median(ordered), 2), "p95": round(rank(0.95), 2),
            "p99": round(rank(0.99), 2), "max": round(ordered[-1], 2)}


def _stage_breakdown(calls: list[dict], rings: dict[str, float],
                     stages: dict[str, dict[str, float]]) -> dict[str, float | None]:
    """The median time of each step of a call (ms), kiosk (k) and officer (o) clocks being the same."""
    steps: dict[str, list[float]] = {
        "request_to_ring": [], "ring_to_connecting_k": [], "connecting_k_to_offer_o": [],
        "offer_o_to_answer_k": [], "answer_k_to_started_k": [], "started_o_to_ended_k": [],
    }
    for c in calls:
        o = stages.get(c["call_id"], {})
        ring = rings.get(c["call_id"])
        points = {"request": c["requested_at"], "ring": ring, "connecting_k": c["connecting_at"],
                  "offer_o": o.get("offer_at"), "answer_k": c["answer_at"], "started_k": c["started_at"],
                  "started_o": o.get("started_at"), "ended_k": c["ended_at"]}
        for step in steps:
            start, _, end = step.partition("_to_")
            if points.get(start) is not None and points.get(end) is not None:
                steps[step].append((points[end] - points[start]) * 1000)
    return {step: round(statistics.median(v), 2) if v else None for step, v in steps.items()}


def _split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


def _calls_per_kiosk(kiosk_ids: list[str], calls: int) -> dict[str, int]:
    n = len(kiosk_ids)
    return {k: calls // n + (1 if i < calls % n else 0) for i, k in enumerate(kiosk_ids)}


def run_load(options: LoadOptions) -> dict[str, Any]:
    """Start the server process and the workers, place every call, and summarise (see module doc)."""
    wall_start = time.monotonic()
    fd_limit = raise_fd_limit()
    kiosk_ids = [f"load-kiosk-{i:05d}" for i in range(options.kiosks)]
    officer_names = [f"load-officer-{i:04d}" for i in range(options.officers)]
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="madoguchi-load-") as tmp:
        server = ServerProcess(Path(tmp), options, kiosk_ids, officer_names)
        departments = sorted(d.id for d in server.config.departments
                             if d.remote and d.kind is not CounterKind.ONE_STOP)
        if not departments:
            raise ValueError("the configuration has no remote one-to-one department to call")
        workers = min(options.worker_count(), options.kiosks)
        limits = server.config.server  # stay well inside the server's per-connection rate limit
        rate = (0.8 * limits.messages_per_second, max(1, min(limits.message_burst // 2, 20)))
        ctx = mp.get_context("spawn")
        report = ctx.Queue()
        start_calls, stop = ctx.Event(), ctx.Event()
        per_kiosk = _calls_per_kiosk(kiosk_ids, options.calls)
        kiosk_parts = _split(kiosk_ids, workers)
        officer_parts = _split(officer_names, workers)
        procs = []
        results: dict[int, dict] = {}
        ready: dict[int, dict] = {}
        done: dict[int, dict] = {}
        server_exit = None
        health: dict[str, Any] = {}
        rss_connected = 0.0
        cpu_before_calls = cpu_after_calls = 0.0
        calls_started_at = calls_ended_at = 0.0
        try:
            server.start()
            for w in range(workers):
                assignment = WorkerAssignment(
                    index=w, url=server.url,
                    kiosks={k: server.credentials.kiosk_tokens[k] for k in kiosk_parts[w]},
                    kiosk_calls={k: per_kiosk[k] for k in kiosk_parts[w]},
                    officers={o: server.officer_sessions.get(o) or server.credentials.officer_passwords[o]
                              for o in officer_parts[w]},
                    departments=departments, options=options, rate=rate,
                )
                proc = ctx.Process(target=_worker_main, args=(assignment, report, start_calls, stop),
                                   name=f"load-worker-{w}", daemon=True)
                proc.start()
                procs.append(proc)

            def collect(kind: str, into: dict[int, dict], timeout: float) -> None:
                deadline = time.monotonic() + timeout
                while len(into) + len(failed) < workers:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError(f"workers did not report {kind!r} within {timeout:.0f} s")
                    try:
                        message = report.get(timeout=min(remaining, 5.0))
                    except Exception:  # queue.Empty: check that nobody died silently
                        for index, pr in enumerate(procs):
                            if not pr.is_alive() and index not in into and index not in failed:
                                failed[index] = {"error": f"exited with code {pr.exitcode}"}
                                errors.append(f"worker {index}: exited with code {pr.exitcode}")
                        continue
                    tag, index, payload = message
                    if tag == "failed":
                        failed[index] = payload
                        errors.append(f"worker {index}: {payload['error']}")
                    elif tag == kind:
                        into[index] = payload
                    elif tag == "result":
                        results[index] = payload

            failed: dict[int, dict] = {}
            collect("ready", ready, options.ready_timeout_s)
            health = server.health()
            rss_connected = server.rss_mb()
            cpu_before_calls = server.cpu_s()
            calls_started_at = time.monotonic()
            start_calls.set()
            collect("kiosks_done", done, options.call_timeout_s * max(1, options.calls) + 60)
            calls_ended_at = max((d["at"] for d in done.values()), default=time.monotonic())
            cpu_after_calls = server.cpu_s()
        except Exception as exc:
            errors.append(f"load: {type(exc).__name__}: {exc}")
        finally:
            start_calls.set()
            stop.set()
            deadline = time.monotonic() + 60
            while len(results) < len(procs) and time.monotonic() < deadline:
                try:
                    tag, index, payload = report.get(timeout=1.0)
                except Exception:
                    if all(not pr.is_alive() for pr in procs):
                        break
                    continue
                if tag == "result":
                    results[index] = payload
            for proc in procs:
                proc.join(10)
                if proc.is_alive():
                    proc.kill()
            server_exit = server.stop()
            if server_exit not in (0, None, -15):
                errors.append(f"server exited with code {server_exit}: {server.log_tail(500)}")

    # -------------------------------------------------------------- merge
    calls = [c for r in results.values() for c in r["calls"]]
    rings: dict[str, float] = {}
    for r in results.values():
        for call_id, at in r["rings"].items():
            rings[call_id] = min(at, rings.get(call_id, at))
    route = [(rings[c["call_id"]] - c["requested_at"]) * 1000 for c in calls if c["call_id"] in rings]
    completed = [c for c in calls if c["started"] and c["end_reason"] == "completed"]
    stages: dict[str, dict[str, float]] = {}
    for r in results.values():
        stages.update(r["stages"])
    stage_ms = _stage_breakdown(calls, rings, stages)
    lost = sum(1 for c in calls if c["end_reason"] is None)
    by_type: dict[str, int] = {}
    for r in results.values():
        for kind, n in r["by_type"].items():
            by_type[kind] = by_type.get(kind, 0) + n
    for r in results.values():
        errors.extend(r["errors"])
    error_count = sum(r["error_count"] for r in results.values()) + len(errors) - sum(
        len(r["errors"]) for r in results.values())
    k_spans = [r["kiosk_connect"] for r in ready.values()]
    o_spans = [r["officer_connect"] for r in ready.values()]
    connected_k = sum(r["kiosks"] for r in ready.values())
    connected_o = sum(r["officers"] for r in ready.values())
    k_time = (max(s[1] for s in k_spans) - min(s[0] for s in k_spans)) if k_spans else 0.0
    o_time = (max(s[1] for s in o_spans) - min(s[0] for s in o_spans)) if o_spans else 0.0
    call_phase = max(1e-9, calls_ended_at - calls_started_at) if calls_ended_at else 0.0
    messages = sum(d["sent"] + d["received"] for d in done.values())
    requested = options.calls
    k_start = min((s[0] for s in k_spans), default=0.0)
    k_end = max((s[1] for s in k_spans), default=0.0)
    o_start = min((s[0] for s in o_spans), default=0.0)
    o_end = max((s[1] for s in o_spans), default=0.0)
    calls_end = calls_ended_at or float("inf")

    def pct(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "mode": "signaling-only",
        "calls_requested": requested,
        "calls_completed": len(completed),
        "calls_failed": requested - len(completed),
        "callers_lost": lost,
        "connected_kiosks": connected_k,
        "connected_officers": connected_o,
        "server_seen_kiosks": health.get("kiosks"),
        "server_seen_officers": health.get("officers"),
        "server_rss_mb": round(server.peak_rss_mb(), 1),
        "server_rss_mb_connected": round(rss_connected, 1),
        "server_rss_mb_peak_kiosk_connect": round(server.peak_rss_mb(k_start, k_end), 1),
        "server_rss_mb_peak_officer_login": round(server.peak_rss_mb(o_start, o_end), 1),
        "server_rss_mb_peak_calls": round(server.peak_rss_mb(calls_started_at, calls_end), 1)
        if calls_started_at else None,
        "server_cpu_pct_kiosk_connect": pct(server.cpu_percent(k_start, k_end)),
        "server_cpu_pct_officer_login": pct(server.cpu_percent(o_start, o_end)),
        "server_cpu_pct_calls": pct(server.cpu_percent(calls_started_at, calls_end))
        if calls_started_at else None,
        "server_cpu_s_calls": round(cpu_after_calls - cpu_before_calls, 2),
        "client_cpu_pct_calls": round(100 * sum(d["cpu_s"] for d in done.values()) / call_phase, 1)
        if call_phase else None,
        "route_ms": _percentiles(route),
        "stage_ms_p50": stage_ms,
        "connect_rate_per_s": round(connected_k / k_time, 1) if k_time else None,
        "kiosk_connect_s": round(k_time, 2),
        "officer_login_rate_per_s": round(connected_o / o_time, 1) if o_time else None,
        "officer_login_s": round(o_time, 2),
        "messages_per_s": round(messages / call_phase, 1) if call_phase else None,
        "messages": messages,
        "messages_by_type_received": dict(sorted(by_type.items())),
        "call_phase_s": round(call_phase, 2),
        "calls_per_s": round(len(completed) / call_phase, 1) if call_phase else None,
        "max_in_flight": options.max_in_flight or None,
        "officer_auth": options.officer_auth,
        "workers": len(procs),
        "fd_limit": fd_limit,
        "wall_s": round(time.monotonic() - wall_start, 2),
        "officer_calls_ended": sum(r["officer_calls_ended"] for r in results.values()),
        "officer_calls_open_at_end": sum(r["officer_open_calls"] for r in results.values()),
        "sends_paced": sum(r.get("paced", 0) for r in results.values()),
        "error_count": error_count,
        "errors": errors[:MAX_ERRORS],
    }


def succeeded(summary: dict[str, Any]) -> bool:
    """Every requested call completed and no caller was left without being told the call ended."""
    return (summary["calls_completed"] == summary["calls_requested"] and summary["callers_lost"] == 0
            and summary["calls_failed"] == 0)


if __name__ == "__main__":  # the same as madoguchi-sim --signaling-only
    from simulator.cli import main

    sys.exit(main(["--signaling-only", *sys.argv[1:]]))
