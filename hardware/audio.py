"""Kiosk microphone and speaker through sounddevice (PortAudio), bridged to aiortc, 48 kHz, 20 ms blocks.

Microphone: an `InputStream` callback copies each block into a small bounded buffer and wakes the event
loop with `call_soon_threadsafe` (once per batch, so even an unpaced device cannot flood the loop). On the
loop the block is measured (input level for the UI meter), cleaned by the echo canceller when there is one,
and handed to every open `MicrophoneTrack` (one per call), each with its own bounded queue: the device clock
paces the tracks; a track also never runs ahead of real time, and it sends silence if the device goes quiet.

The speaker, which feeds what it plays to the same echo canceller, is in hardware.speaker.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fractions
import logging
import math
import threading
import time
from typing import Any, Literal

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from hardware.echo import EchoCanceller
from hardware.health import DeviceHealth, HealthStatus, HealthTracker

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
BLOCK = 960  # 20 ms
SILENCE_FLOOR_DBFS = -100.0


class AudioDeviceError(RuntimeError):
    """A configured audio device cannot be found or opened."""


def _sd() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # PortAudio missing: Debian libportaudio2
        raise AudioDeviceError(f"sounddevice cannot load PortAudio ({exc}); install libportaudio2") from exc
    return sounddevice


def rescan_devices() -> None:
    """Make PortAudio list devices again (it lists them once, when sounddevice is first imported).
    Only call it while no stream is open: it restarts PortAudio."""
    sd = _sd()
    sd._terminate()
    sd._initialize()


def resolve_device(name: str | None, kind: Literal["input", "output"]) -> int | None:
    """The PortAudio index of the device whose name contains `name` (None: the system default)."""
    sd = _sd()
    if name is None:
        return None
    try:
        return int(sd.query_devices(name, kind)["index"])
    except (ValueError, sd.PortAudioError) as exc:
        names = [d["name"] for d in sd.query_devices() if d[f"max_{kind}_channels"] > 0]
        raise AudioDeviceError(
            f"no single {kind} device matching {name!r} ({exc}); available: {names}"
        ) from exc


def dbfs(samples: np.ndarray) -> float:
    """RMS level of int16 samples in dBFS (full-scale sine is about -3 dBFS)."""
    if samples.size == 0:
        return SILENCE_FLOOR_DBFS
    rms = math.sqrt(float(np.mean(np.square(samples, dtype=np.float64)))) / 32768.0
    return max(SILENCE_FLOOR_DBFS, 20 * math.log10(rms)) if rms > 0 else SILENCE_FLOOR_DBFS


def meter_level(level_dbfs: float, floor_dbfs: float = -60.0) -> float:
    """dBFS mapped to 0..1 for a UI meter: floor_dbfs and below is 0, 0 dBFS is 1."""
    return min(1.0, max(0.0, (level_dbfs - floor_dbfs) / -floor_dbfs))


class LevelMeter:
    """Input level with a fast attack and a slow release, like a hardware meter."""

    def __init__(self, release_db_per_block: float = 1.5) -> None:
        self.release = release_db_per_block
        self.dbfs = SILENCE_FLOOR_DBFS

    def update(self, samples: np.ndarray) -> float:
        now = dbfs(samples)
        self.dbfs = now if now >= self.dbfs else max(now, self.dbfs - self.release)
        return self.dbfs

    @property
    def level(self) -> float:
        return meter_level(self.dbfs)


def _audio_frame(samples: np.ndarray, pts: int, sample_rate: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = sample_rate
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, sample_rate)
    return frame


class MicrophoneTrack(MediaStreamTrack):
    """One call's microphone audio: s16 mono frames of the device's blocks, paced by the device clock."""

    kind = "audio"

    def __init__(self, microphone: Microphone, queue_blocks: int = 10, quiet_timeout_s: float = 0.25) -> None:
        super().__init__()
        self.microphone = microphone
        self.sample_rate = microphone.sample_rate
        self.block = microphone.block
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self.queue_blocks = queue_blocks
        self._ready = asyncio.Event()
        self._pts = 0
        self._start: float | None = None
        self._quiet_timeout_s = quiet_timeout_s
        self._starved = False
        self.frames_sent = 0
        self.silence_sent = 0
        self.dropped = 0
        self.max_queued = 0
        microphone._subscribe(self)

    def _push(self, block: np.ndarray) -> None:
        if len(self._queue) >= self.queue_blocks:
            self._queue.popleft()  # newest audio wins: latency stays bounded
            self.dropped += 1
        self._queue.append(block)
        self.max_queued = max(self.max_queued, len(self._queue))
        self._ready.set()

    def stop(self) -> None:
        super().stop()
        self.microphone._unsubscribe(self)
        self._ready.set()

    async def _not_ahead_of_real_time(self) -> None:
        now = time.monotonic()
        if self._start is None:
            self._start = now
            return
        # Allow 100 ms of catch-up, never more: an unpaced device must not flood the encoder.
        allowed = (now - self._start) * self.sample_rate + 0.1 * self.sample_rate
        if self._pts > allowed:
            await asyncio.sleep((self._pts - allowed) / self.sample_rate)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._not_ahead_of_real_time()
        if not self._queue:
            self._ready.clear()
            timeout = self.block / self.sample_rate if self._starved else self._quiet_timeout_s
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow an outer cancellation
            # that races with its own timeout, leaving the caller's own timeout waiting forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            if self.readyState != "live":
                raise MediaStreamError
        if self._queue:
            self._starved = False
            block = self._queue.popleft()
        else:
            # The device went quiet (unplugged?): keep the call's audio flowing with silence.
            self._starved = True
            self.silence_sent += 1
            block = np.zeros(self.block, np.int16)
        frame = _audio_frame(block, self._pts, self.sample_rate)
        self._pts += block.size
        self.frames_sent += 1
        return frame


class Microphone:
    """A sounddevice InputStream feeding any number of `MicrophoneTrack`s."""

    def __init__(
        self,
        device: str | None = None,
        sample_rate: int = SAMPLE_RATE,
        block: int = BLOCK,
        echo: EchoCanceller | None = None,
        pending_blocks: int = 10,
        retry_interval_s: float = 1.0,
        stall_after_s: float = 3.0,
        echo_wanted: bool = True,
        echo_detail: str = "",
    ) -> None:
        self.device_name = device
        self.echo_wanted = echo_wanted
        self.echo_detail = echo_detail or "no echo cancellation"
        self.sample_rate = sample_rate
        self.block = block
        self.echo = echo
        self.retry_interval_s = retry_interval_s
        self.stall_after_s = stall_after_s
        self.meter = LevelMeter()
        self._health = HealthTracker("degraded", "not started")
        self._lock = threading.Lock()
        self._pending: collections.deque[np.ndarray] = collections.deque(maxlen=pending_blocks)
        self._wake_pending = False
        self._carry = np.zeros(0, np.int16)
        self._tracks: set[MicrophoneTrack] = set()
        self._stream: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._last_callback = 0.0
        self._closed = False
        self.callbacks = 0
        self.samples_captured = 0
        self.callback_drops = 0  # blocks dropped before the loop could take them (flood or a stalled loop)
        self.blocks_delivered = 0
        self.opens = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Microphone:
        self._loop = asyncio.get_running_loop()
        await self._open()
        self._supervisor = asyncio.create_task(self._supervise(), name="microphone-supervisor")
        return self

    async def _open(self) -> bool:
        try:
            stream = await asyncio.to_thread(self._open_stream)
        except Exception as exc:
            already_down = self._health.get().status == "error"
            self._health.set("error", f"microphone {self.device_name or 'default'}: {exc}")
            # Say it once when the device goes away; the supervisor keeps retrying quietly.
            report = log.debug if already_down else log.warning
            report("microphone %s cannot open: %s", self.device_name or "default", exc)
            return False
        self._stream = stream
        self.opens += 1
        self._last_callback = time.monotonic()
        status: HealthStatus = "degraded" if self.echo is None and self.echo_wanted else "ok"
        detail = f"{self.device_name or 'default'} at {self.sample_rate} Hz"
        detail += "; echo cancellation on" if self.echo is not None else f"; {self.echo_detail}"
        self._health.set(status, detail)
        return True

    def _open_stream(self) -> Any:
        sd = _sd()
        index = resolve_device(self.device_name, "input")
        stream = sd.InputStream(
            device=index,
            samplerate=self.sample_rate,
            channels=1,
            dtype="int16",
            blocksize=self.block,
            callback=self._callback,
        )
        stream.start()
        return stream

    async def _supervise(self) -> None:
        """Notice a dead or silent stream and reopen it: an unplugged USB mic comes back by itself."""
        while not self._closed:
            await asyncio.sleep(self.retry_interval_s / 2)
            stream = self._stream
            stalled = time.monotonic() - self._last_callback > self.stall_after_s
            if stream is not None and stream.active and not stalled:
                continue
            if stream is not None:
                self._health.set(
                    "error", f"microphone {self.device_name or 'default'} stopped delivering audio"
                )
                await asyncio.to_thread(self._close_stream)
                await asyncio.sleep(self.retry_interval_s)
            await self._open()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.abort()
            with contextlib.suppress(Exception):
                stream.close()

    async def close(self) -> None:
        self._closed = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            # Waited for with asyncio.wait, not under suppress(CancelledError), which would also swallow a
            # cancellation of our caller (remote_call/tasks.py explains; hardware may not import it).
            await asyncio.wait([self._supervisor])
        await asyncio.to_thread(self._close_stream)
        for track in list(self._tracks):
            track.stop()

    # ------------------------------------------------------------------ PortAudio thread

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        block = indata[:, 0].copy()  # PortAudio reuses its buffer: copy before returning
        with self._lock:
            if len(self._pending) == self._pending.maxlen:
                self.callback_drops += 1
            self._pending.append(block)
            wake = not self._wake_pending
            self._wake_pending = True
            self.callbacks += 1
            self.samples_captured += frames
        self._last_callback = time.monotonic()
        if wake and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # loop closed during shutdown
                self._loop.call_soon_threadsafe(self._drain)

    # ------------------------------------------------------------------ event loop

    def _drain(self) -> None:
        with self._lock:
            blocks = list(self._pending)
            self._pending.clear()
            self._wake_pending = False
        if not blocks:
            return
        samples = np.concatenate([self._carry, *blocks])
        whole = samples.size // self.block * self.block
        self._carry = samples[whole:]
        for i in range(0, whole, self.block):
            self._deliver(samples[i : i + self.block])

    def _deliver(self, block: np.ndarray) -> None:
        self.meter.update(block)
        if self.echo is not None:
            try:
                block = self.echo.capture(block)
            except Exception as exc:
                log.warning("echo cancellation failed, continuing without it: %s", exc)
                self.echo = None
                self._health.set("degraded", f"echo cancellation failed: {exc}")
        self.blocks_delivered += 1
        for track in list(self._tracks):
            track._push(block)

    def _subscribe(self, track: MicrophoneTrack) -> None:
        self._tracks.add(track)

    def _unsubscribe(self, track: MicrophoneTrack) -> None:
        self._tracks.discard(track)

    # ------------------------------------------------------------------ public

    def track(self) -> MicrophoneTrack:
        return MicrophoneTrack(self)

    def health(self) -> DeviceHealth:
        return self._health.get()

    def health_history(self) -> list[DeviceHealth]:
        return self._health.history()

    def input_level(self) -> float:
        return self.meter.level

    def input_dbfs(self) -> float:
        return self.meter.dbfs

    async def record(self, seconds: float, timeout: float | None = None) -> np.ndarray:
        """Record `seconds` of (echo-cancelled) audio through a temporary track."""
        track = self.track()
        wanted = int(seconds * self.sample_rate)
        parts: list[np.ndarray] = []
        got = 0

        async def collect() -> None:
            nonlocal got
            while got < wanted:
                frame = await track.recv()
                data = frame.to_ndarray().reshape(-1)
                parts.append(data)
                got += data.size

        try:
            async with asyncio.timeout(timeout if timeout is not None else seconds * 3 + 2):
                await collect()
        finally:
            track.stop()
        return np.concatenate(parts)[:wanted]
