"""The kiosk's media around the call: mute, volume, self-view, the preflight preview and the mic level meter.

``KioskMedia`` wraps any ``MediaSources`` (real devices or simulated ones) and is itself a
``MediaSources``: the call gets a camera track that also feeds the self-view, a microphone track that sends
silence while muted (the call keeps its audio timing), and remote audio scaled by the volume. Frames are
kept in memory only, newest one each, and dropped by ``clear()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, cast

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from remote_call.party import MediaSources
from remote_call.tasks import cancel_and_wait

log = logging.getLogger(__name__)


class FrameSlot:
    """The newest frame of a stream and how many arrived; nothing older is kept."""

    def __init__(self) -> None:
        self.frame: Any = None
        self.count = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def push(self, frame: Any) -> None:
        self.frame = frame
        self.count += 1
        if self._waiters:
            for wanted, future in list(self._waiters):
                if self.count >= wanted and not future.done():
                    future.set_result(None)

    async def wait_count(self, count: int, timeout: float) -> None:
        """Until at least ``count`` frames have arrived in total (tests, preflight checks)."""
        if self.count >= count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (count, future)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            self._waiters.remove(entry)

    def clear(self) -> None:
        self.frame = None


def audio_level(frame: av.AudioFrame) -> float:
    """RMS of an s16 frame, 0..1."""
    samples = frame.to_ndarray().astype(np.float32)
    if samples.size == 0:
        return 0.0
    return float(min(1.0, np.sqrt(np.mean(samples * samples)) / 32768.0))


def _rebuilt(frame: av.AudioFrame, samples: np.ndarray) -> av.AudioFrame:
    out = av.AudioFrame.from_ndarray(samples, format=frame.format.name, layout=frame.layout.name)
    out.sample_rate = frame.sample_rate
    out.pts = frame.pts
    out.time_base = frame.time_base
    return out


class TeeVideoTrack(MediaStreamTrack):
    """Passes the camera's frames to the call and keeps the newest one for the self-view."""

    kind = "video"

    def __init__(self, inner: MediaStreamTrack, slot: FrameSlot):
        super().__init__()
        self._inner = inner
        self._slot = slot
        self._sent = 0

    async def recv(self) -> av.VideoFrame:
        frame = cast(av.VideoFrame, await self._inner.recv())  # aiortc types recv() for every kind of track
        self._slot.push(frame)
        self._sent += 1
        return frame

    @property
    def frames_sent(self) -> int:
        """For the call-quality telemetry (fps out): this track's frames, not the shared self-view's count,
        which every connection's track adds to (three of them with an interpreter and a guest)."""
        return self._sent

    def stop(self) -> None:
        super().stop()
        self._inner.stop()


class MicTrack(MediaStreamTrack):
    """The microphone for the call: measures the level; while muted, sends silence of the same shape."""

    kind = "audio"

    def __init__(self, inner: MediaStreamTrack, media: KioskMedia):
        super().__init__()
        self._inner = inner
        self._media = media
        self.silent_frames = 0

    async def recv(self) -> av.AudioFrame:
        frame = cast(av.AudioFrame, await self._inner.recv())  # an audio track's frames
        if self._media.muted:
            self.silent_frames += 1
            self._media.mic_level = 0.0
            return _rebuilt(frame, np.zeros_like(frame.to_ndarray()))
        self._media.mic_level = audio_level(frame)
        return frame

    def stop(self) -> None:
        super().stop()
        self._inner.stop()


class VolumeTrack(MediaStreamTrack):
    """Remote audio scaled by the kiosk's volume (0..1) before it reaches the speaker."""

    kind = "audio"

    def __init__(self, inner: MediaStreamTrack, media: KioskMedia):
        super().__init__()
        self._inner = inner
        self._media = media

    async def recv(self) -> av.AudioFrame:
        frame = cast(av.AudioFrame, await self._inner.recv())  # an audio track's frames
        volume = self._media.volume
        if volume >= 0.999:
            return frame
        samples = frame.to_ndarray()
        scaled = np.clip(samples.astype(np.float32) * volume, -32768, 32767).astype(samples.dtype)
        return _rebuilt(frame, scaled)


class KioskMedia:
    VOLUME_STEPS = (0.25, 0.5, 0.75, 1.0)

    def __init__(self, inner: MediaSources):
        self.inner = inner
        self.muted = False
        self.volume = 0.75
        self.self_view = FrameSlot()
        self.preview = FrameSlot()
        self.mic_level = 0.0
        self.camera_ok = True
        self.microphone_ok = True
        self._preview_task: asyncio.Task | None = None
        self._preview_tracks: list[MediaStreamTrack] = []

    # ------------------------------------------------------------------ MediaSources for the call

    def camera_track(self) -> MediaStreamTrack | None:
        try:
            track = self.inner.camera_track()
        except Exception as exc:
            log.warning("camera unavailable: %s", exc)
            track = None
        self.camera_ok = track is not None
        return TeeVideoTrack(track, self.self_view) if track is not None else None

    def microphone_track(self) -> MediaStreamTrack | None:
        try:
            track = self.inner.microphone_track()
        except Exception as exc:
            log.warning("microphone unavailable: %s", exc)
            track = None
        self.microphone_ok = track is not None
        return MicTrack(track, self) if track is not None else None

    async def play_remote_audio(self, track: MediaStreamTrack) -> None:
        await self.inner.play_remote_audio(VolumeTrack(track, self))

    # ------------------------------------------------------------------ resident controls

    def set_muted(self, muted: bool) -> None:
        self.muted = muted

    def step_volume(self, direction: int) -> float:
        steps = self.VOLUME_STEPS
        index = min(range(len(steps)), key=lambda i: abs(steps[i] - self.volume))
        self.volume = steps[max(0, min(len(steps) - 1, index + direction))]
        return self.volume

    # ------------------------------------------------------------------ preflight

    def start_preview(self) -> None:
        """Camera preview and mic meter before the call ("こちらに映ります"); stopped by stop_preview()."""
        if self._preview_task is not None:
            return
        camera = self.camera_track()
        microphone = self.microphone_track()
        self._preview_tracks = [t for t in (camera, microphone) if t is not None]
        self._preview_task = asyncio.create_task(self._run_preview(camera, microphone), name="kiosk-preview")

    async def _run_preview(
        self, camera: MediaStreamTrack | None, microphone: MediaStreamTrack | None
    ) -> None:
        async def pump(track: MediaStreamTrack, slot: FrameSlot | None) -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    frame = await track.recv()
                    if slot is not None:
                        slot.push(frame)

        jobs = []
        if camera is not None:
            jobs.append(pump(camera, self.preview))
        if microphone is not None:
            jobs.append(pump(microphone, None))
        if jobs:
            await asyncio.gather(*jobs)

    async def stop_preview(self) -> None:
        task, self._preview_task = self._preview_task, None
        for track in self._preview_tracks:
            track.stop()
        self._preview_tracks = []
        if task is not None:
            await cancel_and_wait(task)
        self.preview.clear()
        self.mic_level = 0.0

    def clear(self) -> None:
        """Privacy reset: drop every frame of the resident and the controls they set."""
        self.self_view.clear()
        self.preview.clear()
        self.muted = False
        self.volume = 0.75
        self.mic_level = 0.0
