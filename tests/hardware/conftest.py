"""Fixtures for the hardware tests: a private PulseAudio server (paced virtual speaker + microphone)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from hardware.audio import rescan_devices
from hardware.virtual_audio import PulseNullSink, VirtualAudioError


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
