"""Echo cancellation and noise suppression for the hands-free kiosk: WebRTC's audio processing module.

The module comes from the optional `livekit` wheel (`rtc.AudioProcessingModule`, 10 ms frames). Without it
the kiosk still works; `create_echo_canceller` then returns None and a detail saying why, which the audio
device turns into a "degraded" health status.
"""

from __future__ import annotations

import logging
import time

import numpy as np

log = logging.getLogger(__name__)

CHUNK_MS = 10


class EchoCanceller:
    """Removes the speaker's sound from the microphone: feed what is played (`render`), then clean the mic
    (`capture`). Mono int16 blocks whose length is a multiple of 10 ms; call both from one thread."""

    def __init__(self, sample_rate: int = 48_000, noise_suppression: bool = True, delay_ms: int = 40) -> None:
        from livekit import rtc  # optional extra: ImportError means "not available"

        if sample_rate % 100:
            raise ValueError(f"sample rate must be a multiple of 100 Hz for 10 ms frames, got {sample_rate}")
        self._rtc = rtc
        self.sample_rate = sample_rate
        self.chunk = sample_rate * CHUNK_MS // 1000
        self.delay_ms = delay_ms
        self._apm = rtc.AudioProcessingModule(
            echo_cancellation=True,
            noise_suppression=noise_suppression,
            high_pass_filter=True,
            auto_gain_control=False,
        )
        self.frames_processed = 0
        self.last_run_s = 0.0  # processing time of the last measure_echo_reduction run

    def _chunks(self, block: np.ndarray) -> int:
        if block.dtype != np.int16 or block.ndim != 1:
            raise ValueError(f"echo canceller wants mono int16 samples, got {block.dtype} {block.shape}")
        if block.size % self.chunk:
            raise ValueError(f"block of {block.size} samples is not a multiple of 10 ms ({self.chunk})")
        return block.size // self.chunk

    def render(self, block: np.ndarray) -> None:
        """Tell the canceller what the speaker is about to play."""
        for i in range(self._chunks(block)):
            part = block[i * self.chunk : (i + 1) * self.chunk]
            frame = self._rtc.AudioFrame(part.tobytes(), self.sample_rate, 1, self.chunk)
            self._apm.process_reverse_stream(frame)

    def capture(self, block: np.ndarray) -> np.ndarray:
        """Return the microphone block with the echo (and noise) removed."""
        out = np.empty_like(block)
        for i in range(self._chunks(block)):
            part = block[i * self.chunk : (i + 1) * self.chunk]
            frame = self._rtc.AudioFrame(part.tobytes(), self.sample_rate, 1, self.chunk)
            self._apm.set_stream_delay_ms(self.delay_ms)
            self._apm.process_stream(frame)
            out[i * self.chunk : (i + 1) * self.chunk] = np.frombuffer(frame.data, np.int16)
        self.frames_processed += 1
        return out


def create_echo_canceller(
    enabled: bool, sample_rate: int = 48_000, delay_ms: int = 40
) -> tuple[EchoCanceller | None, str]:
    """(canceller, detail): None with a reason when disabled or when the livekit wheel is missing."""
    if not enabled:
        return None, "echo cancellation disabled in config"
    try:
        return EchoCanceller(sample_rate, delay_ms=delay_ms), "echo cancellation and noise suppression on"
    except ImportError:
        detail = "echo cancellation not available: install the optional 'livekit' wheel"
        log.warning(detail)
        return None, detail
    except Exception as exc:  # the native module failed to start
        detail = f"echo cancellation not available: {exc}"
        log.warning(detail)
        return None, detail


def erle_db(before: np.ndarray, after: np.ndarray) -> float:
    """Echo return loss enhancement: how much quieter the echo got, in dB."""
    p_in = float(np.mean(before.astype(np.float64) ** 2))
    p_out = float(np.mean(after.astype(np.float64) ** 2))
    return 10 * np.log10(max(p_in, 1e-12) / max(p_out, 1e-12))


def synthetic_echo(
    seconds: float = 6.0, sample_rate: int = 48_000, delay_ms: float = 30.0, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(far_end, mic): speech-like modulated noise and its echo through a small room response."""
    rng = np.random.default_rng(seed)
    count = int(seconds * sample_rate)
    far = np.convolve(rng.standard_normal(count), np.ones(8) / 8, mode="same")
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 3 * np.arange(count) / sample_rate))
    far = far * envelope
    far = (far / np.max(np.abs(far)) * 0.5 * 32767).astype(np.int16)
    response = np.zeros(400)
    response[[0, 50, 180, 399]] = [0.5, 0.2, -0.1, 0.05]
    delayed = np.concatenate([np.zeros(int(delay_ms * sample_rate / 1000)), far.astype(np.float64)])
    mic = np.convolve(delayed, response)[:count].clip(-32767, 32767).astype(np.int16)
    return far, mic


def measure_echo_reduction(canceller: EchoCanceller, seconds: float = 6.0, settle_s: float = 3.0) -> float:
    """Run a synthetic echo through the canceller in 20 ms blocks; ERLE (dB) after it has converged."""
    far, mic = synthetic_echo(seconds, canceller.sample_rate, delay_ms=canceller.delay_ms)
    block = canceller.chunk * 2
    out = np.zeros_like(mic)
    started = time.perf_counter()
    for i in range(0, mic.size - block + 1, block):
        canceller.render(far[i : i + block])
        out[i : i + block] = canceller.capture(mic[i : i + block])
    canceller.last_run_s = time.perf_counter() - started
    tail = slice(int(settle_s * canceller.sample_rate), (mic.size // block) * block)
    return erle_db(mic[tail], out[tail])
