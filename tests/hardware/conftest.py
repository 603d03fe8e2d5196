"""Fixtures for the hardware tests: a private PulseAudio server (paced virtual speaker + microphone), and a
fake clock for the real-time pacer."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from hardware import pacing
from hardware.audio import rescan_devices
from hardware.virtual_audio import PulseNullSink, VirtualAudioError


class PacerTime:
    """The pacer's clock and sleep (``hardware.pacing`` reads ``time.monotonic``, awaits ``asyncio.sleep``):
    time moves only by the pacer's sleeps or by the test (``now += s``), and every sleep is recorded."""

    def __init__(self) -> None:
        self.start = self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    @property
    def elapsed(self) -> float:
        return self.now - self.start


@pytest.fixture
def pacer_time(monkeypatch: pytest.MonkeyPatch) -> PacerTime:
    """Every pacer (and so every simulated track) runs on a fake clock for this test."""
    fake = PacerTime()
    monkeypatch.setattr(pacing, "time", fake)
    monkeypatch.setattr(pacing, "asyncio", fake)
    return fake


@pytest.fixture(scope="session")
def pulse() -> Iterator[PulseNullSink]:
    """A PulseAudio null sink for this test session; sounddevice reaches it as device "pulse"."""
    server = PulseNullSink()
    try:
        server.start()
    except VirtualAudioError as exc:
        pytest.skip(f"virtual PulseAudio device unavailable: {exc}")
    if "sounddevice" in sys.modules:
        # PortAudio listed devices before this server existed (another test imported sounddevice first).
        rescan_devices()
    try:
        yield server
    finally:
        server.stop()
