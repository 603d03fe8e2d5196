"""The load run's lightweight clients: raw-protocol kiosks and officers over one websocket each (plain JSON,
no media, no pydantic on the receive path), and the fake SDP they exchange."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import random
import re
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType

from remote_call import protocol as p
from signaling_server.ratelimit import TokenBucket
from simulator.load.moves import RECONNECT_HELLO_S, Backoff, Link
from simulator.load.options import MAX_ERRORS, LoadOptions
from simulator.load.wsclient import HandshakeRefused, WebSocket, connect

HELLO_TIMEOUT_S = 120.0  # officer sign-in is argon2, deliberately slow; hundreds queue behind each other
STATS_PREFIX = '{"type":"supervisor_stats"'  # how the wire encodes them (remote_call.protocol.encode)


# The codec lines of the fake SDP (what an aiortc or browser peer offers: Opus, PCMU/PCMA; VP8, H.264).
_AUDIO_CODECS = (
    "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "a=rtpmap:111 opus/48000/2",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
)
_VIDEO_CODECS = (
    "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "a=rtpmap:97 VP8/90000",
    "a=rtcp-fb:97 nack",
    "a=rtcp-fb:97 nack pli",
    "a=rtcp-fb:97 goog-remb",
    "a=rtpmap:98 rtx/90000",
    "a=fmtp:98 apt=97",
    "a=rtpmap:99 H264/90000",
    "a=rtcp-fb:99 nack",
    "a=rtcp-fb:99 nack pli",
    "a=rtcp-fb:99 goog-remb",
    "a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
    "a=rtpmap:100 rtx/90000",
    "a=fmtp:100 apt=99",
    "a=rtpmap:101 H264/90000",
    "a=rtcp-fb:101 nack",
    "a=rtcp-fb:101 nack pli",
    "a=fmtp:101 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    "a=rtpmap:102 rtx/90000",
    "a=fmtp:102 apt=101",
)


def fake_sdp(kind: str, seed: int, size: int = 3000) -> str:
    """A realistic-looking SDP (audio + video, codecs, ICE, DTLS fingerprint, host candidates) of about
    ``size`` bytes. Never parsed by the server: it is relayed unchanged."""
    rng = random.Random(seed)
    hexes = ":".join(f"{rng.randrange(256):02X}" for _ in range(32))
    ufrag = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
    pwd = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))
    setup = "actpass" if kind == "offer" else "active"
    lines = [
        "v=0",
        f"o=- {rng.randrange(10**15)} 0 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=msid-semantic:WMS *",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8",
        "c=IN IP4 0.0.0.0",
        "a=sendrecv",
        "a=mid:0",
        "a=msid:audio-" + ufrag + " " + pwd[:12],
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=rtcp-mux",
        *_AUDIO_CODECS,
        f"a=ssrc:{rng.randrange(2**32)} cname:{pwd[:16]}",
    ]
    video = [
        "m=video 9 UDP/TLS/RTP/SAVPF 97 98 99 100 101 102",
        "c=IN IP4 0.0.0.0",
        "a=sendrecv",
        "a=mid:1",
        "a=msid:video-" + ufrag + " " + pwd[12:],
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=rtcp-mux",
        *_VIDEO_CODECS,
    ]
    ssrc = rng.randrange(2**32)
    video += [
        f"a=ssrc-group:FID {ssrc} {ssrc + 1}",
        f"a=ssrc:{ssrc} cname:{pwd[:16]}",
        f"a=ssrc:{ssrc + 1} cname:{pwd[:16]}",
    ]
    common = [
        f"a=ice-ufrag:{ufrag}",
        f"a=ice-pwd:{pwd}",
        f"a=fingerprint:sha-256 {hexes}",
        f"a=setup:{setup}",
    ]
    body = lines + common + video + common
    port = 40000 + rng.randrange(20000)
    while len("\r\n".join(body)) < size - 120:
        port += 1
        body.append(
            f"a=candidate:{rng.randrange(2**31)} 1 udp {2130706431 - len(body)} "
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)} {port} typ host"
        )
    body.append("a=end-of-candidates")
    return "\r\n".join(body) + "\r\n"


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
    node: int | None = None  # the kiosk's node when the call started (multi-node runs)
    # What the kiosk heard of the call, and its returns, as "kind@monotonic s": shown for a failed call.
    trace: list[str] = field(default_factory=list)


@dataclass
class WorkerStats:
    messages_sent: int = 0
    messages_received: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    paced: int = 0  # sends delayed to stay under the server's rate limit
    failed_sign_ins: dict[str, int] = field(default_factory=dict)  # after an outage, by why (failure_reason)

    def error(self, text: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(text)


class Client:
    """A raw websocket client: sends encoded protocol messages (paced below the server's per-connection
    rate limit, as a well-behaved client must), dispatches received JSON by type. With a ``link`` of
    several nodes a dropped connection is an outage: the client moves to the next URL and resumes
    (simulator/load/moves.py); without, a drop ends it."""

    def __init__(
        self,
        ws: WebSocket,
        identity: str,
        stats: WorkerStats,
        rate: tuple[float, int],
        link: Link | None = None,
        options: LoadOptions | None = None,
    ):
        self.ws = ws
        self.identity = identity
        self.stats = stats
        self.reader: asyncio.Task | None = None
        self.bucket = TokenBucket(*rate)
        self.link = link
        self.options = options or LoadOptions()
        self.stopping = False  # the worker hangs up: a drop is no outage
        self.generation = 0  # connections so far after the first (one per resume)

    async def send(self, message: p.Wire) -> None:
        await self.send_raw(p.encode(message))

    async def send_raw(self, text: str) -> None:
        while not self.bucket.allow():
            self.stats.paced += 1
            await asyncio.sleep(self.bucket.retry_after())  # pacing under the rate limit
        self.stats.messages_sent += 1
        await self.ws.send_str(text)

    @property
    def node(self) -> int | None:
        return self.link.node if self.link is not None else None

    async def run(self) -> None:
        try:
            while True:
                await self._read()
                if self.stopping or self.link is None or not self.link.moves or not await self._move():
                    return
        finally:
            self.on_closed()

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type is not WSMsgType.TEXT:
                continue
            self.stats.messages_received += 1
            if frame.data.startswith(STATS_PREFIX):
                # Every officer's statistics every 2 s: over half of what the fleet receives and none of
                # what it answers; parsing them was a quarter of a worker's CPU (py-spy, 20,000 kiosks).
                self.stats.by_type["supervisor_stats"] = self.stats.by_type.get("supervisor_stats", 0) + 1
                continue
            data = json.loads(frame.data)
            kind = data.get("type", "?")
            self.stats.by_type[kind] = self.stats.by_type.get(kind, 0) + 1
            try:
                await self.on_message(kind, data)
            except (ConnectionError, RuntimeError) as exc:
                self.stats.error(f"{self.identity}: sending failed: {exc}")

    async def _move(self) -> bool:
        """The connection dropped: the next URL, backoff, hello again; True once welcomed and resumed."""
        link = self.link
        assert link is not None
        outage = link.dropped(time.monotonic())
        deadline = outage.dropped_at + self.options.reconnect_timeout_s
        backoff = Backoff(len(link.route))
        while not self.stopping and time.monotonic() < deadline:
            link.next()
            await asyncio.sleep(random.uniform(0, backoff.delay))  # full jitter spreads the fleet's returns
            outage.attempts += 1
            outage.hello_at = time.monotonic()
            try:
                hello = link.hello()
                ws, welcome = await handshake(link.url, hello, self.stats, RECONNECT_HELLO_S)
            except (ConnectionError, OSError, TimeoutError) as exc:
                why = failure_reason(exc)
                self.stats.failed_sign_ins[why] = self.stats.failed_sign_ins.get(why, 0) + 1
                backoff.failed()
                continue
            self.ws = ws
            self.generation += 1
            outage.resumed_at, outage.to_node = time.monotonic(), link.node
            await self.on_resumed(welcome)
            return True
        return False

    async def on_message(self, kind: str, data: dict[str, Any]) -> None:
        raise NotImplementedError

    async def on_resumed(self, welcome: dict[str, Any]) -> None:
        """Signed in again after an outage (the server has resumed what it knows): pick things up."""

    def on_closed(self) -> None:
        pass


class Kiosk(Client):
    def __init__(self, ws, identity, stats, rate, options: LoadOptions, link: Link | None = None):
        super().__init__(ws, identity, stats, rate, link, options)
        self.call: KioskCall | None = None
        self.done: asyncio.Future | None = None
        self.resent = False  # request_call sent again after an outage (its first may have been lost)

    def begin(self, call: KioskCall) -> asyncio.Future:
        self.call = call
        self.resent = False
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def _finish(self, reason: str) -> None:
        if self.call is not None:
            self.call.end_reason = reason
        if self.done is not None and not self.done.done():
            self.done.set_result(reason)

    async def on_resumed(self, welcome: dict[str, Any]) -> None:
        """As a kiosk after a reconnect: ``sync_call`` for the call it is in; a request never answered with
        ``queued`` (lost with the node that died) is asked again (the server answers a duplicate with
        where the first stands and a conflict)."""
        call = self.call
        if call is None or self.done is None or self.done.done():
            return
        call.trace.append(f"resumed@{time.monotonic():.2f}")
        if call.call_id:
            await self.send(p.SyncCall(call_id=call.call_id))
        else:
            self.resent = True
            await self.send(p.RequestCall(department=call.department))

    def _on_error(self, data: dict[str, Any]) -> None:
        code, about, call = data.get("code"), data.get("about"), self.call
        if code == "conflict" and about == "request_call" and self.resent:
            return  # the first request did arrive: the server has just said where it stands
        if code == "not_found" and about == "sync_call" and call is not None and self.done is not None:
            call.error = f"the server no longer knows call {call.call_id}"  # a lost caller (no end reason)
            if not self.done.done():
                self.done.set_result("lost")
            return
        self.stats.error(f"{self.identity}: server error {code}: {data.get('detail')}")

    async def on_message(self, kind: str, data: dict[str, Any]) -> None:
        call = self.call
        if kind == "error":
            self._on_error(data)
            return
        if call is None:
            return
        if data.get("call_id") in (None, call.call_id) or not call.call_id:
            call.trace.append(f"{kind}@{time.monotonic():.2f}")
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
                await self.send(
                    p.IceCandidate(
                        call_id=call.call_id,
                        sdp_mid="0",
                        sdp_mline_index=0,
                        candidate=f"candidate:{i} 1 udp 2130706431 10.0.0.{i + 1} {50000 + i} typ host",
                    )
                )
        elif kind == "sdp" and data.get("sdp_type") == "answer":
            call.answer_at = time.monotonic()
            await self.send(p.MediaConnected(call_id=data["call_id"]))
        elif kind == "call_started" and data.get("call_id") == call.call_id:
            call.started = True
            call.started_at = call.started_at or time.monotonic()
            call.node = self.node
        elif kind == "call_ended" and data.get("call_id") == call.call_id:
            call.ended_at = time.monotonic()
            self._finish(data.get("reason", "?"))

    def on_closed(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError(f"{self.identity}: connection closed"))


class Officer(Client):
    def __init__(
        self,
        ws,
        identity,
        stats,
        rate,
        options: LoadOptions,
        rings: dict[str, float],
        stages: dict[str, dict[str, float]],
        link: Link | None = None,
        nodes: dict[str, int] | None = None,
    ):
        super().__init__(ws, identity, stats, rate, link, options)
        self.rings = rings
        self.stages = stages
        self.nodes = nodes if nodes is not None else {}  # call id -> this officer's node when it started
        self.calls_ended = 0
        self.open_calls: set[str] = set()  # connecting or in a call, not yet told it ended
        self.ended: set[str] = set()  # told (a resume may tell again)
        self.state = "offline"  # the last officer_state the server sent
        self._timers: set[asyncio.TimerHandle] = set()
        self._scheduled: set[str] = set()  # calls whose end_call waits for call_seconds
        self._ended_on: dict[str, int] = {}  # call id -> the connection (generation) its end_call went on

    async def on_resumed(self, welcome: dict[str, Any]) -> None:
        """As a console after a reconnect: ``sync_call`` for every call it believes open."""
        for call_id in sorted(self.open_calls):
            await self.send(p.SyncCall(call_id=call_id))

    async def _started(self, call_id: str) -> None:
        """End the call now or after call_seconds, once per connection: a resume repeats call_started."""
        self.stages.setdefault(call_id, {})["started_at"] = time.monotonic()
        if self.link is not None:
            self.nodes[call_id] = self.link.node
        if call_id in self._scheduled or self._ended_on.get(call_id) == self.generation:
            return
        if self.options.call_seconds <= 0:
            await self._end(call_id)
            return
        self._scheduled.add(call_id)
        loop = asyncio.get_running_loop()
        handle = loop.call_later(self.options.call_seconds, lambda: asyncio.ensure_future(self._end(call_id)))
        self._timers.add(handle)

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
                await self.send(
                    p.IceCandidate(
                        call_id=call_id,
                        sdp_mid="0",
                        sdp_mline_index=0,
                        candidate=f"candidate:{i} 1 udp 2130706431 10.1.0.{i + 1} {52000 + i} typ host",
                    )
                )
            await self.send(p.MediaConnected(call_id=call_id))
        elif kind == "call_started":
            await self._started(data["call_id"])
        elif kind == "call_ended":
            call_id = data["call_id"]
            self.open_calls.discard(call_id)
            if call_id not in self.ended:
                self.ended.add(call_id)
                self.calls_ended += 1
                self.stages.setdefault(call_id, {})["ended_at"] = time.monotonic()
        elif kind == "call_connecting":
            self.open_calls.add(data["call_id"])
            self.stages.setdefault(data["call_id"], {})["connecting_at"] = time.monotonic()
        elif kind == "officer_state":
            self.state = data.get("state", "?")
            if self.state == "wrap_up" or (self.state == "away" and self.generation):
                await self.send(p.SetStatus(status="available"))  # (away: as it came back after an outage)
        elif kind == "error":
            if data.get("about") == "sync_call" and data.get("code") == "not_found":
                named = re.search(r"'([^']+)'", data.get("detail", ""))  # "no call 'ID' of yours"
                self.open_calls.discard(named.group(1) if named else "")  # its end was told already
                return
            self.stats.error(f"{self.identity}: server error {data.get('code')}: {data.get('detail')}")

    async def _end(self, call_id: str) -> None:
        self._scheduled.discard(call_id)
        self._ended_on[call_id] = self.generation
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(p.EndCall(call_id=call_id, outcome="resolved", notes="load simulation"))

    def on_closed(self) -> None:
        for handle in self._timers:
            handle.cancel()


def failure_reason(exc: BaseException) -> str:
    """Why a sign-in after an outage failed, in a few words that group alike failures (no identities)."""
    if isinstance(exc, HandshakeRefused):
        return f"websocket upgrade refused: HTTP {exc.status}"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "no welcome in time"
    if isinstance(exc, OSError) and exc.errno:  # ECONNREFUSED: a dead node's port
        return f"could not connect: {errno.errorcode.get(exc.errno, type(exc).__name__)}"
    text = str(exc)
    if text.startswith("refused: "):
        return text.split(":", 2)[0] + ": " + text.split(":", 2)[1].strip()  # "refused: <error code>"
    if text.startswith("no welcome"):
        return text
    return type(exc).__name__


async def handshake(
    url: str,
    hello: p.Hello,
    stats: WorkerStats,
    timeout: float = HELLO_TIMEOUT_S,
) -> tuple[WebSocket, dict[str, Any]]:
    """A websocket to ``url`` after its hello and welcome; the welcome."""
    ws = await connect(url)
    try:
        await ws.send_str(p.encode(hello))
        frame = await ws.receive(timeout=timeout)
        if frame.type is not WSMsgType.TEXT:
            raise ConnectionError(f"no welcome (frame {frame.type.name}, close code {ws.close_code})")
        data = json.loads(frame.data)
        if data.get("type") != "welcome":
            raise ConnectionError(f"refused: {data.get('code')}: {data.get('detail')}")
        return ws, data
    except BaseException:
        await ws.close()
        raise
