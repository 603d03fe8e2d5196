"""「困ったとき」: the help panel that the top bar's help button opens over any screen (the screen stays
behind it, so a call goes on): what to do, the community centre's staff, the city's phone number."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QFrame, QVBoxLayout, QWidget

from kiosk_client.view.base import Ctx
from kiosk_client.view.paging import PagedScroll
from kiosk_client.view.widgets import button, label


class HelpPanel(QFrame):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("help-panel")
        self.setProperty("role", "notice")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 28, 40, 28)
        layout.setSpacing(20)
        self.title = label(role="title", rich=True)
        self.title.setObjectName("help-title")
        self.what_to_do = label(rich=True)
        self.staff = label(rich=True)
        self.phone = label(role="title", rich=True)
        self.phone.setObjectName("help-phone")
        content = QWidget()  # with larger text on a small screen it pages (view/paging.py)
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(20)
        for widget in (self.title, self.what_to_do, self.staff, self.phone):
            content_layout.addWidget(widget)
        self.content = content
        self.pages = PagedScroll("help", content)
        layout.addWidget(self.pages, 1)
        self.close_button = button("help-close", "primary")
        self.close_button.clicked.connect(self.hide)
        layout.addWidget(self.close_button)
        self.hide()

    def refresh(self, ctx: Ctx) -> None:
        self.title.setText(ctx.h("help.title"))
        self.what_to_do.setText(ctx.h("help.what_to_do"))
        self.staff.setText(ctx.h("help.staff"))
        self.phone.setText(ctx.h("help.phone", phone=ctx.controller.city.phone))
        self.close_button.setText(ctx.t("help.close"))

    def place(self, area: QRect) -> None:
        """Centre the panel in ``area`` (the window below the top bar), at most 1100 px wide."""
        width = min(1100, area.width() - 80)
        inner = self.content.layout()
        margins = self.layout().contentsMargins()  # type: ignore[union-attr]
        text_height = inner.totalHeightForWidth(width - margins.left() - margins.right()) if inner else 0
        wanted = (
            margins.top() + text_height + 20 + self.close_button.sizeHint().height() + margins.bottom() + 8
        )
        height = min(area.height() - 40, wanted)
        self.setGeometry(
            area.x() + (area.width() - width) // 2, area.y() + (area.height() - height) // 2, width, height
        )
        self.raise_()

    def toggle(self) -> None:
        self.setVisible(not self.isVisible())
