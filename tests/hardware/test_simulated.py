"""The simulated camera and microphone: frame size, format, timestamps and real-time pacing."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from hardware.simulated import TestPatternVideoTrack, ToneAudioTrack


async def test_video_frames_have_size_format_and_increasing_pts() -> None:
    track = TestPatternVideoTrack("Kiosk A", width=320, height=240, fps=30)
    frames = [await track.recv() for _ in range(4)]
    for frame in frames:
        assert (frame.width, frame.height) == (320, 240)
        assert frame.format.name == "bgr24"
        assert frame.time_base == track._pacer.time_base
    pts = [f.pts for f in frames]
    assert pts == [0, 3000, 6000, 9000]  # 90 kHz clock, 30 fps
    # The box moves: consecutive frames differ.
    a, b = (f.to_ndarray(format="bgr24") for f in frames[:2])
    assert np.any(a != b)


async def test_video_is_paced_at_its_fps(pacer_time) -> None:
    track = TestPatternVideoTrack("pace", width=160, height=120, fps=20)
    frames = [await track.recv() for _ in range(11)]
    # 20 fps: the 11th frame half a second after the first (an unpaced source would not wait at all).
    assert pacer_time.elapsed == pytest.approx(0.5) and pacer_time.sleeps == pytest.approx([0.05] * 10)
    assert [f.pts for f in frames] == [4500 * n for n in range(11)]


async def test_audio_frames_are_s16_mono_with_continuous_pts() -> None:
    track = ToneAudioTrack(frequency=1000, sample_rate=48_000, samples_per_frame=960)
    frames = [await track.recv() for _ in range(3)]
    assert [f.pts for f in frames] == [0, 960, 1920]
    for f in frames:
        assert f.format.name == "s16" and f.layout.name == "mono"
        assert f.samples == 960 and f.sample_rate == 48_000
    pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float64)
    # A 1 kHz tone: the spectrum peaks at 1 kHz and the phase is continuous across frames.
    spectrum = np.abs(np.fft.rfft(pcm))
    peak_hz = np.argmax(spectrum) * 48_000 / pcm.size
    assert abs(peak_hz - 1000) < 20
    assert np.max(np.abs(np.diff(pcm))) < 0.25 * 32767 * 2 * np.pi * 1000 / 48_000 * 1.05


async def test_audio_is_paced_and_zero_hz_is_silence(pacer_time) -> None:
    track = ToneAudioTrack(frequency=0)
    frames = [await track.recv() for _ in range(26)]
    # 50 frames a second: the 26th half a second after the first.
    assert pacer_time.elapsed == pytest.approx(0.5) and pacer_time.sleeps == pytest.approx([0.02] * 25)
    assert all(not np.any(f.to_ndarray()) for f in frames)


async def test_stopped_tracks_raise() -> None:
    video, audio = TestPatternVideoTrack("x", 160, 120), ToneAudioTrack()
    video.stop()
    audio.stop()
    with pytest.raises(MediaStreamError):
        await video.recv()
    with pytest.raises(MediaStreamError):
        await audio.recv()


def test_bad_parameters_are_named() -> None:
    with pytest.raises(ValueError, match="size"):
        TestPatternVideoTrack("x", 15, 120)
    with pytest.raises(ValueError, match="fps"):
        TestPatternVideoTrack("x", fps=0)
    with pytest.raises(ValueError, match="frequency"):
        ToneAudioTrack(frequency=30_000)


async def test_tracks_go_through_a_real_peer_connection() -> None:
    """Both tracks encode, travel over loopback and decode on the other side."""
    config = RTCConfiguration(iceServers=[])
    sender, receiver = RTCPeerConnection(config), RTCPeerConnection(config)
    got: dict[str, asyncio.Future] = {"video": asyncio.Future(), "audio": asyncio.Future()}
    readers: list[asyncio.Task] = []

    @receiver.on("track")
    def on_track(track) -> None:
        async def first() -> None:
            frame = await track.recv()
            got[track.kind].set_result(frame)

        readers.append(asyncio.ensure_future(first()))

    sender.addTrack(TestPatternVideoTrack("peer", 320, 240, fps=15))
    sender.addTrack(ToneAudioTrack())
    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        video = await asyncio.wait_for(got["video"], 10)
        audio = await asyncio.wait_for(got["audio"], 10)
        assert (video.width, video.height) == (320, 240)
        assert audio.sample_rate == 48_000
    finally:
        for task in readers:
            task.cancel()
        await sender.close()
        await receiver.close()
