"""The real-time pacer behind the simulated and camera tracks."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from hardware.pacing import Pacer, video_pacer


async def test_timestamps_step_and_the_rate_is_bounded() -> None:
    pacer = video_pacer(50)
    stamps: list[int] = []

    async def run() -> None:
        while True:
            stamps.append(await pacer.next())

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run(), 0.3)
    assert stamps[:3] == [0, 1800, 3600]
    assert 5 <= len(stamps) <= 25, len(stamps)  # ~16 at 50 Hz over 0.3 s, never a flood


def test_bad_rates_are_named() -> None:
    with pytest.raises(ValueError, match="fps"):
        video_pacer(0)
    with pytest.raises(ValueError, match="positive"):
        Pacer(48_000, 0)
