"""The speaker's mixer: two remote voices at once (officer and interpreter) play together, not in turns."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from hardware.audio import Microphone
from hardware.mixer import AudioMixer
from hardware.speaker import Speaker
from tests.hardware.test_audio import StereoToneTrack


def const(value: int, n: int) -> np.ndarray:
    return np.full(n, value, np.int16)


def test_one_lane_passes_samples_straight_through() -> None:
    mixer = AudioMixer(block=4)
    lane = mixer.add_lane()
    out = mixer.push(lane, const(7, 3))
    assert [block.tolist() for block in out] == [[7, 7, 7]]
    assert mixer.remove_lane(lane) == []


def test_two_lanes_are_summed_block_by_block_and_saturate() -> None:
    mixer = AudioMixer(block=4)
    a, b = mixer.add_lane(), mixer.add_lane()
    assert mixer.push(a, const(100, 6)) == []  # waits for the other voice
    out = mixer.push(b, const(30_000, 4))
    assert [block.tolist() for block in out] == [[30_100] * 4]
    out = mixer.push(b, const(32_000, 4))  # a holds 2 more samples: not a whole block yet
    assert out == []
    out = mixer.push(a, const(1_000, 2))
    assert [block.tolist() for block in out] == [[32_100, 32_100, 32_767, 32_767]]  # 33,000 saturates


def test_a_late_or_silent_lane_is_padded_once_the_other_is_far_ahead() -> None:
    mixer = AudioMixer(block=4, lag_blocks=3)
    a, _b = mixer.add_lane(), mixer.add_lane()
    assert mixer.push(a, const(5, 11)) == []
    out = mixer.push(a, const(5, 1))  # 3 blocks ahead: the oldest plays with silence for b
    assert [block.tolist() for block in out] == [[5] * 4]
    assert [block.tolist() for block in mixer.push(a, const(6, 4))] == [[5] * 4]  # stays 2 blocks behind


def test_removing_a_lane_mixes_out_what_both_held_and_the_survivor_passes_through_again() -> None:
    mixer = AudioMixer(block=4)
    a, b = mixer.add_lane(), mixer.add_lane()
    mixer.push(a, const(1, 2))
    mixer.push(b, const(2, 3))
    out = mixer.remove_lane(b)
    assert [block.tolist() for block in out] == [[3, 3, 2]]
    assert [block.tolist() for block in mixer.push(a, const(9, 2))] == [[9, 9]]


def test_bad_samples_and_unknown_lanes_are_named() -> None:
    mixer = AudioMixer(block=4)
    lane = mixer.add_lane()
    with pytest.raises(ValueError, match="mono int16"):
        mixer.push(lane, np.zeros((2, 2), np.int16))
    with pytest.raises(KeyError, match="lane 99"):
        mixer.push(99, const(1, 1))
    with pytest.raises(ValueError, match="positive block"):
        AudioMixer(block=0)


async def test_two_remote_voices_play_at_once_through_the_real_speaker(pulse) -> None:
    """An officer at 700 Hz and an interpreter at 1,300 Hz: the monitor hears both in the same 20 ms, and
    the two 2 s tracks take about 2 s of device time, not 4 (appended in turns they would)."""
    mic = await Microphone("pulse").start()
    speaker = await Speaker("pulse").start()
    listen = mic.track()
    try:
        officer, interpreter = StereoToneTrack(700, count=100), StereoToneTrack(1300, count=100)
        players = [asyncio.create_task(speaker.play_remote_audio(t)) for t in (officer, interpreter)]

        def strength(block: np.ndarray, hz: float) -> float:
            spectrum = np.abs(np.fft.rfft(block.astype(np.float64)))
            index = round(hz * block.size / 48_000)
            return float(spectrum[index - 2 : index + 3].max() / (spectrum.sum() + 1e-9))

        async def hear_both() -> None:
            while True:
                block = (await listen.recv()).to_ndarray().reshape(-1)
                if strength(block, 700) > 0.05 and strength(block, 1300) > 0.05:
                    return

        await asyncio.wait_for(hear_both(), 15)
        await asyncio.wait_for(asyncio.gather(*players), 15)
        assert speaker.frames_received == 200
        assert speaker.mixer.lanes == 0
        assert speaker.samples_queued <= 100 * 960 + 3 * speaker.block  # mixed, not appended
    finally:
        listen.stop()
        await speaker.close()
        await mic.close()
