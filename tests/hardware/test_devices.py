"""KioskDevices: one factory for a kiosk's devices; broken devices are named and never stop the rest."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection

from config.schema import AudioConfig, CameraConfig, DevicesConfig, PrinterConfig, ScannerConfig
from hardware.devices import KioskDevices
from hardware.fake_escpos_printer import FakeEscposPrinter
from hardware.receipt import Slip
from hardware.scanner import ScannerError
from hardware.selftest import run_selftest
from hardware.simulated import ToneAudioTrack


class FiniteTone(ToneAudioTrack):
    def __init__(self, count: int) -> None:
        super().__init__(440)
        self.count = count

    async def recv(self):
        if self.frames_sent >= self.count:
            self.stop()
        return await super().recv()


def make_video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (320, 240))
    for i in range(10):
        writer.write(np.full((240, 320, 3), (0, 180, 0 + i), np.uint8))
    writer.release()
    return path


async def pull(track, count: int, timeout: float = 10.0) -> list:
    async def run():
        return [await track.recv() for _ in range(count)]

    return await asyncio.wait_for(run(), timeout)


async def test_shipped_defaults_are_all_simulated_and_healthy() -> None:
    devices = await KioskDevices.open(DevicesConfig(), "Kiosk Ueda")
    try:
        health = devices.health()
        assert set(health) == {"camera", "microphone", "speaker", "scanner", "printer"}
        assert all(h.status == "ok" for h in health.values()), health
        assert all(isinstance(h.to_dict()["since"], float) for h in health.values())
        for _call in range(2):  # two consecutive calls
            video, audio = devices.camera_track(), devices.microphone_track()
            frames = await pull(video, 2)
            assert (frames[0].width, frames[0].height) == (640, 480)
            await pull(audio, 3)
            video.stop()
            audio.stop()
        assert devices.input_level() > 0.5  # the 440 Hz tone is metered
        await asyncio.wait_for(devices.play_remote_audio(FiniteTone(5)), 5)
        assert devices.remote_audio_frames == 5
        page = await devices.scanner.scan()
        assert page.width > 1000
        result = await devices.printer.print_slip(Slip("B-7", "子育てあんしん課", qr_data="x"))
        assert result.ok and devices.printer.last_png.startswith(b"\x89PNG")
    finally:
        await devices.close()


async def test_all_real_drivers_against_virtual_devices(pulse, tmp_path: Path) -> None:
    video = make_video(tmp_path / "cam.avi")
    async with FakeEscposPrinter("ok") as fake:
        config = DevicesConfig(
            camera=CameraConfig(driver="real", source=str(video), width=320, height=240, fps=15),
            audio=AudioConfig(driver="real", input_device="pulse", output_device="pulse"),
            scanner=ScannerConfig(driver="real", backend="sane", device="test", resolution_dpi=75),
            printer=PrinterConfig(
                driver="real", connection="network", address=fake.address, status_timeout_s=1.0
            ),
        )
        devices = await KioskDevices.open(config, "Kiosk Real")
        try:
            health = devices.health()
            assert health["printer"].status == "ok" and health["scanner"].status == "ok"
            assert health["speaker"].status == "ok"
            assert health["microphone"].status in ("ok", "degraded")  # degraded only without livekit
            for _call in range(2):
                track = devices.camera_track()

                async def live(track=track):
                    while True:
                        frame = await track.recv()
                        if not track.showing_unavailable:
                            return frame

                frame = await asyncio.wait_for(live(), 10)
                assert (frame.width, frame.height) == (320, 240)
                track.stop()
            assert devices.health()["camera"].status == "ok"
        finally:
            await devices.close()
        results = await run_selftest(config, "Kiosk Real", timeout=10)
        assert {r.device: r.result for r in results} == dict.fromkeys(
            ("camera", "microphone", "speaker", "scanner", "printer"), "pass"
        ), results
        assert fake.jobs_cut == 1  # the self-test slip


async def test_broken_devices_are_named_and_the_kiosk_still_starts(pulse, tmp_path: Path) -> None:
    async with FakeEscposPrinter("ok") as fake:
        closed_address = fake.address
    config = DevicesConfig(
        camera=CameraConfig(driver="real", source=str(tmp_path / "nonexistent.mp4")),
        audio=AudioConfig(driver="real", input_device="no-such-mic", output_device="no-such-speaker"),
        scanner=ScannerConfig(driver="real", backend="sane", device="no-such-scanner"),
        printer=PrinterConfig(
            driver="real", connection="network", address=closed_address, status_timeout_s=0.2
        ),
    )
    devices = await KioskDevices.open(config, "Kiosk Broken")
    try:
        video = devices.camera_track()
        frames = await pull(video, 2)
        assert video.showing_unavailable and frames[0].width == 640
        health = devices.health()
        assert health["camera"].status == "error" and "nonexistent.mp4" in health["camera"].detail
        assert health["microphone"].status == "error" and "no-such-mic" in health["microphone"].detail
        assert health["speaker"].status == "error" and "no-such-speaker" in health["speaker"].detail
        assert health["scanner"].status == "error" and "no-such-scanner" in health["scanner"].detail
        assert health["printer"].status == "error" and closed_address in health["printer"].detail
        audio = devices.microphone_track()
        silent = await pull(audio, 1)
        assert not np.any(silent[0].to_ndarray())
        with pytest.raises(ScannerError, match="no-such-scanner"):
            await devices.scanner.scan()
        assert not (await devices.printer.print_slip(Slip("C-1", "健康保険課"))).sent
    finally:
        await devices.close()


async def test_none_drivers_are_absent() -> None:
    config = DevicesConfig(
        camera=CameraConfig(driver="none"),
        audio=AudioConfig(driver="none"),
        scanner=ScannerConfig(driver="none"),
        printer=PrinterConfig(driver="none"),
    )
    devices = await KioskDevices.open(config, "Kiosk Min")
    try:
        assert {h.status for h in devices.health().values()} == {"absent"}
        frame = (await pull(devices.camera_track(), 1))[0]
        assert frame.width == 640
        assert devices.input_level() == 0.0
        with pytest.raises(ScannerError):
            await devices.scanner.scan()
        assert not (await devices.printer.print_slip(Slip("D-1", "市民登録課"))).sent
    finally:
        await devices.close()


class CountingTrack(MediaStreamTrack):
    """Forwards a remote track and resolves `reached` once `count` frames went through."""

    kind = "audio"

    def __init__(self, source: MediaStreamTrack, count: int) -> None:
        super().__init__()
        self.source, self.count, self.seen = source, count, 0
        self.reached: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def recv(self):
        frame = await self.source.recv()
        self.seen += 1
        if self.seen >= self.count and not self.reached.done():
            self.reached.set_result(None)
        return frame


async def one_call(devices: KioskDevices, call: int) -> None:
    kiosk = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    officer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    kiosk.addTrack(devices.camera_track())
    kiosk.addTrack(devices.microphone_track())
    officer.addTrack(ToneAudioTrack(1000))
    received: dict[str, asyncio.Future] = {"video": asyncio.Future(), "audio": asyncio.Future()}
    heard: list[CountingTrack] = []
    tasks: list[asyncio.Task] = []

    @officer.on("track")
    def on_officer_track(track) -> None:
        async def first_live() -> None:
            while True:
                frame = await track.recv()
                if track.kind == "audio" or frame.width == 320:
                    received[track.kind].set_result(frame)
                    return

        tasks.append(asyncio.ensure_future(first_live()))

    @kiosk.on("track")
    def on_kiosk_track(track) -> None:
        counting = CountingTrack(track, 25)  # half a second of the officer's voice
        heard.append(counting)
        tasks.append(asyncio.ensure_future(devices.play_remote_audio(counting)))

    frames_before = devices.remote_audio_frames
    queued_before = devices.speaker.samples_queued
    try:
        await kiosk.setLocalDescription(await kiosk.createOffer())
        await officer.setRemoteDescription(kiosk.localDescription)
        await officer.setLocalDescription(await officer.createAnswer())
        await kiosk.setRemoteDescription(officer.localDescription)
        frame = await asyncio.wait_for(received["video"], 15)
        assert (frame.width, frame.height) == (320, 240), call
        audio = await asyncio.wait_for(received["audio"], 15)
        assert audio.sample_rate == 48_000
        await asyncio.wait_for(heard[0].reached, 15)
    finally:
        await kiosk.close()
        await officer.close()
        await asyncio.gather(*tasks, return_exceptions=True)
    # play_remote_audio returned when the call ended, having queued the officer's audio for the speaker.
    assert devices.remote_audio_frames - frames_before >= 25
    assert devices.speaker.samples_queued - queued_before >= 25 * 960  # resampled to mono for the device


async def test_two_consecutive_calls_over_real_peer_connections(pulse, tmp_path: Path) -> None:
    """The kiosk's camera and microphone go out over WebRTC, the officer's voice comes back to the
    speaker; a second call reuses the same devices."""
    video = make_video(tmp_path / "cam.avi")
    config = DevicesConfig(
        camera=CameraConfig(driver="real", source=str(video), width=320, height=240, fps=15),
        audio=AudioConfig(driver="real", input_device="pulse", output_device="pulse"),
        scanner=ScannerConfig(driver="none"),
        printer=PrinterConfig(driver="none"),
    )
    devices = await KioskDevices.open(config, "Kiosk Call")
    try:
        for call in range(2):
            await one_call(devices, call)
        assert devices.health()["camera"].status == "ok"
    finally:
        await devices.close()
