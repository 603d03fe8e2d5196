"""Sound cues: short tones generated with numpy (no sound files), played through the kiosk speaker.

Each cue is a few sine notes with soft edges, 48 kHz mono int16; ``wav()`` gives the same samples as a WAV
file in memory. ``CuePlayer.play(name)`` hands the samples to an output (the hardware speaker's
``enqueue``); with no output (tests, offscreen) the cue is still generated and recorded in ``played``.
"""

from __future__ import annotations

import io
import logging
import wave
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
# name: (notes in Hz, milliseconds per note). Rising = good news, falling = attention/ending.
CUES: dict[str, tuple[tuple[float, ...], int]] = {
    "touch": ((1320.0,), 40),
    "connected": ((660.0, 880.0, 1320.0), 90),
    "chat": ((988.0, 1319.0), 80),
    "scan_request": ((784.0, 784.0), 90),
    "scan_done": ((880.0, 1175.0), 90),
    "document": ((1047.0,), 100),
    "warning": ((523.0, 523.0, 523.0), 110),
    "ended": ((880.0, 660.0, 440.0), 100),
    "error": ((330.0, 262.0), 150),
}


def tone(notes: tuple[float, ...], ms: int, volume: float = 0.25, rate: int = SAMPLE_RATE) -> np.ndarray:
    if not notes or ms <= 0:
        raise ValueError("a cue needs at least one note and a positive length")
    n = rate * ms // 1000
    t = np.arange(n) / rate
    fade = min(n // 4, rate * 5 // 1000)
    envelope = np.ones(n)
    envelope[:fade] = np.linspace(0, 1, fade)
    envelope[n - fade :] = np.linspace(1, 0, fade)
    parts = [np.sin(2 * np.pi * f * t) * envelope for f in notes]
    return (np.concatenate(parts) * volume * 32767).astype(np.int16)


def wav(samples: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


class CuePlayer:
    def __init__(self, output: Callable[[np.ndarray], None] | None = None, *, enabled: bool = True):
        self.output = output
        self.enabled = enabled
        self.samples = {name: tone(notes, ms) for name, (notes, ms) in CUES.items()}
        self.played: list[str] = []

    def wav(self, name: str) -> bytes:
        return wav(self.samples[name])

    def play(self, name: str) -> None:
        if name not in self.samples:
            raise KeyError(f"unknown sound cue {name!r}")
        if not self.enabled:
            return
        self.played.append(name)
        del self.played[:-100]
        if self.output is not None:
            try:
                self.output(self.samples[name])
            except Exception as exc:  # a broken speaker must never break the kiosk
                log.warning("sound cue %s not played: %s", name, exc)
