"""The picture guide for scanning, drawn with QPainter: where the scanner is (the kiosk with the scanner
beside the screen, highlighted) and which side goes down (a sheet turned over onto the glass, its text
facing the glass, pushed into the far corner). Each picture has its words beside it (catalog
``scan.guide_*``), two rows of picture and caption: side by side the captions take two or three lines
where under one wide picture they took as many and the picture its own height again, so the whole guide
fits the scan panel of a 1920x1080 kiosk without paging (and pages, with the panel's page buttons, on
smaller screens or with larger text)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QWidget

from kiosk_client.view.widgets import label

HIGHLIGHT = QColor("#f2c200")  # the scanner, in both themes
PAPER = QColor("#ffffff")
PICTURE_MIN_WIDTH = 160  # px: the scanner and the sheet still read at this size
PICTURE_MAX_HEIGHT = 104  # px: both rows and the prompt fit the scan panel at 1920x1080


class ScanGuide(QWidget):
    """Two rows: the picture of where the scanner is with ``where`` beside it, the picture of the sheet
    going face down with ``side`` beside it. ``refresh``-style callers set the captions' text."""

    def __init__(self, name: str = "scan-guide") -> None:
        super().__init__()
        self.setObjectName(name)
        self.where_picture = GuidePicture(f"{name}-where-picture", "where")
        self.side_picture = GuidePicture(f"{name}-side-picture", "side")
        self.where = label(rich=True)
        self.where.setObjectName(f"{name}-where")
        self.side = label(rich=True)
        self.side.setObjectName(f"{name}-side")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(4)
        grid.addWidget(self.where_picture, 0, 0)
        grid.addWidget(self.where, 0, 1)
        grid.addWidget(self.side_picture, 1, 0)
        grid.addWidget(self.side, 1, 1)
        grid.setColumnStretch(0, 2)
        grid.setColumnStretch(1, 3)


class GuidePicture(QWidget):
    """One picture of the guide: ``where`` (the kiosk and its scanner) or ``side`` (face down, far corner)."""

    def __init__(self, name: str, part: str) -> None:
        super().__init__()
        if part not in ("where", "side"):
            raise ValueError(f"a scan guide picture is 'where' or 'side', not {part!r}")
        self.setObjectName(name)
        self.part = part
        self.setMinimumSize(PICTURE_MIN_WIDTH, PICTURE_MIN_WIDTH * 6 // 10)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return max(PICTURE_MIN_WIDTH * 6 // 10, min(PICTURE_MAX_HEIGHT, width * 6 // 10))  # 10 : 6

    def sizeHint(self) -> QSize:
        return QSize(PICTURE_MIN_WIDTH, PICTURE_MIN_WIDTH * 6 // 10)

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        ink = self.palette().color(self.foregroundRole())
        box = QRectF(4, 4, self.width() - 8, self.height() - 8)
        if self.part == "where":
            self._where(painter, box, ink)
        else:
            self._face_down(painter, box, ink)
        painter.end()

    def _where(self, painter: QPainter, box: QRectF, ink: QColor) -> None:
        """The kiosk from the front: the screen on its stand, the scanner on the table to its right."""
        painter.setPen(QPen(ink, 3))
        unit = min(box.width() / 10, box.height() / 6)
        left = box.x() + (box.width() - 10 * unit) / 2
        top = box.y() + (box.height() - 6 * unit) / 2
        screen = QRectF(left, top, 5.5 * unit, 3.6 * unit)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(screen, 6, 6)
        painter.drawRect(QRectF(left + 2.5 * unit, top + 3.6 * unit, 0.5 * unit, 1.4 * unit))  # stand
        painter.drawLine(
            QPointF(left - 0.2 * unit, top + 5 * unit), QPointF(left + 10 * unit, top + 5 * unit)
        )
        scanner = QRectF(left + 6.6 * unit, top + 4.0 * unit, 3.2 * unit, unit)
        painter.setBrush(HIGHLIGHT)
        painter.drawRoundedRect(scanner, 4, 4)
        arrow_x = scanner.center().x()
        self._arrow(painter, QPointF(arrow_x, top + 0.6 * unit), QPointF(arrow_x, scanner.top() - 6), ink)

    def _face_down(self, painter: QPainter, box: QRectF, ink: QColor) -> None:
        """The open scanner from the side: the sheet, its text lines underneath, going down onto the glass."""
        unit = min(box.width() / 10, box.height() / 6)
        left = box.x() + (box.width() - 10 * unit) / 2
        top = box.y() + (box.height() - 6 * unit) / 2
        painter.setPen(QPen(ink, 3))
        painter.setBrush(HIGHLIGHT)
        painter.drawRect(QRectF(left, top + 4.6 * unit, 10 * unit, 1.2 * unit))  # the scanner body
        lid = QPolygonF(
            [
                QPointF(left + 10 * unit, top + 4.6 * unit),
                QPointF(left + 9.4 * unit, top),
                QPointF(left + 9.9 * unit, top),
            ]
        )
        painter.drawPolygon(lid)  # the lid, open
        sheet = QRectF(left + 0.6 * unit, top + 1.6 * unit, 7.6 * unit, 1.1 * unit)
        painter.setBrush(PAPER)
        painter.drawRect(sheet)
        painter.setPen(QPen(QColor("#1b1f24"), 3))
        for i in range(4):  # the text, on the underside: printed side down
            x = sheet.left() + (0.5 + i * 1.8) * unit
            painter.drawLine(QPointF(x, sheet.bottom() - 4), QPointF(x + 1.3 * unit, sheet.bottom() - 4))
        self._arrow(
            painter,
            QPointF(sheet.center().x(), sheet.bottom() + 4),
            QPointF(sheet.center().x(), top + 4.5 * unit),
            ink,
        )
        corner = QPainterPath()  # the far corner the sheet is pushed into
        corner.moveTo(left + 0.3 * unit, top + 4.0 * unit)
        corner.lineTo(left + 0.3 * unit, top + 4.6 * unit)
        corner.lineTo(left + 1.2 * unit, top + 4.6 * unit)
        painter.setPen(QPen(ink, 5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(corner)

    @staticmethod
    def _arrow(painter: QPainter, start: QPointF, end: QPointF, ink: QColor) -> None:
        painter.setPen(QPen(ink, 4))
        painter.drawLine(start, end)
        head = QPolygonF([end, QPointF(end.x() - 9, end.y() - 14), QPointF(end.x() + 9, end.y() - 14)])
        painter.setBrush(ink)
        painter.drawPolygon(head)
