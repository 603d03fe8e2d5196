"""The kiosk's (and the officer's) speaker through sounddevice (PortAudio), and the chime.

`play_remote_audio(track)` resamples received frames (s16 stereo 48 kHz from aiortc) to mono, mixes them
with any other remote track playing at the same time (hardware.mixer) and queues them for an `OutputStream`
callback; the queue is bounded so latency cannot grow. What is played is also
fed to the echo canceller as the far-end signal (see hardware.audio for the microphone side).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any, cast

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from hardware.audio import BLOCK, SAMPLE_RATE, AudioDeviceError, _sd, resolve_device
from hardware.echo import EchoCanceller
from hardware.health import DeviceHealth, HealthTracker
from hardware.mixer import AudioMixer

log = logging.getLogger(__name__)


class Speaker:
    """A sounddevice OutputStream playing a bounded queue of mono int16 samples."""

    def __init__(
        self,
        device: str | None = None,
        sample_rate: int = SAMPLE_RATE,
        block: int = BLOCK,
        echo: EchoCanceller | None = None,
        max_buffer_s: float = 0.2,
        retry_interval_s: float = 1.0,
        stall_after_s: float = 3.0,
    ) -> None:
        self.device_name = device
        self.retry_interval_s = retry_interval_s
        self.stall_after_s = stall_after_s
        self._supervisor: asyncio.Task[None] | None = None
        self._last_callback = 0.0
        self._closed = False
        self.opens = 0
        self.sample_rate = sample_rate
        self.block = block
        self.echo = echo
        self.max_samples = int(max_buffer_s * sample_rate)
        self._health = HealthTracker("degraded", "not started")
        self._lock = threading.Lock()
        self._fifo = np.zeros(0, np.int16)
        self._render_carry = np.zeros(0, np.int16)
        self._stream: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._space = asyncio.Event()
        self._drained = asyncio.Event()
        self._wake_pending = False
        self.samples_queued = 0  # samples accepted for playing
        self.samples_played = 0  # real samples handed to the device (not padding)
        self.underruns = 0
        self.dropped_samples = 0
        self.frames_received = 0
        self.mixer = AudioMixer(block)

    async def start(self) -> Speaker:
        self._loop = asyncio.get_running_loop()
        await self._open()
        self._supervisor = asyncio.create_task(self._supervise(), name="speaker-supervisor")
        return self

    async def _open(self) -> bool:
        try:
            self._stream = await asyncio.to_thread(self._open_stream)
        except Exception as exc:
            already_down = self._health.get().status == "error"
            self._health.set("error", f"speaker {self.device_name or 'default'}: {exc}")
            # Say it once when the device goes away; the supervisor keeps retrying quietly.
            report = log.debug if already_down else log.warning
            report("speaker %s cannot open: %s", self.device_name or "default", exc)
            return False
        self.opens += 1
        self._last_callback = time.monotonic()
        self._health.set("ok", f"{self.device_name or 'default'} at {self.sample_rate} Hz")
        return True

    async def _supervise(self) -> None:
        """Reopen a speaker stream that died or stopped asking for audio (e.g. a replugged USB speaker)."""
        while not self._closed:
            await asyncio.sleep(self.retry_interval_s / 2)
            stream = self._stream
            stalled = time.monotonic() - self._last_callback > self.stall_after_s
            if stream is not None and stream.active and not stalled:
                continue
            if stream is not None:
                self._health.set("error", f"speaker {self.device_name or 'default'} stopped playing")
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

    def _open_stream(self) -> Any:
        sd = _sd()
        index = resolve_device(self.device_name, "output")
        stream = sd.OutputStream(
            device=index,
            samplerate=self.sample_rate,
            channels=1,
            dtype="int16",
            blocksize=self.block,
            callback=self._callback,
        )
        stream.start()
        return stream

    async def close(self) -> None:
        self._closed = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            # Waited for with asyncio.wait, not under suppress(CancelledError), which would also swallow a
            # cancellation of our caller (remote_call/tasks.py explains; hardware may not import it).
            await asyncio.wait([self._supervisor])
        await asyncio.to_thread(self._close_stream)

    def health(self) -> DeviceHealth:
        return self._health.get()

    @property
    def buffered(self) -> int:
        with self._lock:
            return int(self._fifo.size)

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        self._last_callback = time.monotonic()
        with self._lock:
            take = min(frames, self._fifo.size)
            outdata[:take, 0] = self._fifo[:take]
            outdata[take:, 0] = 0
            had_data = self._fifo.size > 0
            self._fifo = self._fifo[take:]
            self.samples_played += take
            if had_data and take < frames:
                self.underruns += 1
            wake = not self._wake_pending
            self._wake_pending = True
        if wake and self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        with self._lock:
            self._wake_pending = False
            size = self._fifo.size
        if size < self.max_samples:
            self._space.set()
        if size == 0:
            self._drained.set()

    def enqueue(self, samples: np.ndarray) -> None:
        """Queue mono int16 samples; if the queue is full the oldest are dropped (latency stays bounded)."""
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise ValueError(f"speaker wants mono int16 samples, got {samples.dtype} {samples.shape}")
        self._render_echo(samples)
        self.samples_queued += samples.size
        with self._lock:
            fifo = np.concatenate([self._fifo, samples])
            excess = fifo.size - self.max_samples
            if excess > 0:
                fifo = fifo[excess:]
                self.dropped_samples += excess
            self._fifo = fifo
        self._drained.clear()

    def _render_echo(self, samples: np.ndarray) -> None:
        if self.echo is None:
            return
        data = np.concatenate([self._render_carry, samples])
        whole = data.size // self.echo.chunk * self.echo.chunk
        self._render_carry = data[whole:]
        if whole:
            try:
                self.echo.render(data[:whole])
            except Exception as exc:
                log.warning("echo canceller rejected the far-end signal: %s", exc)
                self.echo = None

    async def play(self, samples: np.ndarray, timeout: float | None = None) -> None:
        """Play samples to the end (waiting for room in the queue), then wait until the device took them."""
        if self._stream is None:
            raise AudioDeviceError(
                f"speaker {self.device_name or 'default'} is not open: {self.health().detail}"
            )
        duration = samples.size / self.sample_rate

        async def run() -> None:
            for i in range(0, samples.size, self.block):
                while self.buffered + self.block > self.max_samples:
                    self._space.clear()
                    await self._space.wait()
                self.enqueue(samples[i : i + self.block])
            while self.buffered:
                self._drained.clear()
                await self._drained.wait()

        async with asyncio.timeout(timeout if timeout is not None else duration * 3 + 2):
            await run()

    async def play_remote_audio(self, track: MediaStreamTrack) -> None:
        """Play a received track (any format; aiortc gives s16 stereo 48 kHz) until it ends."""
        resampler = av.AudioResampler(format="s16", layout="mono", rate=self.sample_rate)
        lane = self.mixer.add_lane()  # a three-party call plays two voices at once (hardware.mixer)
        try:
            while True:
                try:
                    # An audio track's frames; aiortc types recv() for every kind of track.
                    frame = cast(av.AudioFrame, await track.recv())
                except MediaStreamError:
                    return
                self.frames_received += 1
                if self._stream is None:
                    continue  # no speaker: keep draining so the receiver's queue cannot grow
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
                    for block in self.mixer.push(lane, samples):
                        self.enqueue(block)
        finally:
            for block in self.mixer.remove_lane(lane):
                if self._stream is not None:
                    self.enqueue(block)


def chime(sample_rate: int = SAMPLE_RATE, amplitude: float = 0.3) -> np.ndarray:
    """A short two-tone chime (ピンポン) as int16 mono."""
    parts = []
    for freq, dur in ((880.0, 0.25), (660.0, 0.35)):
        t = np.arange(int(dur * sample_rate)) / sample_rate
        envelope = np.minimum(1.0, t / 0.01) * np.exp(-3 * t)
        parts.append(np.sin(2 * np.pi * freq * t) * envelope)
    return (np.concatenate(parts) * amplitude * 32767).astype(np.int16)
