"""The kiosk camera: OpenCV `VideoCapture` (device index, device path or looped video file) as aiortc tracks.

One `CameraSource` per kiosk reads frames in a thread and keeps only the newest one. Each call gets its own
`CameraTrack` over that source (so a track stopped by a finished call never stops the camera). When the
camera is unplugged (or the file disappears) the source reports it in its health, retries in the background
and recovers by itself when the camera comes back; meanwhile the tracks show a "CAMERA UNAVAILABLE" frame
with a running clock, so the officer never mistakes a frozen picture for a live one.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
import cv2
import numpy as np
from aiortc import VideoStreamTrack
from aiortc.mediastreams import MediaStreamError

from hardware.fonts import draw_text_mask, text_mask
from hardware.health import DeviceHealth, HealthStatus, HealthTracker
from hardware.pacing import video_pacer

log = logging.getLogger(__name__)

# OpenCV prints a WARN line for every failed open; the health detail says it once, clearly.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def parse_source(source: str | int) -> str | int:
    """A device index stays an int ("0" too); anything else is a device path or a video file."""
    if isinstance(source, bool):
        raise ValueError(f"camera source must be an index, a device path or a file, got {source!r}")
    if isinstance(source, int):
        if source < 0:
            raise ValueError(f"camera index must be >= 0, got {source}")
        return source
    text = source.strip()
    if not text:
        raise ValueError("camera source is empty")
    if text.isdigit():
        return int(text)
    return text


def is_file_source(source: str | int) -> bool:
    return isinstance(source, str) and not source.startswith("/dev/") and "://" not in source


@dataclass(frozen=True)
class CapturedFrame:
    image: np.ndarray  # BGR, already at the configured size
    seq: int
    monotonic: float


def unavailable_image(
    width: int, height: int, label: str, lost_for_s: float | None, detail: str
) -> np.ndarray:
    """The frame the officer sees while the camera is gone: unmistakable, with a moving clock."""
    img = np.full((height, width, 3), (40, 30, 30), np.uint8)
    scale = max(0.4, height / 480)
    thick = max(1, round(2 * scale))
    cv2.rectangle(img, (8, 8), (width - 9, height - 9), (0, 0, 200), thick + 2)
    lines = [("CAMERA UNAVAILABLE", 1.1 * scale, (80, 80, 255))]
    mask = text_mask(label, round(28 * scale)) if not label.isascii() else None
    if mask is None:
        lines.append((label.encode("ascii", "replace").decode("ascii"), 0.8 * scale, (230, 230, 230)))
    if lost_for_s is not None:
        lines.append((f"lost {int(lost_for_s)} s ago", 0.7 * scale, (200, 200, 200)))
    lines.append((time.strftime("%H:%M:%S"), 0.7 * scale, (0, 220, 220)))
    short = detail.encode("ascii", "replace").decode("ascii")[:60]
    if short:
        lines.append((short, 0.45 * scale, (170, 170, 170)))
    y = int(height * 0.3)
    for i, (text, size, colour) in enumerate(lines):
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thick)
        cv2.putText(
            img,
            text,
            (max(4, (width - tw) // 2), y),
            cv2.FONT_HERSHEY_SIMPLEX,
            size,
            colour,
            thick,
            cv2.LINE_AA,
        )
        y += th + int(22 * scale)
        if i == 0 and mask is not None:  # the (Japanese) kiosk label under the title
            draw_text_mask(
                img,
                mask,
                max(4, (width - mask.shape[1]) // 2),
                y - int(10 * scale),
                (230, 230, 230),
                outline=False,
            )
            y += mask.shape[0] + int(28 * scale)
    return img


class CameraSource:
    """Reads one camera in a background thread; the newest frame wins, older ones are dropped."""

    def __init__(
        self,
        source: str | int,
        width: int = 640,
        height: int = 480,
        fps: int = 15,
        label: str = "camera",
        retry_interval_s: float = 0.5,
        stale_after_s: float | None = None,
        on_health_change: Callable[[DeviceHealth], None] | None = None,
    ) -> None:
        self.source = parse_source(source)
        if width < 16 or height < 16 or width % 2 or height % 2:
            raise ValueError(f"camera size must be even and at least 16x16, got {width}x{height}")
        if not 1 <= fps <= 120:
            raise ValueError(f"camera fps must be between 1 and 120, got {fps}")
        self.width, self.height, self.fps = width, height, fps
        self.label = label
        self.retry_interval_s = retry_interval_s
        self.stale_after_s = stale_after_s if stale_after_s is not None else max(1.0, 5.0 / fps)
        self.on_health_change = on_health_change
        self._health = HealthTracker("degraded", "starting")
        self._lock = threading.Lock()
        self._latest: CapturedFrame | None = None
        self._seq = 0
        self._lost_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[CapturedFrame]]] = []
        self.opens = 0  # how many times the device was (re)opened: 1 means never lost
        self.frames_read = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> CameraSource:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"camera-{self.label}", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ------------------------------------------------------------------ state

    def health(self) -> DeviceHealth:
        return self._health.get()

    def latest(self) -> CapturedFrame | None:
        """The newest frame if it is fresh; None while the camera is unavailable or stalled."""
        with self._lock:
            frame = self._latest
        if frame is None or time.monotonic() - frame.monotonic > self.stale_after_s:
            return None
        return frame

    async def wait_frame(self, after_seq: int = 0, timeout: float = 1.0) -> CapturedFrame | None:
        """The first fresh frame newer than `after_seq`, waiting up to `timeout` (None if none came)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[CapturedFrame] = loop.create_future()
        with self._lock:
            frame = self._latest
            if (
                frame is not None
                and frame.seq > after_seq
                and time.monotonic() - frame.monotonic <= self.stale_after_s
            ):
                return frame
            self._waiters.append((loop, future))
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            return None
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove((loop, future))

    @staticmethod
    def _resolve(future: asyncio.Future[CapturedFrame], frame: CapturedFrame) -> None:
        if not future.done():
            future.set_result(frame)

    def lost_for(self) -> float | None:
        lost = self._lost_at
        return None if lost is None else time.monotonic() - lost

    def _set_health(self, status: HealthStatus, detail: str) -> None:
        if self._health.set(status, detail):
            health = self._health.get()
            if status == "ok":
                log.info("camera %s available again", self.label)
            else:
                log.warning("camera %s: %s", self.label, detail)
            if self.on_health_change is not None:
                try:
                    self.on_health_change(health)
                except Exception:
                    log.exception("camera health callback failed")

    # ------------------------------------------------------------------ thread

    def _open(self) -> cv2.VideoCapture | None:
        if is_file_source(self.source) and not os.path.exists(str(self.source)):
            self._lost(f"camera source {self.source} not found")
            return None
        cap = cv2.VideoCapture(self.source)
        if not cap.isOpened():
            cap.release()
            self._lost(f"cannot open camera {self.source!r}")
            return None
        if not is_file_source(self.source):
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            cap.set(cv2.CAP_PROP_FPS, self.fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.opens += 1
        return cap

    def _lost(self, detail: str) -> None:
        if self._lost_at is None:
            self._lost_at = time.monotonic()
        with self._lock:
            self._latest = None
        self._set_health("error", detail)

    def _run(self) -> None:
        file_source = is_file_source(self.source)
        period = 1.0 / self.fps
        cap: cv2.VideoCapture | None = None
        next_due = time.monotonic()
        try:
            while not self._stop.is_set():
                if cap is None:
                    cap = self._open()
                    if cap is None:
                        self._stop.wait(self.retry_interval_s)
                        continue
                ok, image = cap.read()
                if not ok or image is None:
                    cap.release()
                    cap = None
                    if file_source:
                        if self._latest is not None:
                            continue  # end of the file: loop by reopening (which notices a vanished file)
                        self._lost(f"no frames could be read from {self.source}")
                    else:
                        self._lost(f"camera {self.source!r} stopped delivering frames (unplugged?)")
                    self._stop.wait(self.retry_interval_s)
                    continue
                if image.shape[1] != self.width or image.shape[0] != self.height:
                    image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
                self._seq += 1
                self.frames_read += 1
                frame = CapturedFrame(image, self._seq, time.monotonic())
                with self._lock:
                    self._latest = frame
                    waiters, self._waiters = self._waiters, []
                for loop, future in waiters:
                    with contextlib.suppress(RuntimeError):  # that loop has closed
                        loop.call_soon_threadsafe(self._resolve, future, frame)
                self._lost_at = None
                self._set_health("ok", f"{self.width}x{self.height} at {self.fps} fps from {self.source}")
                if file_source:
                    # A file reads as fast as the CPU allows: play it at the configured rate.
                    next_due = max(next_due + period, time.monotonic() - period)
                    self._stop.wait(max(0.0, next_due - time.monotonic()))
        finally:
            if cap is not None:
                cap.release()


class CameraTrack(VideoStreamTrack):
    """One call's video: the source's newest frame at the configured fps, or the "unavailable" frame."""

    def __init__(self, source: CameraSource) -> None:
        super().__init__()
        self.source = source
        self._pacer = video_pacer(source.fps)
        self.showing_unavailable = False
        self.frames_sent = 0
        self.unavailable_sent = 0

    async def next_timestamp(self) -> tuple[int, fractions.Fraction]:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._pacer.next()
        return pts, self._pacer.time_base

    def current_image(self) -> np.ndarray:
        frame = self.source.latest()
        if frame is None:
            self.showing_unavailable = True
            return unavailable_image(
                self.source.width,
                self.source.height,
                self.source.label,
                self.source.lost_for(),
                self.source.health().detail,
            )
        self.showing_unavailable = False
        return frame.image

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame.from_ndarray(self.current_image(), format="bgr24")
        frame.pts = pts
        frame.time_base = time_base
        self.frames_sent += 1
        if self.showing_unavailable:
            self.unavailable_sent += 1
        return frame


class NoCameraTrack(VideoStreamTrack):
    """For a kiosk without a working camera: the "unavailable" frame with a running clock, at `fps`."""

    def __init__(self, label: str, detail: str, width: int = 640, height: int = 480, fps: int = 5) -> None:
        super().__init__()
        self.label, self.detail = label, detail
        self.width, self.height = width, height
        self._pacer = video_pacer(fps)
        self.showing_unavailable = True

    async def next_timestamp(self) -> tuple[int, fractions.Fraction]:
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._pacer.next()
        return pts, self._pacer.time_base

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = unavailable_image(self.width, self.height, self.label, None, self.detail)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = pts
        frame.time_base = time_base
        return frame
