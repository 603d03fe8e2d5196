"""Simulated media sources for demos and tests: a moving test pattern and a sine tone, paced in real time.

Both are ordinary aiortc tracks: add them to an RTCPeerConnection like a camera or a microphone.
"""

from __future__ import annotations

import contextlib
import fractions
import time
from typing import cast

import av
import cv2
import numpy as np
from aiortc import MediaStreamTrack, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError

from hardware.fonts import draw_text_mask, text_mask
from hardware.pacing import Pacer, video_pacer

# SMPTE-like colour bars, BGR.
_BARS = [
    (192, 192, 192),
    (0, 192, 192),
    (192, 192, 0),
    (0, 192, 0),
    (192, 0, 192),
    (0, 0, 192),
    (192, 0, 0),
]


def _ascii(text: str) -> str:
    """cv2.putText draws ASCII only: anything else becomes '?'."""
    return text.encode("ascii", "replace").decode("ascii")


def _background(width: int, height: int) -> np.ndarray:
    img = np.zeros((height, width, 3), np.uint8)
    bar_h = height * 2 // 3
    for i, colour in enumerate(_BARS):
        x0 = i * width // len(_BARS)
        x1 = (i + 1) * width // len(_BARS)
        img[:bar_h, x0:x1] = colour
    # Grey ramp under the bars.
    ramp = np.linspace(0, 255, width, dtype=np.uint8)
    img[bar_h:, :] = ramp[None, :, None]
    return img


class TestPatternVideoTrack(VideoStreamTrack):
    """Colour bars with a moving box, a label and a clock, `fps` frames a second in bgr24."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, label: str, width: int = 640, height: int = 480, fps: int = 15) -> None:
        super().__init__()
        if width < 16 or height < 16 or width % 2 or height % 2:
            raise ValueError(f"test pattern size must be even and at least 16x16, got {width}x{height}")
        if not 1 <= fps <= 120:
            raise ValueError(f"fps must be between 1 and 120, got {fps}")
        self.label = label
        self.width = width
        self.height = height
        self.fps = fps
        self.frames_sent = 0
        self._background = _background(width, height)
        self._pacer = video_pacer(fps)
        self._box = max(8, min(width, height) // 8)
        self._scale = max(0.4, height / 480)
        # A Japanese kiosk label is drawn from a pre-rendered mask (cv2.putText only knows ASCII).
        self._label_mask = None if label.isascii() else text_mask(label, round(30 * self._scale), bold=True)

    async def next_timestamp(self) -> tuple[int, fractions.Fraction]:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._pacer.next()
        return pts, self._pacer.time_base

    def render(self, index: int) -> np.ndarray:
        """Frame number `index` as a BGR array (also used for a still preview)."""
        img = self._background.copy()
        box = self._box
        span_x = self.width - box
        span_y = self.height * 2 // 3 - box
        # Bounce the box across the bars: visibly moving, so a frozen picture is obvious.
        x = abs((index * 7) % (2 * span_x) - span_x)
        y = abs((index * 3) % (2 * max(1, span_y)) - span_y)
        img[y : y + box, x : x + box] = (255, 255, 255)
        scale = self._scale
        thick = max(1, round(2 * scale))
        if self._label_mask is not None:
            draw_text_mask(img, self._label_mask, 10, int(8 * scale), (255, 255, 255))
        else:
            cv2.putText(
                img,
                _ascii(self.label),
                (10, int(34 * scale)),
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                (0, 0, 0),
                thick + 2,
                cv2.LINE_AA,
            )
            cv2.putText(
                img,
                _ascii(self.label),
                (10, int(34 * scale)),
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                (255, 255, 255),
                thick,
                cv2.LINE_AA,
            )
        clock = time.strftime("%H:%M:%S") + f".{int(time.time() * 1000) % 1000:03d}  #{index}"
        cv2.putText(
            img,
            clock,
            (10, self.height - int(14 * scale)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.8 * scale,
            (0, 0, 0),
            thick + 2,
            cv2.LINE_AA,
        )
        cv2.putText(
            img,
            clock,
            (10, self.height - int(14 * scale)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.8 * scale,
            (0, 255, 255),
            thick,
            cv2.LINE_AA,
        )
        return img

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self.render(self.frames_sent), format="bgr24")
        frame.pts = pts
        frame.time_base = time_base
        self.frames_sent += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A continuous sine tone (frequency 0: silence), s16 mono, paced in real time."""

    kind = "audio"

    def __init__(
        self,
        frequency: float = 440.0,
        sample_rate: int = 48_000,
        samples_per_frame: int = 960,
        amplitude: float = 0.25,
    ) -> None:
        super().__init__()
        if frequency < 0 or frequency >= sample_rate / 2:
            raise ValueError(f"tone frequency must be in [0, {sample_rate / 2}) Hz, got {frequency}")
        if sample_rate <= 0 or samples_per_frame <= 0:
            raise ValueError(
                f"sample_rate and samples_per_frame must be positive, got "
                f"{sample_rate} and {samples_per_frame}"
            )
        if not 0 <= amplitude <= 1:
            raise ValueError(f"amplitude must be in [0, 1], got {amplitude}")
        self.frequency = frequency
        self.sample_rate = sample_rate
        self.samples_per_frame = samples_per_frame
        self.amplitude = amplitude
        self.frames_sent = 0
        self._pacer = Pacer(sample_rate, samples_per_frame)
        self._sample = 0  # index of the next sample, for a phase-continuous tone
        self._omega = 2 * np.pi * frequency / sample_rate

    def samples(self, count: int) -> np.ndarray:
        """The next `count` samples as int16 (advances the tone's phase)."""
        if self.frequency == 0 or self.amplitude == 0:
            out = np.zeros(count, np.int16)
        else:
            n = np.arange(self._sample, self._sample + count, dtype=np.float64)
            out = (np.sin(self._omega * n) * (self.amplitude * 32767)).astype(np.int16)
        self._sample += count
        if self.frequency:
            # Keep the index small so float precision never degrades over a long call.
            period = self.sample_rate / self.frequency
            if period.is_integer():
                self._sample %= int(period)
        return out

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._pacer.next()
        data = self.samples(self.samples_per_frame)
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.sample_rate
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, self.sample_rate)
        self.frames_sent += 1
        return frame


class SimulatedMicrophone:
    """Hands out tone tracks (one per call) and meters what they send, like a real microphone would."""

    def __init__(self, frequency: float = 440.0, sample_rate: int = 48_000) -> None:
        from hardware.audio import LevelMeter

        self.frequency = frequency
        self.sample_rate = sample_rate
        self.meter = LevelMeter()

    def track(self) -> ToneAudioTrack:
        return _MeteredTone(self, self.frequency, self.sample_rate)

    def input_level(self) -> float:
        return self.meter.level

    def input_dbfs(self) -> float:
        return self.meter.dbfs

    async def record(self, seconds: float, timeout: float | None = None) -> np.ndarray:
        """Seconds of the tone, generated without waiting (nothing real to wait for)."""
        tone = ToneAudioTrack(self.frequency, self.sample_rate)
        samples = tone.samples(int(seconds * self.sample_rate))
        for i in range(0, samples.size, 960):
            self.meter.update(samples[i : i + 960])
        return samples


class _MeteredTone(ToneAudioTrack):
    def __init__(self, owner: SimulatedMicrophone, frequency: float, sample_rate: int) -> None:
        super().__init__(frequency, sample_rate)
        self._owner = owner

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()
        self._owner.meter.update(frame.to_ndarray().reshape(-1))
        return frame


class SimulatedSpeaker:
    """Drains remote audio (so the receiver's queue cannot grow) and counts what it would have played."""

    def __init__(self) -> None:
        self.frames_received = 0
        self.samples_queued = 0
        self.samples_played = 0

    async def play_remote_audio(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                # An audio track's frames; aiortc types recv() for every kind of track.
                frame = cast(av.AudioFrame, await track.recv())
            except MediaStreamError:
                return
            self.frames_received += 1
            self.samples_queued += frame.samples
            self.samples_played += frame.samples

    async def play(self, samples: np.ndarray, timeout: float | None = None) -> None:
        if samples.ndim != 1:
            raise ValueError(f"speaker wants mono samples, got shape {samples.shape}")
        self.samples_queued += samples.size
        self.samples_played += samples.size


class SimulatedMedia:
    """A party's simulated camera and microphone (``remote_call.party.MediaSources``): a fresh test pattern
    and tone for each call; received audio is drained (so the receiver's queue cannot grow) and dropped."""

    def __init__(self, label: str, width: int, height: int, fps: int, tone_hz: float) -> None:
        self.label, self.width, self.height, self.fps, self.tone_hz = label, width, height, fps, tone_hz

    def camera_track(self) -> MediaStreamTrack:
        return TestPatternVideoTrack(self.label, self.width, self.height, self.fps)

    def microphone_track(self) -> MediaStreamTrack:
        return ToneAudioTrack(self.tone_hz)

    async def play_remote_audio(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
