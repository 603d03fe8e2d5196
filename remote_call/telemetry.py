"""Client-side telemetry shared by the kiosk and the officer console: heartbeats and call quality.

``TelemetryReporter`` sends a ``Heartbeat`` every ``heartbeat_s`` (app version, uptime, OS, CPU, memory and
disk from psutil, each device's health, and the round-trip time of the last ``Ping``/``Pong`` with the
server) and, while a call's peer connection is up, a ``CallQuality`` every ``quality_s`` computed from
aiortc's ``getStats()``. The owner feeds server messages to ``on_message`` (it only looks at ``Pong``).

``call_quality(session, call_id, previous)`` is the pure computation: it reads the stats report once and
returns the ``CallQuality`` of the interval since ``previous`` (a ``StatsSnapshot``) and the new snapshot.

- RTT: ``remote-inbound-rtp.roundTripTime`` (from the peer's RTCP receiver reports), the worst stream;
- loss in: ``inbound-rtp`` packetsLost / (received + lost) over the interval, all streams together;
- loss out: the same from ``remote-inbound-rtp`` (what the peer says it lost of ours);
- jitter: ``inbound-rtp.jitter`` (RTP timestamp units: 48 kHz audio, 90 kHz video), the worst stream;
- bitrate out: ``outbound-rtp.bytesSent`` deltas; bitrate in: ``remote-outbound-rtp.bytesSent`` deltas (the
  media the peer sent, from its RTCP sender reports; aiortc's inbound stats carry no byte count);
- fps in: frames counted by the session's remote video drain; fps out: the sending track's ``frames_sent``
  counter when it has one (our camera and test-pattern tracks do), else not reported.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psutil

from remote_call import protocol as p
from remote_call.tasks import cancel_and_wait

if TYPE_CHECKING:
    from remote_call.session import CallSession

log = logging.getLogger(__name__)

CLOCK_RATES = {"audio": 48_000, "video": 90_000}
MAX_DEVICES = 16


@dataclass(frozen=True)
class StatsSnapshot:
    """Cumulative counters at one moment, to difference against the next report."""

    at: float
    bytes_out: int
    bytes_in: int | None
    received: int
    lost_in: int
    remote_received: int
    remote_lost: int
    frames_in: int
    frames_out: int | None


def _delta_pct(lost: int, received: int) -> float | None:
    total = lost + received
    if total <= 0:
        return None
    return min(100.0, max(0.0, 100.0 * lost / total))


async def call_quality(
    session: CallSession, call_id: str, previous: StatsSnapshot | None, *, now: float | None = None
) -> tuple[p.CallQuality, StatsSnapshot]:
    """One CallQuality sample from the session's peer connection, over the interval since ``previous``."""
    report = await session.pc.getStats()
    at = time.monotonic() if now is None else now
    rtts: list[float] = []
    jitters: list[float] = []
    bytes_out = received = lost_in = remote_received = remote_lost = 0
    bytes_in: int | None = None
    for stats in report.values():
        kind = getattr(stats, "type", "")
        if kind == "outbound-rtp":
            bytes_out += stats.bytesSent
        elif kind == "inbound-rtp":
            received += stats.packetsReceived
            lost_in += stats.packetsLost
            rate = CLOCK_RATES.get(stats.kind)
            if rate and stats.jitter is not None:
                jitters.append(1000.0 * stats.jitter / rate)
        elif kind == "remote-inbound-rtp":
            remote_received += stats.packetsReceived
            remote_lost += stats.packetsLost
            if stats.roundTripTime is not None:
                rtts.append(1000.0 * stats.roundTripTime)
        elif kind == "remote-outbound-rtp":
            bytes_in = (bytes_in or 0) + stats.bytesSent
    frames_out: int | None = None
    for sender in session.pc.getSenders():
        if sender.kind == "video" and sender.track is not None:
            counted = getattr(sender.track, "frames_sent", None)
            if isinstance(counted, int):
                frames_out = counted
    snapshot = StatsSnapshot(
        at,
        bytes_out,
        bytes_in,
        received,
        lost_in,
        remote_received,
        remote_lost,
        session.remote_video.count,
        frames_out,
    )
    base = previous or StatsSnapshot(at, 0, 0, 0, 0, 0, 0, 0, 0)
    dt = at - base.at
    bitrate_out = bitrate_in = fps_in = fps_out = None
    if previous is not None and dt > 0:
        bitrate_out = max(0.0, 8 * (bytes_out - base.bytes_out) / dt / 1000)
        if bytes_in is not None and base.bytes_in is not None:
            bitrate_in = max(0.0, 8 * (bytes_in - base.bytes_in) / dt / 1000)
        fps_in = max(0.0, (snapshot.frames_in - base.frames_in) / dt)
        if frames_out is not None and base.frames_out is not None:
            fps_out = max(0.0, (frames_out - base.frames_out) / dt)
    quality = p.CallQuality(
        call_id=call_id,
        rtt_ms=max(rtts) if rtts else None,
        loss_in_pct=_delta_pct(lost_in - base.lost_in, received - base.received),
        loss_out_pct=_delta_pct(remote_lost - base.remote_lost, remote_received - base.remote_received),
        jitter_ms=max(jitters) if jitters else None,
        bitrate_in_kbps=bitrate_in,
        bitrate_out_kbps=bitrate_out,
        fps_in=fps_in,
        fps_out=fps_out,
    )
    return quality, snapshot


def device_statuses(health: Mapping[str, Any]) -> dict[str, p.DeviceStatus]:
    """Accept DeviceStatus, anything with status/detail/since (hardware.health.DeviceHealth) or dicts."""
    result: dict[str, p.DeviceStatus] = {}
    for name, value in list(health.items())[:MAX_DEVICES]:
        if isinstance(value, p.DeviceStatus):
            status = value
        else:
            data = (
                value
                if isinstance(value, Mapping)
                else {
                    "status": getattr(value, "status", "unknown"),
                    "detail": getattr(value, "detail", ""),
                    "since": getattr(value, "since", 0.0),
                }
            )
            # Untyped input (a device's own health object or a dict): pydantic checks the status.
            status = p.DeviceStatus.model_validate(
                {
                    "status": data.get("status", "unknown"),
                    "detail": str(data.get("detail", ""))[:200],
                    "since": float(data.get("since", 0.0) or 0.0),
                }
            )
        result[str(name)[:32]] = status
    return result


class TelemetryReporter:
    def __init__(
        self,
        send: Callable[[p.Wire], Awaitable[None]],
        device_health: Callable[[], Mapping[str, Any]],
        session: Callable[[], CallSession | None],
        call_id: Callable[[], str | None],
        heartbeat_s: float = 10.0,
        quality_s: float = 5.0,
        *,
        app_version: str = "",
        disk_path: str = "/",
    ):
        if heartbeat_s <= 0 or quality_s <= 0:
            raise ValueError(f"telemetry intervals must be positive, got {heartbeat_s!r} and {quality_s!r}")
        self._send = send
        self._device_health = device_health
        self._session = session
        self._call_id = call_id
        self.heartbeat_s = heartbeat_s
        self.quality_s = quality_s
        self.app_version = app_version
        self.disk_path = disk_path
        self.rtt_ms: float | None = None
        self._ping: tuple[int, float] | None = None
        self._previous: tuple[str, StatsSnapshot] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._process = psutil.Process()
        self._os = f"{platform.system()} {platform.release()} ({platform.machine()})"[:200]
        psutil.cpu_percent(interval=None)  # the first reading is meaningless; prime it
        self.heartbeats_sent = 0
        self.quality_sent = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._heartbeats(), name="telemetry-heartbeat"),
                asyncio.create_task(self._qualities(), name="telemetry-quality"),
            ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(*tasks)

    def on_message(self, message: p.Wire) -> None:
        """Feed every server message here; a Pong answering our last Ping sets ``rtt_ms``."""
        if isinstance(message, p.Pong) and self._ping is not None and message.nonce == self._ping[0]:
            self.rtt_ms = (time.monotonic() - self._ping[1]) * 1000.0
            self._ping = None

    # ------------------------------------------------------------------ messages

    def heartbeat(self) -> p.Heartbeat:
        try:
            disk = psutil.disk_usage(self.disk_path).percent
        except OSError:
            disk = 0.0
        return p.Heartbeat(
            app_version=self.app_version[:200],
            uptime_s=max(0.0, time.time() - self._process.create_time()),
            os=self._os,
            cpu_percent=min(psutil.cpu_percent(interval=None), 100.0 * 256),
            memory_percent=psutil.virtual_memory().percent,
            disk_percent=disk,
            devices=device_statuses(self._device_health()),
            rtt_ms=self.rtt_ms,
        )

    async def quality_sample(self) -> p.CallQuality | None:
        """A CallQuality of the current call, or None when no call's media is up."""
        session, call_id = self._session(), self._call_id()
        if session is None or call_id is None or session.pc.connectionState != "connected":
            self._previous = None
            return None
        previous = self._previous[1] if self._previous and self._previous[0] == call_id else None
        quality, snapshot = await call_quality(session, call_id, previous)
        self._previous = (call_id, snapshot)
        return quality

    async def ping(self) -> None:
        nonce = random.randrange(1, 2**53)
        self._ping = (nonce, time.monotonic())
        await self._send(p.Ping(nonce=nonce))

    async def _heartbeats(self) -> None:
        while True:
            try:
                await self.ping()
                await self._send(self.heartbeat())
                self.heartbeats_sent += 1
            except Exception as exc:  # disconnected: the next beat tries again
                log.debug("heartbeat not sent: %s", exc)
            await asyncio.sleep(self.heartbeat_s)

    async def _qualities(self) -> None:
        while True:
            await asyncio.sleep(self.quality_s)
            try:
                quality = await self.quality_sample()
                if quality is not None:
                    await self._send(quality)
                    self.quality_sent += 1
            except Exception as exc:
                log.debug("call quality not sent: %s", exc)
