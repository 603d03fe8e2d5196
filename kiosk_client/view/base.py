"""What every kiosk screen shares: the render context (controller, catalogs, language), the base class and
small layout helpers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import QFrame, QLayout, QWidget

from kiosk_client.controller import KioskController
from kiosk_client.i18n import Catalogs


@dataclass
class Ctx:
    controller: KioskController
    catalogs: Catalogs
    lang: str

    def t(self, key: str, **values: Any) -> str:
        return self.catalogs.text(self.lang, key, **values)

    def h(self, key: str, **values: Any) -> str:
        return self.catalogs.html(self.lang, key, **values)


_RUNNING: set[asyncio.Future] = set()


def run(coro: Any) -> None:
    """Forward a touch to a coroutine method of the controller without blocking Qt."""
    task = asyncio.ensure_future(coro)
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


def panel() -> QFrame:
    frame = QFrame()
    frame.setProperty("role", "panel")
    return frame


def clear_layout(layout: QLayout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.setParent(None)
            widget.deleteLater()


class Screen(QWidget):
    """A page of the kiosk: builds its widgets once; ``refresh(ctx)`` fills them from the controller."""

    def refresh(self, ctx: Ctx) -> None:
        raise NotImplementedError

    def clear_resident(self) -> None:
        """Privacy reset: drop anything of the resident this screen holds (text typed, images)."""
