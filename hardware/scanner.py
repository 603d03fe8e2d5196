"""Scanners behind one interface: `await scanner.scan() -> ScannedPage`.

Backends: a SANE flatbed (python-sane; tested against SANE's built-in `test` device), a document camera read
through OpenCV (page detection, perspective warp to A4, live guidance) and a simulated scanner that renders a
Japanese form. Scans stay in memory: nothing here writes an image to disk or logs its content.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import cv2
import numpy as np
from PIL import Image

from hardware.camera import CameraSource
from hardware.health import DeviceHealth, HealthTracker
from hardware.page_detect import Guidance, GuidanceTracker, is_card_shaped, warp_to_a4
from hardware.sample_form import render_form_page

log = logging.getLogger(__name__)

ImageFormat = Literal["JPEG", "PNG"]


class ScannerError(RuntimeError):
    """A scan failed; the message names the scanner and the reason."""


@dataclass(frozen=True)
class ScannedPage:
    image: Image.Image  # RGB
    dpi: int
    source: str  # e.g. "sane:test", "document_camera:/dev/video2", "simulated"
    format: ImageFormat = "JPEG"
    data: bytes = field(default=b"", repr=False)  # the page encoded as `format`, in memory only
    scanned_at: float = field(default_factory=time.time)
    card_like: bool = False  # an ID-1 card's outline: possibly the back of a マイナンバーカード

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    @property
    def mime_type(self) -> str:
        return "image/jpeg" if self.format == "JPEG" else "image/png"

    @classmethod
    def from_image(
        cls, image: Image.Image, dpi: int, source: str, fmt: ImageFormat = "JPEG", quality: int = 90
    ) -> ScannedPage:
        rgb = image.convert("RGB")
        return cls(rgb, dpi, source, fmt, encode_image(rgb, fmt, dpi, quality))


def encode_image(image: Image.Image, fmt: ImageFormat, dpi: int, quality: int = 90) -> bytes:
    if fmt not in ("JPEG", "PNG"):
        raise ValueError(f"scan format must be JPEG or PNG, got {fmt!r}")
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, "JPEG", quality=quality, dpi=(dpi, dpi))
    else:
        image.save(buffer, "PNG", dpi=(dpi, dpi))
    return buffer.getvalue()


class Scanner(Protocol):
    async def scan(self) -> ScannedPage: ...

    def health(self) -> DeviceHealth: ...

    async def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------- SANE

_SANE_LOCK = threading.Lock()  # sane.init/exit and device access are process-wide
_SANE_READY = False


def _sane() -> Any:
    global _SANE_READY
    try:
        import sane
    except ImportError as exc:
        raise ScannerError(
            "python-sane is not installed (pip install python-sane; needs libsane-dev)"
        ) from exc
    with _SANE_LOCK:
        if not _SANE_READY:
            sane.init()
            _SANE_READY = True
    return sane


class SaneScanner:
    """A SANE flatbed. Blocking SANE calls run in a thread; one scan at a time."""

    def __init__(
        self,
        device: str = "test",
        resolution_dpi: int = 200,
        fmt: ImageFormat = "JPEG",
        options: dict[str, Any] | None = None,
        full_area: bool = True,
    ) -> None:
        if not device:
            raise ValueError("SANE device name is empty")
        self.device = device
        self.resolution_dpi = resolution_dpi
        self.format = fmt
        self.options = dict(options or {})
        self.full_area = full_area
        self._lock = asyncio.Lock()
        self._health = HealthTracker("degraded", "not checked yet")
        self.scans = 0

    def health(self) -> DeviceHealth:
        return self._health.get()

    async def check(self) -> DeviceHealth:
        """Open and close the device (no scan): is the scanner there?"""
        async with self._lock:
            try:
                await asyncio.to_thread(self._probe)
            except ScannerError as exc:
                self._health.set("error", str(exc))
            else:
                self._health.set("ok", f"SANE device {self.device} at {self.resolution_dpi} dpi")
        return self.health()

    def _open(self) -> Any:
        sane = _sane()
        try:
            return sane.open(self.device)
        except Exception as exc:
            raise ScannerError(f"cannot open SANE device {self.device!r}: {exc}") from exc

    def _probe(self) -> None:
        dev = self._open()
        dev.close()

    def _scan_blocking(self) -> Image.Image:
        dev = self._open()
        try:
            try:
                dev.mode = "Color"
                dev.depth = 8
                dev.resolution = self.resolution_dpi
                if self.full_area:
                    for name in ("br_x", "br_y"):
                        option = dev.opt.get(name)
                        if option is not None and isinstance(option.constraint, tuple):
                            setattr(dev, name, option.constraint[1])
                for name, value in self.options.items():
                    setattr(dev, name, value)
            except Exception as exc:
                raise ScannerError(f"SANE device {self.device!r} rejected a setting: {exc}") from exc
            try:
                dev.start()
                return dev.snap()
            except Exception as exc:
                raise ScannerError(f"SANE device {self.device!r} failed to scan: {exc}") from exc
        finally:
            dev.close()

    async def scan(self) -> ScannedPage:
        async with self._lock:
            try:
                image = await asyncio.to_thread(self._scan_blocking)
                page = await asyncio.to_thread(
                    ScannedPage.from_image, image, self.resolution_dpi, f"sane:{self.device}", self.format
                )
            except ScannerError as exc:
                self._health.set("error", str(exc))
                raise
        self.scans += 1
        self._health.set("ok", f"SANE device {self.device} at {self.resolution_dpi} dpi")
        return page

    async def close(self) -> None:
        return None


# ---------------------------------------------------------------------------------------------- camera


class DocumentCameraScanner:
    """A document camera: waits for a page to lie still, then cuts it out and flattens it to A4."""

    def __init__(
        self,
        source: str | int | CameraSource,
        resolution_dpi: int = 200,
        width: int = 1920,
        height: int = 1080,
        fps: int = 10,
        fmt: ImageFormat = "JPEG",
        stable_frames: int = 5,
        timeout_s: float = 60.0,
        on_guidance: Callable[[Guidance], None] | None = None,
    ) -> None:
        if isinstance(source, CameraSource):
            self.camera, self._owns_camera = source, False
        else:
            self.camera = CameraSource(source, width, height, fps, label="document camera")
            self._owns_camera = True
        self.resolution_dpi = resolution_dpi
        self.format = fmt
        self.stable_frames = stable_frames
        self.timeout_s = timeout_s
        self.on_guidance = on_guidance
        self.last_guidance: Guidance | None = None
        self._lock = asyncio.Lock()
        self.scans = 0

    def start(self) -> DocumentCameraScanner:
        self.camera.start()
        return self

    def health(self) -> DeviceHealth:
        health = self.camera.health()
        if health.status == "error":
            return DeviceHealth("error", f"document camera: {health.detail}", health.since)
        return health

    def _publish(self, guidance: Guidance) -> None:
        self.last_guidance = guidance
        if self.on_guidance is not None:
            try:
                self.on_guidance(guidance)
            except Exception:
                log.exception("guidance callback failed")

    async def guidance(self, timeout_s: float | None = None):  # -> AsyncIterator[tuple[Guidance, ndarray]]
        """Live guidance for the UI: yields (guidance, frame) for each new camera frame until "done"."""
        tracker = GuidanceTracker(self.stable_frames)
        last_seq = 0
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.timeout_s)
        while (left := deadline - time.monotonic()) > 0:
            frame = await self.camera.wait_frame(last_seq, timeout=left)
            if frame is None:
                break
            last_seq = frame.seq
            guidance = await asyncio.to_thread(tracker.update, frame.image)
            self._publish(guidance)
            yield guidance, frame.image
            if guidance.state == "done":
                return
        raise ScannerError(
            f"document camera: no page held still within the time limit ({self.camera.health().detail})"
        )

    async def scan(self) -> ScannedPage:
        self.camera.start()
        async with self._lock:
            async for guidance, image in self.guidance():
                if guidance.state == "done":
                    assert guidance.corners is not None
                    warped = await asyncio.to_thread(warp_to_a4, image, guidance.corners, self.resolution_dpi)
                    rgb = Image.fromarray(cv2.cvtColor(warped, cv2.COLOR_BGR2RGB))
                    page = await asyncio.to_thread(
                        ScannedPage.from_image,
                        rgb,
                        self.resolution_dpi,
                        f"document_camera:{self.camera.source}",
                        self.format,
                    )
                    page = dataclasses.replace(page, card_like=is_card_shaped(guidance.corners))
                    self.scans += 1
                    return page
        raise ScannerError("document camera: guidance ended without a page")  # pragma: no cover

    async def close(self) -> None:
        if self._owns_camera:
            await asyncio.to_thread(self.camera.close)


# ---------------------------------------------------------------------------------------------- simulated


class SimulatedScanner:
    """Renders a synthetic Japanese application form, as if it had been scanned."""

    def __init__(
        self, resolution_dpi: int = 200, fmt: ImageFormat = "JPEG", fields: dict[str, str] | None = None
    ) -> None:
        self.resolution_dpi = resolution_dpi
        self.format = fmt
        self.fields = fields
        self.scans = 0
        self._health = HealthTracker("ok", f"simulated scanner at {resolution_dpi} dpi")

    def health(self) -> DeviceHealth:
        return self._health.get()

    def _render(self) -> ScannedPage:
        image = render_form_page(self.resolution_dpi, fields=self.fields)
        # A scanner is not a perfect renderer: a little sensor noise.
        noisy = np.asarray(image).astype(np.int16)
        noisy += np.random.default_rng(self.scans).integers(-4, 5, noisy.shape, dtype=np.int16)
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
        return ScannedPage.from_image(image, self.resolution_dpi, "simulated", self.format)

    async def scan(self) -> ScannedPage:
        page = await asyncio.to_thread(self._render)
        self.scans += 1
        return page

    async def close(self) -> None:
        return None
