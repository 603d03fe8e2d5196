"""All of one kiosk's devices, opened from its configuration, each failing on its own.

    devices = await KioskDevices.open(kiosk.devices, label=kiosk.name)
    pc.addTrack(devices.camera_track()); pc.addTrack(devices.microphone_track())
    ...  # on a remote audio track: asyncio.create_task(devices.play_remote_audio(track))
    heartbeat["devices"] = {name: h.to_dict() for name, h in devices.health().items()}
    await devices.close()

A device whose driver is "none" is absent; a real device that is missing or misconfigured is reported in
`health()` (named, with the reason) and replaced by a stand-in (an "unavailable" video frame, silence, a
scanner or printer that refuses politely), so the kiosk still starts, degraded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from config.schema import DevicesConfig
from hardware.audio import Microphone
from hardware.camera import CameraSource, CameraTrack, NoCameraTrack
from hardware.echo import create_echo_canceller
from hardware.health import DeviceHealth, HealthStatus
from hardware.printer import PrintResult, SimulatedPrinter, printer_from_config
from hardware.printer_status import PrinterStatus
from hardware.receipt import Slip
from hardware.scanner import (
    DocumentCameraScanner,
    SaneScanner,
    ScannedPage,
    ScannerError,
    SimulatedScanner,
)
from hardware.simulated import SimulatedMicrophone, SimulatedSpeaker, TestPatternVideoTrack, ToneAudioTrack
from hardware.speaker import Speaker

log = logging.getLogger(__name__)

DEVICE_NAMES = ("camera", "microphone", "speaker", "scanner", "printer")
ABSENT = "not configured (driver none)"


class AbsentScanner:
    def __init__(self, detail: str, status: HealthStatus = "absent") -> None:
        self._health = DeviceHealth(status, detail)

    def health(self) -> DeviceHealth:
        return self._health

    async def scan(self) -> ScannedPage:
        raise ScannerError(f"no scanner: {self._health.detail}")

    async def close(self) -> None:
        return None


class AbsentPrinter:
    def __init__(self, detail: str, status: HealthStatus = "absent") -> None:
        self._health = DeviceHealth(status, detail)

    def health(self) -> DeviceHealth:
        return self._health

    async def status(self) -> PrinterStatus:
        return PrinterStatus.unknown(f"no printer: {self._health.detail}")

    async def print_slip(self, slip: Slip) -> PrintResult:
        status = await self.status()
        return PrintResult(False, False, 0, status, None, f"not printed: {status.detail}")

    async def close(self) -> None:
        return None


class KioskDevices:
    def __init__(self, config: DevicesConfig, label: str) -> None:
        self.config = config
        self.label = label
        self.camera_source: CameraSource | None = None
        self.microphone: Microphone | SimulatedMicrophone | None = None
        self.speaker: Speaker | SimulatedSpeaker | None = None
        self.scanner: Any = AbsentScanner(ABSENT)
        self.printer: Any = AbsentPrinter(ABSENT)
        self._fixed: dict[str, DeviceHealth] = {}  # health of absent/failed/simulated devices
        self._tracks: weakref.WeakSet[MediaStreamTrack] = weakref.WeakSet()  # stopped on close
        self.remote_audio_frames = 0

    # ------------------------------------------------------------------ opening

    @classmethod
    async def open(cls, devices: DevicesConfig, label: str) -> KioskDevices:
        """Open every configured device concurrently; never raises because one device is broken."""
        self = cls(devices, label)
        results = await asyncio.gather(
            self._open_camera(),
            self._open_audio(),
            self._open_scanner(),
            self._open_printer(),
            return_exceptions=True,
        )
        for name, result in zip(("camera", "audio", "scanner", "printer"), results, strict=True):
            if isinstance(result, BaseException):
                log.error("kiosk %s: opening the %s failed unexpectedly: %r", label, name, result)
                for device in ("microphone", "speaker") if name == "audio" else (name,):
                    self._fixed[device] = DeviceHealth("error", f"{device}: {result}")
        for name, health in self.health().items():
            if health.status in ("error", "degraded"):
                log.warning("kiosk %s: %s %s: %s", label, name, health.status, health.detail)
        return self

    async def _open_camera(self) -> None:
        cfg = self.config.camera
        if cfg.driver == "none":
            self._fixed["camera"] = DeviceHealth("absent", ABSENT)
        elif cfg.driver == "simulated":
            self._fixed["camera"] = DeviceHealth("ok", f"simulated test pattern {cfg.width}x{cfg.height}")
        else:
            try:
                self.camera_source = CameraSource(
                    cfg.source, cfg.width, cfg.height, cfg.fps, label=self.label
                ).start()
            except ValueError as exc:
                self._fixed["camera"] = DeviceHealth("error", f"camera misconfigured: {exc}")

    async def _open_audio(self) -> None:
        cfg = self.config.audio
        if cfg.driver == "none":
            self._fixed["microphone"] = DeviceHealth("absent", ABSENT)
            self._fixed["speaker"] = DeviceHealth("absent", ABSENT)
            return
        if cfg.driver == "simulated":
            self.microphone = SimulatedMicrophone(cfg.tone_hz)
            self.speaker = SimulatedSpeaker()
            self._fixed["microphone"] = DeviceHealth("ok", f"simulated {cfg.tone_hz:g} Hz tone")
            self._fixed["speaker"] = DeviceHealth("ok", "simulated (remote audio drained)")
            return
        echo, detail = await asyncio.to_thread(create_echo_canceller, cfg.echo_cancellation)
        self.microphone = Microphone(
            cfg.input_device, echo=echo, echo_wanted=cfg.echo_cancellation, echo_detail=detail
        )
        self.speaker = Speaker(cfg.output_device, echo=echo)
        await asyncio.gather(self.microphone.start(), self.speaker.start())

    async def _open_scanner(self) -> None:
        cfg = self.config.scanner
        if cfg.driver == "none":
            return
        if cfg.driver == "simulated":
            self.scanner = SimulatedScanner(cfg.resolution_dpi)
            return
        try:
            if cfg.backend == "sane":
                scanner = SaneScanner(str(cfg.device), cfg.resolution_dpi)
                await scanner.check()
                self.scanner = scanner
            else:
                self.scanner = DocumentCameraScanner(cfg.device, cfg.resolution_dpi).start()
        except (ValueError, ScannerError) as exc:
            self.scanner = AbsentScanner(f"scanner misconfigured: {exc}", status="error")

    async def _open_printer(self) -> None:
        cfg = self.config.printer
        if cfg.driver == "none":
            return
        try:
            self.printer = printer_from_config(cfg)
        except Exception as exc:
            self.printer = AbsentPrinter(f"printer misconfigured: {exc}", status="error")
            return
        if not isinstance(self.printer, SimulatedPrinter):
            await self.printer.status()  # fills in its health (unknown → error, named)

    # ------------------------------------------------------------------ media for calls

    def camera_track(self) -> MediaStreamTrack:
        """A new video track for one call (the camera itself keeps running between calls)."""
        cfg = self.config.camera
        if self.camera_source is not None:
            track: MediaStreamTrack = CameraTrack(self.camera_source)
        elif cfg.driver == "simulated":
            track = TestPatternVideoTrack(self.label, cfg.width, cfg.height, cfg.fps)
        else:
            track = NoCameraTrack(self.label, self.health()["camera"].detail, cfg.width, cfg.height)
        self._tracks.add(track)
        return track

    def microphone_track(self) -> MediaStreamTrack:
        """A new audio track for one call: the microphone (or the simulated tone, or silence)."""
        mic = self.microphone
        track: MediaStreamTrack = mic.track() if mic is not None else ToneAudioTrack(0)
        self._tracks.add(track)
        return track

    async def play_remote_audio(self, track: MediaStreamTrack) -> None:
        """Play the officer's audio until the track ends (without a speaker: drain it)."""
        if self.speaker is not None:
            before = self.speaker.frames_received
            try:
                await self.speaker.play_remote_audio(track)
            finally:
                self.remote_audio_frames += self.speaker.frames_received - before
            return
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            self.remote_audio_frames += 1

    # ------------------------------------------------------------------ state

    def health(self) -> dict[str, DeviceHealth]:
        result: dict[str, DeviceHealth] = {}
        result["camera"] = self._fixed.get("camera") or (
            self.camera_source.health() if self.camera_source else DeviceHealth("error", "camera not opened")
        )
        for name, device in (("microphone", self.microphone), ("speaker", self.speaker)):
            fixed = self._fixed.get(name)
            if fixed is not None:
                result[name] = fixed
            elif isinstance(device, Microphone | Speaker):
                result[name] = device.health()
            else:
                result[name] = DeviceHealth("error", f"{name} not opened")
        result["scanner"] = self._fixed.get("scanner") or self.scanner.health()
        result["printer"] = self._fixed.get("printer") or self.printer.health()
        return result

    def input_level(self) -> float:
        """Microphone level 0..1 for the UI meter (0 without a microphone)."""
        return self.microphone.input_level() if self.microphone is not None else 0.0

    async def refresh_health(self) -> dict[str, DeviceHealth]:
        """Ask the devices that only report when asked (printer status, SANE scanner presence)."""
        checks = []
        if hasattr(self.printer, "status") and not isinstance(self.printer, AbsentPrinter):
            checks.append(self.printer.status())
        if isinstance(self.scanner, SaneScanner):
            checks.append(self.scanner.check())
        await asyncio.gather(*checks, return_exceptions=True)
        return self.health()

    async def close(self) -> None:
        for track in list(self._tracks):
            track.stop()
        self._tracks.clear()
        closers = []
        if isinstance(self.microphone, Microphone):
            closers.append(self.microphone.close())
        if isinstance(self.speaker, Speaker):
            closers.append(self.speaker.close())
        closers += [self.scanner.close(), self.printer.close()]
        if self.camera_source is not None:
            closers.append(asyncio.to_thread(self.camera_source.close))
        for result in await asyncio.gather(*closers, return_exceptions=True):
            if isinstance(result, BaseException):
                log.warning("kiosk %s: closing a device failed: %r", self.label, result)

    async def __aenter__(self) -> KioskDevices:
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.close()
