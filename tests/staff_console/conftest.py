"""Qt + asyncio for the console tests: every async test here runs on a qasync QEventLoop.

pytest-asyncio asks the ``pytest_asyncio_loop_factories`` hook (this conftest only: the hook is looked up
through the item's own conftest chain) for the loop of each test; we hand it a factory making a qasync loop on
the single QApplication. Then the embedded server, the headless kiosk (aiortc), the console controller and the
Qt widgets all run on one loop, as in the real console: tests ``await`` futures and controller events with
timeouts, and Qt events are processed while they wait. ``window_changed`` turns the window's ``changed``
signal into an awaitable predicate check; nothing here sleeps.

The loop is ``devtools.qasync_loop.DeferringLoop``: pytest-asyncio runs each async fixture's setup and
teardown and the test as separate runs of the loop, and qasync alone would run a timer's asyncio callback
that falls due between two runs outside the loop (the embedded server's periodic checks then died with "no
running event loop", a teardown error under load; ``test_loop.py``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytestqt.plugin
from PySide6.QtWidgets import QApplication

from devtools.headless import PASSWORD, TIMEOUT, console_media
from devtools.qasync_loop import DeferringLoop
from devtools.qt_gc import (  # noqa: F401 (autouse: cyclic garbage collected between tests only)
    collect_garbage_after_each_test,
    collect_garbage_between_tests_only,
)
from staff_console.directory import Directory
from staff_console.i18n import Messages
from staff_console.view.ringer import Ringer
from staff_console.view.style import apply_style
from staff_console.view.tasks import use_thread_pool_executor
from staff_console.view.window import ConsoleWindow

_LOOPS: list[asyncio.AbstractEventLoop] = []
_original_process_events = pytestqt.plugin._process_events


def _process_events_unless_qasync() -> None:
    """pytest-qt processes Qt events between the test call and the fixture teardown, when the qasync loop is
    not running: qasync timers would then step asyncio tasks outside their loop ("bound to a different event
    loop"). While one of our qasync loops is open, Qt events are processed by that loop only."""
    if any(not loop.is_closed() for loop in _LOOPS):
        return
    _original_process_events()


pytestqt.plugin._process_events = _process_events_unless_qasync


def _qasync_loop() -> asyncio.AbstractEventLoop:
    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)  # closing a test's windows must not stop the loop under it
    loop = DeferringLoop(app)
    use_thread_pool_executor(loop)  # qasync's QThreadExecutor can deadlock at close (see docs/console.md)
    _LOOPS[:] = [old for old in _LOOPS if not old.is_closed()] + [loop]
    return loop


def pytest_asyncio_loop_factories(config, item):
    return {"qasync": _qasync_loop}


async def until(window: ConsoleWindow, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait until ``predicate()`` holds, re-checking after each rendered controller event."""
    if predicate():
        return
    done: asyncio.Future = asyncio.get_running_loop().create_future()

    def check(_event: str) -> None:
        if not done.done() and predicate():
            done.set_result(None)

    window.changed.connect(check)
    try:
        await asyncio.wait_for(done, timeout)
    finally:
        window.changed.disconnect(check)


@pytest.fixture
async def make_window(server, qtbot) -> AsyncIterator[Callable[..., ConsoleWindow]]:
    """Console windows against the embedded server; signed in through the sign-in page by the test."""
    windows: list[ConsoleWindow] = []
    apply_style(QApplication.instance())  # type: ignore[arg-type]

    def factory(language: str = "ja", username: str = "") -> ConsoleWindow:
        from staff_console.controller import ConsoleController

        def make(user: str, password: str, role: str) -> ConsoleController:
            return ConsoleController(
                server.url,
                user,
                password,
                console_media(),
                role=role,
                config=server.config,
                backoff_initial_s=0.05,
            )

        window = ConsoleWindow(
            Messages(language, strict=True),
            server_url=server.url,
            directory=Directory(server.config),
            make_controller=make,
            username=username,
            ringer=Ringer(use_sound_device=False),
        )
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield factory
    for window in windows:
        await window.shutdown()


async def sign_in(window: ConsoleWindow, qtbot: Any, username: str, role: str = "officer") -> None:
    from PySide6.QtCore import Qt

    page = window.sign_in
    page.username.setText(username)
    page.password.setText(PASSWORD)
    page.role.setCurrentIndex(page.role.findData(role))
    qtbot.mouseClick(page.button, Qt.MouseButton.LeftButton)
    await window.runner.settle()
    assert window.controller is not None and window.controller.online


@pytest.fixture
def helpers() -> Any:
    class H:
        pass

    h = H()
    h.until = until  # type: ignore[attr-defined]
    h.sign_in = sign_in  # type: ignore[attr-defined]
    h.raw_keys = raw_keys  # type: ignore[attr-defined]
    return h


KEY_LIKE = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"


def visible_texts(root) -> list[str]:
    """Every text a widget tree shows: labels, buttons, tabs, tables, placeholders, titles."""
    from PySide6.QtWidgets import (
        QAbstractButton,
        QComboBox,
        QGroupBox,
        QLabel,
        QLineEdit,
        QListWidget,
        QPlainTextEdit,
        QTableWidget,
        QTabWidget,
        QWidget,
    )

    texts = [root.windowTitle()]
    for widget in [root, *root.findChildren(QWidget)]:
        if isinstance(widget, QLabel | QAbstractButton):
            texts.append(widget.text())
        if isinstance(widget, QGroupBox):
            texts.append(widget.title())
        if isinstance(widget, QLineEdit | QPlainTextEdit):
            texts.append(widget.placeholderText())
        if isinstance(widget, QComboBox):
            texts.extend(widget.itemText(i) for i in range(widget.count()))
        if isinstance(widget, QTabWidget):
            texts.extend(widget.tabText(i) for i in range(widget.count()))
        if isinstance(widget, QListWidget):
            texts.extend(widget.item(i).text() for i in range(widget.count()))
        if isinstance(widget, QTableWidget):
            for column in range(widget.columnCount()):
                header = widget.horizontalHeaderItem(column)
                texts.append(header.text() if header else "")
                texts.extend(
                    widget.item(r, column).text() for r in range(widget.rowCount()) if widget.item(r, column)
                )
    return texts


def raw_keys(root) -> list[str]:
    import re

    from staff_console.i18n import load_catalog

    keys = set(load_catalog("ja"))
    return [t for t in visible_texts(root) if t in keys or re.match(KEY_LIKE, t)]
