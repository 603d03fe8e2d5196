"""The document viewer: zoom, pan (drag), rotate, fit and actual size; "save to case" is an explicit button.

Scans (PNG/JPEG) and a business's uploads (PDF, PNG, JPEG). The image is decoded in memory from the verified
bytes; a PDF is rendered page by page (PDFium, ``staff_console.uploads.PdfPages``) with previous / next
buttons; nothing is written to disk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from staff_console.i18n import Messages
from staff_console.uploads import VIEW_DPI, PdfPages

ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 0.02, 16.0


class ImageView(QGraphicsView):
    """A QGraphicsView over one pixmap; drag to pan, Ctrl+wheel to zoom."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(Qt.GlobalColor.darkGray)
        self.scale_factor = 1.0
        self.rotation = 0

    def set_image(self, image: QImage) -> None:
        self.item.setPixmap(QPixmap.fromImage(image))
        self.item.setTransformOriginPoint(self.item.boundingRect().center())
        self.rotation = 0
        self.item.setRotation(0)
        self.scene().setSceneRect(self.item.sceneBoundingRect())

    def _apply(self) -> None:
        self.resetTransform()
        self.scale(self.scale_factor, self.scale_factor)

    def zoom(self, factor: float) -> None:
        self.scale_factor = min(MAX_SCALE, max(MIN_SCALE, self.scale_factor * factor))
        self._apply()

    def set_scale(self, scale: float) -> None:
        self.scale_factor = min(MAX_SCALE, max(MIN_SCALE, scale))
        self._apply()

    def fit(self) -> None:
        rect = self.item.sceneBoundingRect()
        if rect.isEmpty():
            return
        view = self.viewport().rect()
        self.set_scale(min((view.width() - 8) / rect.width(), (view.height() - 8) / rect.height()))
        self.centerOn(rect.center())

    def rotate_by(self, degrees: int) -> None:
        self.rotation = (self.rotation + degrees) % 360
        self.item.setRotation(self.rotation)
        self.scene().setSceneRect(self.item.sceneBoundingRect())

    def wheelEvent(self, event: Any) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(ZOOM_STEP if event.angleDelta().y() > 0 else 1 / ZOOM_STEP)
        else:
            super().wheelEvent(event)


class DocumentViewer(QWidget):
    """A non-modal window for one verified document."""

    save_requested = Signal(str)

    def __init__(
        self,
        t: Messages,
        doc_id: str,
        data: bytes,
        *,
        title: str,
        verified_note: str,
        dpi: int | None = None,
        saved: bool = False,
        parent: QWidget | None = None,
        screen_dpi: Callable[[], float] | None = None,
        mime: str = "image/png",
        badge: str = "",
    ):
        super().__init__(parent, Qt.WindowType.Window)
        self.t = t
        self.doc_id = doc_id
        self.dpi = dpi
        self._screen_dpi = screen_dpi or (lambda: float(self.logicalDpiX()))
        self.setWindowTitle(title)
        self.setObjectName("documentViewer")
        self.pdf: PdfPages | None = None
        self.page = 0
        if mime == "application/pdf":
            self.pdf = PdfPages(data)
            self.dpi = VIEW_DPI
            image = pil_to_qimage(self.pdf.render(0))
        else:
            image = QImage.fromData(data)
        if image.isNull():
            raise ValueError(f"document {doc_id} is not an image Qt can decode")
        self.image_size = (image.width(), image.height())
        self.view = ImageView(self)
        self.view.set_image(image)
        buttons = QHBoxLayout()
        self.badge = QLabel(badge, self)
        self.badge.setObjectName("businessBadge")
        self.badge.setVisible(bool(badge))
        buttons.addWidget(self.badge)
        self.zoom_in = self._button("viewer.zoom_in", lambda: self.view.zoom(ZOOM_STEP), buttons)
        self.zoom_out = self._button("viewer.zoom_out", lambda: self.view.zoom(1 / ZOOM_STEP), buttons)
        self.fit_button = self._button("viewer.fit", self.view.fit, buttons)
        self.actual = self._button("viewer.actual_size", self.actual_size, buttons)
        self.rotate_left = self._button("viewer.rotate_left", lambda: self.view.rotate_by(-90), buttons)
        self.rotate_right = self._button("viewer.rotate_right", lambda: self.view.rotate_by(90), buttons)
        buttons.addStretch(1)
        self.save_button = QPushButton(t("viewer.save_to_case"), self)
        self.save_button.setObjectName("primary")
        self.save_button.clicked.connect(lambda: self.save_requested.emit(self.doc_id))
        buttons.addWidget(self.save_button)
        self.info = QLabel(verified_note, self)
        self.info.setObjectName("muted")
        self.info.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.view, 1)
        if self.pdf is not None:
            layout.addLayout(self._page_buttons())
        layout.addWidget(self.info)
        self.set_saved(saved)
        self.resize(900, 1000)

    def _button(self, key: str, slot: Callable[[], None], layout: QHBoxLayout) -> QPushButton:
        button = QPushButton(self.t(key), self)
        button.clicked.connect(slot)
        layout.addWidget(button)
        return button

    def _page_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.previous_page = self._button("viewer.previous_page", lambda: self.show_page(self.page - 1), row)
        self.page_label = QLabel("", self)
        self.page_label.setObjectName("heading")
        row.addWidget(self.page_label)
        self.next_page = self._button("viewer.next_page", lambda: self.show_page(self.page + 1), row)
        row.insertStretch(0, 1)
        row.addStretch(1)
        self._update_page_buttons()
        return row

    @property
    def page_count(self) -> int:
        return self.pdf.count if self.pdf is not None else 1

    def show_page(self, index: int) -> None:
        """Show page ``index`` (0-based) of a PDF, fitted to the window."""
        if self.pdf is None or not 0 <= index < self.pdf.count:
            return
        self.page = index
        image = pil_to_qimage(self.pdf.render(index))
        self.image_size = (image.width(), image.height())
        self.view.set_image(image)
        self.view.fit()
        self._update_page_buttons()

    def _update_page_buttons(self) -> None:
        self.page_label.setText(self.t("viewer.page", page=self.page + 1, pages=self.page_count))
        self.previous_page.setEnabled(self.page > 0)
        self.next_page.setEnabled(self.page + 1 < self.page_count)

    def release(self) -> None:
        """The call is over: let go of the PDF (the window is closed and deleted by the caller)."""
        if self.pdf is not None:
            self.pdf.close()
            self.pdf = None

    def actual_size(self) -> None:
        """Paper size on screen when the scan's dpi is known (a 300 dpi scan at the screen's dpi), else
        one image pixel per screen pixel."""
        scale = self._screen_dpi() / self.dpi if self.dpi else 1.0
        self.view.set_scale(scale)

    def set_saved(self, saved: bool) -> None:
        self.save_button.setEnabled(not saved)
        self.save_button.setText(self.t("viewer.saved") if saved else self.t("viewer.save_to_case"))

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.view.fit()


def pil_to_qimage(image: Any) -> QImage:
    """A PIL RGB image as a QImage that owns its pixels (the PIL buffer may go away)."""
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    return QImage(data, rgb.width, rgb.height, rgb.width * 3, QImage.Format.Format_RGB888).copy()
