"""Small widgets of the kiosk view: tiles with wrapped text, the video surface, labels and buttons."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from av.video.reformatter import VideoReformatter
from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget


def label(
    text: str = "",
    role: str | None = None,
    *,
    rich: bool = False,
    wrap: bool = True,
    align: Qt.AlignmentFlag | None = None,
) -> QLabel:
    widget = QLabel()
    widget.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    widget.setWordWrap(wrap)
    if role:
        widget.setProperty("role", role)
    if align is not None:
        widget.setAlignment(align)
    widget.setText(text)
    return widget


def button(name: str, role: str | None = None, *, checkable: bool = False, wrap: bool = False) -> QPushButton:
    """A touch button. ``wrap``: its width comes from the layout alone and long text wraps to it."""
    widget = WrapButton() if wrap else QPushButton()
    widget.setObjectName(name)
    if role:
        widget.setProperty("role", role)
    widget.setCheckable(checkable)
    widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    if wrap:
        widget.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
    else:
        widget.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
    return widget


class TileButton(QPushButton):
    """A large button whose text wraps: a title line and status lines (QPushButton itself cannot wrap)."""

    def __init__(self, name: str):
        super().__init__()
        self.setObjectName(name)
        self.setProperty("role", "tile")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 12, 18, 12)
        layout.setSpacing(4)
        self.title = label(role=None)
        self.title.setStyleSheet("font-weight: bold;")
        self.lines: list[QLabel] = []
        layout.addWidget(self.title)
        for _ in range(3):
            line = label()
            self.lines.append(line)
            layout.addWidget(line)
        for child in [self.title, *self.lines]:
            child.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def set_content(self, title: str, lines: list[tuple[str, str | None]]) -> None:
        self.title.setText(title)
        self.setAccessibleName(title)
        self.setText("")  # the labels carry the text; keep the button's own text empty
        for i, widget in enumerate(self.lines):
            if i < len(lines):
                text, role = lines[i]
                widget.setText(text)
                widget.setProperty("role", role or "")
                widget.style().unpolish(widget)
                widget.style().polish(widget)
                widget.setVisible(bool(text))
            else:
                widget.setText("")
                widget.setVisible(False)
        self._fit()

    def set_checked_look(self, checked: bool) -> None:
        """Labels inside a checked tile take the button's text colour (QSS cannot select on the parent)."""
        for child in [self.title, *self.lines]:
            child.setProperty("on", "true" if checked else "false")
            child.style().unpolish(child)
            child.style().polish(child)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        kinds = (QEvent.Type.LayoutRequest, QEvent.Type.StyleChange, QEvent.Type.FontChange)
        if event.type() in kinds and getattr(self, "lines", None) is not None:
            self._fit()  # the labels' text or font changed: the wrapped height may too
        return handled

    def _fit(self) -> None:
        """Grow to the height the wrapped text needs at the current width (layouts ignore QLabel wrapping)."""
        layout = self.layout()
        wanted = layout.totalHeightForWidth(self.width()) if layout is not None else 0
        if wanted > 0 and wanted != self.minimumHeight():
            self.setMinimumHeight(wanted)


def wrap_text(text: str, metrics: QFontMetrics, width: int) -> str:
    """Break ``text`` into lines no wider than ``width``: at spaces (also the full-width spaces of easy
    Japanese) when there are any, else between any two characters (Japanese, Chinese)."""
    if width <= 0 or metrics.horizontalAdvance(text) <= width:
        return text
    tokens = re.findall(r"\S+\s*", text) if re.search(r"\s", text.strip()) else list(text)
    lines: list[str] = []
    line = ""
    for token in tokens:
        candidate = line + token
        if line and metrics.horizontalAdvance(candidate.rstrip()) > width:
            lines.append(line.rstrip())
            line = token
        else:
            line = candidate
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


class WrapButton(QPushButton):
    """A QPushButton whose text wraps to its width (Qt's own button never wraps)."""

    def __init__(self) -> None:
        super().__init__()
        self._raw = ""

    def setText(self, text: str) -> None:
        self._raw = text
        self._rewrap()

    def raw_text(self) -> str:
        return self._raw

    def _rewrap(self) -> None:
        # The stylesheet's horizontal padding is twice a sixth of the touch size, each side, plus borders.
        padding = 4 * max(8, self.minimumHeight() // 6) + 12
        wrapped = (
            wrap_text(self._raw, self.fontMetrics(), self.width() - padding)
            if self.width() > 50
            else self._raw
        )
        if wrapped != super().text():
            super().setText(wrapped)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._rewrap()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.StyleChange, QEvent.Type.FontChange) and hasattr(self, "_raw"):
            self._rewrap()


class VideoView(QWidget):
    """Draws the newest frame of a source (an av.VideoFrame or None), scaled to fit, at the view's tick rate.

    Only the newest frame is converted: libswscale reformat to the widget's size in RGBA, then a QImage over
    the numpy buffer (kept alive with the image). The conversion runs on a worker thread so the event loop
    (Qt and asyncio, which also carries the call's media) never waits for it; a frame that arrives while
    one is being converted is skipped. ``clear()`` drops everything (privacy reset).
    """

    _pool: ThreadPoolExecutor | None = None

    def __init__(self, name: str, source: Callable[[], Any] | None = None, *, mirror: bool = False):
        super().__init__()
        self.setObjectName(name)
        self.source = source
        self.mirror = mirror
        self.caption = ""
        self._last: Any = None
        self._array: np.ndarray | None = None
        self._image: QImage | None = None
        # Our own reformatter: a frame's built-in one may be in use at this moment by the encoder thread
        # (the self-view shows the very frames being encoded) and libswscale contexts are not thread-safe.
        self._reformatter = VideoReformatter()
        self._pending: asyncio.Future | None = None
        self._generation = 0
        self.frames_drawn = 0
        self.frames_converted = 0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    @property
    def has_image(self) -> bool:
        return self._image is not None

    def clear(self) -> None:
        self._generation += 1  # a conversion still running for the old frame is discarded
        self._last = None
        self._array = None
        self._image = None
        self.update()

    def _target(self, frame_w: int, frame_h: int) -> tuple[int, int]:
        w, h = max(2, self.width()), max(2, self.height())
        scale = min(w / frame_w, h / frame_h)
        return max(2, int(frame_w * scale) & ~1), max(2, int(frame_h * scale) & ~1)

    def _convert(self, frame: Any, width: int, height: int) -> tuple[np.ndarray, QImage]:
        converted = self._reformatter.reformat(frame, width=width, height=height, format="rgba")
        array: np.ndarray = converted.to_ndarray()
        if self.mirror:
            array = array[:, ::-1]
        array = np.ascontiguousarray(array)
        return array, QImage(array.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)

    def tick(self) -> None:
        """Called ~30 times a second: start converting the source's newest frame if it changed."""
        if self.source is None or not self.isVisible():
            return
        frame = self.source()
        if frame is None:
            if self._image is not None:
                self.clear()
            return
        if frame is self._last or self._pending is not None:
            return
        self._last = frame
        tw, th = self._target(frame.width, frame.height)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._show(self._generation, self._convert(frame, tw, th))
            return
        if VideoView._pool is None:
            VideoView._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kiosk-video")
        generation = self._generation
        self._pending = loop.run_in_executor(VideoView._pool, self._convert, frame, tw, th)
        self._pending.add_done_callback(lambda f: self._done(generation, f))

    def _done(self, generation: int, future: asyncio.Future) -> None:
        self._pending = None
        if future.cancelled() or future.exception() is not None:
            return
        self._show(generation, future.result())

    def _show(self, generation: int, result: tuple[np.ndarray, QImage]) -> None:
        if generation != self._generation:
            return
        self._array, self._image = result  # the array must live as long as the image
        self.frames_converted += 1
        self.update()

    async def flush(self) -> None:
        """Wait for a conversion in flight (tests and screenshots)."""
        pending = self._pending
        if pending is not None:
            with contextlib.suppress(Exception):
                await pending
            await asyncio.sleep(0)

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#101418"))
        if self._image is not None:
            x = (self.width() - self._image.width()) // 2
            y = (self.height() - self._image.height()) // 2
            painter.drawImage(x, y, self._image)
            self.frames_drawn += 1
        if self.caption:
            painter.setPen(QColor("#ffffff"))
            font = painter.font()
            font.setPixelSize(max(16, self.height() // 16))
            painter.setFont(font)
            box = QRect(0, self.height() - font.pixelSize() * 2, self.width(), font.pixelSize() * 2)
            painter.fillRect(box, QColor(0, 0, 0, 150))
            painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), self.caption)
        painter.end()


class ImageView(QLabel):
    """A still image from bytes (a scan thumbnail, a document the officer shows); ``clear()`` forgets it."""

    def __init__(self, name: str):
        super().__init__()
        self._source: bytes | None = None
        self._full: QPixmap | None = None
        self.setObjectName(name)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)

    def set_bytes(self, data: bytes | None) -> None:
        if data is self._source:
            return
        self._source = data
        if data is None:
            self.clear()
            return
        pixmap = QPixmap()
        pixmap.loadFromData(data)
        self._full = pixmap
        self._rescale()

    def clear(self) -> None:
        self._source = None
        self._full = None
        super().clear()

    def _rescale(self) -> None:
        full = self._full
        if full is None or full.isNull():
            return
        self.setPixmap(
            full.scaled(
                max(1, self.width()),
                max(1, self.height()),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._rescale()
