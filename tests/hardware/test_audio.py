"""Microphone and speaker through the real sounddevice/PortAudio code, against a virtual PulseAudio device."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import itertools
import json
import os
import subprocess
import sys
import textwrap

import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from hardware.audio import (
    AudioDeviceError,
    Microphone,
    dbfs,
    meter_level,
    resolve_device,
)
from hardware.echo import create_echo_canceller
from hardware.speaker import Speaker, chime
from hardware.virtual_audio import PulseNullSink


def tone(freq: float, seconds: float, amplitude: float = 0.5, rate: int = 48_000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype(np.int16)


def peak_hz(samples: np.ndarray, rate: int = 48_000) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    spectrum[:5] = 0
    return float(np.argmax(spectrum) * rate / samples.size)


class StereoToneTrack(MediaStreamTrack):
    """Frames shaped like aiortc's received audio (s16 stereo 48 kHz, 960 samples); ends after `count`."""

    kind = "audio"

    def __init__(self, freq: float, count: int) -> None:
        super().__init__()
        self.count = count
        self.sent = 0
        self.pcm = tone(freq, count * 0.02, amplitude=0.5)

    async def recv(self) -> av.AudioFrame:
        if self.sent >= self.count:
            self.stop()
            raise MediaStreamError
        await asyncio.sleep(0.02)  # a network track arrives in real time
        mono = self.pcm[self.sent * 960 : (self.sent + 1) * 960]
        stereo = np.repeat(mono, 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        frame.sample_rate = 48_000
        frame.pts = self.sent * 960
        frame.time_base = fractions.Fraction(1, 48_000)
        self.sent += 1
        return frame


def test_levels() -> None:
    assert dbfs(np.zeros(960, np.int16)) == -100.0
    assert abs(dbfs(tone(1000, 0.02, amplitude=1.0)) - (-3.0)) < 0.2
    assert meter_level(-100) == 0.0 and meter_level(0) == 1.0 and 0.4 < meter_level(-30) < 0.6


async def test_microphone_records_paced_frames(pulse) -> None:
    mic = await Microphone("pulse").start()
    track = mic.track()
    try:
        assert mic.health().status == "degraded"  # no echo canceller given
        first = await asyncio.wait_for(track.recv(), 10)
        assert first.format.name == "s16" and first.layout.name == "mono"
        assert first.samples == 960 and first.sample_rate == 48_000

        # Device audio keeps arriving (skip the pulse start-up), then count frames over a bounded window.
        async def real_audio() -> None:
            while mic.blocks_delivered < 10:
                await track.recv()

        try:
            await asyncio.wait_for(real_audio(), 10)
        except TimeoutError:
            pytest.fail(
                f"no device audio in 10 s: opens={mic.opens} callbacks={mic.callbacks} "
                f"history={mic.health_history()}"
            )
        silence_before = track.silence_sent
        frames = []

        async def pull() -> None:
            while True:
                frames.append(await track.recv())

        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(pull(), 1.0)
        # 50 frames a second from the device clock; an unpaced device would give thousands.
        assert 20 <= len(frames) <= 80, len(frames)
        pts = [f.pts for f in frames]
        assert all(b - a == 960 for a, b in itertools.pairwise(pts))
        assert track.silence_sent == silence_before, "frames in the window were silence filler"
        assert mic.input_level() < 0.2  # the sink is silent
    finally:
        track.stop()
        await mic.close()


async def test_speaker_plays_remote_audio_into_the_sink_and_the_monitor_hears_it(pulse) -> None:
    mic = await Microphone("pulse").start()
    speaker = await Speaker("pulse").start()
    listen = mic.track()
    try:
        assert speaker.health().status == "ok"
        remote = StereoToneTrack(1000, count=150)  # 3 s of a 1 kHz tone, as aiortc delivers it
        player = asyncio.create_task(speaker.play_remote_audio(remote))

        async def hear_the_tone() -> np.ndarray:
            while True:
                block = (await listen.recv()).to_ndarray().reshape(-1)
                if dbfs(block) > -20 and abs(peak_hz(block) - 1000) < 60:
                    return block

        block = await asyncio.wait_for(hear_the_tone(), 15)
        assert dbfs(block) > -20
        assert mic.input_level() > 0.5
        await asyncio.wait_for(player, 15)  # returns when the remote track ends
        assert speaker.frames_received == 150
        assert speaker.samples_played > 0
    finally:
        listen.stop()
        await speaker.close()
        await mic.close()


async def test_chime_plays_to_the_end(pulse) -> None:
    speaker = await Speaker("pulse").start()
    try:
        sound = chime()
        await speaker.play(sound, timeout=10)
        assert speaker.samples_played >= sound.size
        assert speaker.buffered == 0
    finally:
        await speaker.close()


async def test_echo_cancellation_on_the_real_echo_path(pulse) -> None:
    """Noise played into the sink comes back on the monitor; the canceller removes most of it."""
    canceller, detail = create_echo_canceller(True)
    if canceller is None:
        pytest.skip(detail)
    plain = await Microphone("pulse").start()
    cleaned = await Microphone("pulse", echo=canceller).start()
    speaker = await Speaker("pulse", echo=canceller, max_buffer_s=0.1).start()
    tracks = [plain.track(), cleaned.track()]
    try:
        assert cleaned.health().status == "ok"
        rng = np.random.default_rng(3)
        far = np.convolve(rng.standard_normal(48_000 * 4), np.ones(6) / 6, mode="same")
        far = (far / np.abs(far).max() * 0.5 * 32767).astype(np.int16)
        playing = asyncio.create_task(speaker.play(far, timeout=20))
        got: dict[int, list[np.ndarray]] = {0: [], 1: []}
        silences: dict[int, list[int]] = {0: [], 1: []}

        async def collect(i: int) -> None:
            while True:
                got[i].append((await tracks[i].recv()).to_ndarray().reshape(-1))
                silences[i].append(tracks[i].silence_sent)

        collectors = [asyncio.create_task(collect(i)) for i in (0, 1)]
        await playing
        for task in collectors:
            task.cancel()
        await asyncio.gather(*collectors, return_exceptions=True)
        # Compare the last 1.5 s of the echo (after the canceller converged).
        before = np.concatenate(got[0][-75:])
        after = np.concatenate(got[1][-75:])
        assert dbfs(before) > -30, "the echo path did not carry the far-end signal"
        # Both microphones really delivered device audio in that window (no silence filler).
        for i in (0, 1):
            assert silences[i][-75] == silences[i][-1], f"microphone {i} went quiet"
        reduction = dbfs(before) - dbfs(after)
        print(f"echo reduction on the PulseAudio echo path: {reduction:.1f} dB")
        assert reduction > 10, reduction
    finally:
        for track in tracks:
            track.stop()
        await speaker.close()
        await cleaned.close()
        await plain.close()


async def test_unknown_device_is_named_and_does_not_raise(pulse) -> None:
    with pytest.raises(AudioDeviceError, match="no-such-mic"):
        resolve_device("no-such-mic", "input")
    mic = await Microphone("no-such-mic", retry_interval_s=60).start()
    speaker = await Speaker("no-such-speaker").start()
    try:
        assert mic.health().status == "error" and "no-such-mic" in mic.health().detail
        assert speaker.health().status == "error" and "no-such-speaker" in speaker.health().detail
        # The call still gets (silent) audio from a broken microphone.
        track = mic.track()
        frame = await asyncio.wait_for(track.recv(), 5)
        assert not np.any(frame.to_ndarray()) and track.silence_sent == 1
        track.stop()
        with pytest.raises(AudioDeviceError, match="not open"):
            await speaker.play(chime())
    finally:
        await speaker.close()
        await mic.close()


FLOOD_SCRIPT = textwrap.dedent(
    """
    import asyncio, contextlib, json, resource
    from hardware.audio import Microphone

    async def main():
        mic = await Microphone(None).start()   # ALSA "default" is the unpaced null device here
        track = mic.track()
        frames = 0
        async def pull():
            nonlocal frames
            while True:
                await track.recv()
                frames += 1
        async def flooded():
            while mic.callback_drops < 1000:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(flooded(), 20)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(pull(), 1.0)
        track.stop()
        await mic.close()
        print(json.dumps({"callbacks": mic.callbacks, "drops": mic.callback_drops, "frames": frames,
                          "max_queued": track.max_queued, "queue_blocks": track.queue_blocks,
                          "health": mic.health().status,
                          "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))

    asyncio.run(main())
    """
)


def test_unpaced_alsa_null_device_cannot_flood(tmp_path) -> None:
    """ALSA's null device delivers audio as fast as the CPU can: buffers stay bounded, the track paced."""
    asoundrc = tmp_path / "asound.conf"
    asoundrc.write_text("</usr/share/alsa/alsa.conf>\npcm.!default { type null }\n")
    env = dict(os.environ, ALSA_CONFIG_PATH=str(asoundrc))
    env.pop("PULSE_SERVER", None)
    done = subprocess.run(
        [sys.executable, "-c", FLOOD_SCRIPT], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0 and "PortAudio" in done.stderr and "callback_drops" not in done.stderr:
        pytest.skip(f"ALSA null device not usable here: {done.stderr.strip().splitlines()[-1:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    assert stats["callbacks"] > 10_000  # it really was a flood
    assert stats["drops"] >= 1000
    assert stats["max_queued"] <= stats["queue_blocks"]
    # In one second the track hands out about 1 s (+100 ms catch-up) of audio, never the flood.
    assert stats["frames"] <= 60, stats
    assert stats["rss_mb"] < 1000


async def test_audio_server_loss_is_reported_and_recovered(pulse) -> None:
    """The audio device vanishes (its server dies) and comes back: reported as an error, then recovered
    without restarting anything. The second server stands in for the "unplugged" device; when it dies the
    streams reconnect to the session's server (the device "plugged back in")."""
    lost = PulseNullSink().start()  # PULSE_SERVER now points at this one
    mic = await Microphone("pulse", retry_interval_s=0.2, stall_after_s=1.0).start()
    speaker = await Speaker("pulse", retry_interval_s=0.2, stall_after_s=1.0).start()
    track = mic.track()
    try:

        async def audio_after(opens: int) -> None:
            """Pull frames until the stream has been opened `opens` times and delivered audio since."""
            baseline: int | None = None
            while True:
                await track.recv()
                if mic.opens >= opens:
                    if baseline is None:
                        baseline = mic.blocks_delivered
                    elif mic.blocks_delivered > baseline:
                        return

        await asyncio.wait_for(audio_after(1), 10)
        lost.stop()  # the device disappears; PULSE_SERVER points back at the session's server
        await asyncio.wait_for(audio_after(2), 20)  # reopened and delivering again
        assert mic.opens >= 2
        assert any(h.status == "error" and "stopped delivering" in h.detail for h in mic.health_history())
        assert mic.health().usable

        async def speaker_back() -> None:
            while speaker.opens < 2 or not speaker.health().usable:
                await track.recv()  # paced by the microphone: a bounded, real-time wait

        await asyncio.wait_for(speaker_back(), 20)
        await speaker.play(chime(), timeout=10)
    finally:
        track.stop()
        lost.stop()
        await speaker.close()
        await mic.close()
