"""A video surface drawing only the newest frame of a LatestFrame, at most ~30 times a second.

The frame is scaled by libswscale (``frame.reformat(w, h, "rgba")``) to the widget's size keeping its aspect
ratio; the QImage wraps the numpy buffer, which is kept alive until the next frame replaces it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QRect, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from remote_call.session import LatestFrame

REFRESH_MS = 33


class VideoView(QWidget):
    def __init__(self, placeholder: str = "", parent: QWidget | None = None, *, border: bool = False):
        super().__init__(parent)
        self.border = border
        self.placeholder = placeholder
        self.source: LatestFrame | None = None
        self.frames_drawn = 0
        self._seen = -1
        self._size: tuple[int, int] = (0, 0)
        self._array: np.ndarray | None = None
        self._image: QImage | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def set_source(self, source: LatestFrame | None) -> None:
        self.source = source
        self._seen = -1
        self._array = None
        self._image = None
        if source is None:
            self._timer.stop()
        else:
            self._timer.start()
        self.update()

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        self.update()

    def _fit(self, frame: Any) -> tuple[int, int]:
        width, height = max(2, self.width()), max(2, self.height())
        scale = min(width / frame.width, height / frame.height)
        return max(2, int(frame.width * scale) & ~1), max(2, int(frame.height * scale) & ~1)

    def refresh(self) -> None:
        source = self.source
        if source is None:
            return
        frame = source.frame
        if frame is None:
            if self._image is not None:
                self._image = self._array = None
                self.update()
            return
        size = self._fit(frame)
        if source.count == self._seen and size == self._size:
            return
        self._seen, self._size = source.count, size
        self.show_frame(frame)

    def show_frame(self, frame: Any) -> None:
        width, height = self._fit(frame)
        self._array = np.ascontiguousarray(frame.reformat(width, height, "rgba").to_ndarray())
        self._image = QImage(self._array.data, width, height, width * 4, QImage.Format.Format_RGBA8888)
        self.frames_drawn += 1
        self.update()

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 26, 30))
        if self._image is not None:
            x = (self.width() - self._image.width()) // 2
            y = (self.height() - self._image.height()) // 2
            painter.drawImage(x, y, self._image)
        elif self.placeholder:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(
                QRect(0, 0, self.width(), self.height()), Qt.AlignmentFlag.AlignCenter, self.placeholder
            )
        if self.border:
            painter.setPen(QColor(255, 255, 255))
            painter.drawRect(0, 0, self.width() - 1, self.height() - 1)
        painter.end()
