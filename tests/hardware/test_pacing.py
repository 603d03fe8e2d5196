"""The real-time pacer behind the simulated and camera tracks, on a fake clock (``pacer_time``): each
timestamp is asserted with the instant it is handed out, exactly, however loaded the machine."""

from __future__ import annotations

import pytest

from hardware.pacing import Pacer, video_pacer


async def test_timestamps_step_and_each_is_handed_out_when_due(pacer_time) -> None:
    pacer = video_pacer(50)
    stamps, times = [], []
    for _ in range(16):
        stamps.append(await pacer.next())
        times.append(pacer_time.elapsed)
    assert stamps == [1800 * n for n in range(16)]  # 90 kHz clock, 50 Hz
    assert times == pytest.approx([n / 50 for n in range(16)])  # never early: 16 in 0.3 s, never a flood
    assert pacer_time.sleeps == pytest.approx([1 / 50] * 15)


async def test_a_late_consumer_catches_up_and_a_stalled_one_gets_no_burst(pacer_time) -> None:
    pacer = Pacer(1000, 10, max_lag_s=1.0)  # 100 a second
    assert await pacer.next() == 0
    pacer_time.now += 0.025  # the consumer took 25 ms: two timestamps are overdue
    assert [await pacer.next(), await pacer.next()] == [10, 20] and pacer_time.sleeps == []  # at once
    assert await pacer.next() == 30 and pacer_time.sleeps == [pytest.approx(0.005)]  # back on schedule
    pacer_time.now += 5.0  # stalled past max_lag_s: the schedule restarts instead of 500 at once
    assert await pacer.next() == 40 and len(pacer_time.sleeps) == 1
    assert await pacer.next() == 50 and pacer_time.sleeps[-1] == pytest.approx(0.01)


def test_bad_rates_are_named() -> None:
    with pytest.raises(ValueError, match="fps"):
        video_pacer(0)
    with pytest.raises(ValueError, match="positive"):
        Pacer(48_000, 0)
