"""The picture guide for scanning, drawn with QPainter: where the scanner is (the kiosk with the scanner
beside the screen, highlighted) and which side goes down (a sheet turned over onto the glass, its text
facing the glass, pushed into the far corner). The words are the labels under it (catalog ``scan.guide_*``),
so the picture itself needs no language."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

HIGHLIGHT = QColor("#f2c200")  # the scanner, in both themes
PAPER = QColor("#ffffff")


class ScanGuide(QWidget):
    def __init__(self, name: str = "scan-guide") -> None:
        super().__init__()
        self.setObjectName(name)
        self.setMinimumHeight(160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return max(160, min(260, width * 3 // 8))

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        ink = self.palette().color(self.foregroundRole())
        half = self.width() / 2
        self._where(painter, QRectF(0, 0, half - 8, self.height()), ink)
        self._face_down(painter, QRectF(half + 8, 0, half - 8, self.height()), ink)
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
