"""Fixtures for the kiosk app. Every asyncio test here runs on a qasync QEventLoop, so Qt and asyncio share
one thread and one loop exactly as in the app (see docs/kiosk.md, "Testing the Qt app with asyncio").

Rules that keep these tests deterministic:
- inside an async test never start a nested Qt loop (qtbot.waitUntil / waitSignal / processEvents): it would
  run asyncio callbacks re-entrantly. Await controller events (``expect``) or futures instead; the view
  re-renders synchronously inside the controller's event, so after the await the widgets are up to date;
- clicks are ``qtbot.mouseClick`` (synchronous: the slot only schedules controller work), followed by an
  await of the event the click causes, subscribed *before* the click;
- Qt's deferred work (showing new children, layout requests) runs when the test yields: ``await
  settle(window)`` waits until a whole round of it has passed with nothing left (``devtools.qt_settle``);
- time: the ``demo`` controller's idle countdown runs on the ``clock`` fixture (a manual clock), so a test
  moves time with ``clock.advance(s)`` and asserts exact numbers; nothing waits for real seconds.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QLineEdit, QWidget

from config.schema import (
    AppConfig,
    DeviceDriver,
    DevicesConfig,
    PrinterConfig,
    ScannerConfig,
)
from devtools.manual_clock import ManualTimers
from devtools.qasync_loop import DeferringLoop
from devtools.qt_gc import (  # noqa: F401 (autouse: cyclic garbage collected between tests only)
    collect_garbage_after_each_test,
    collect_garbage_between_tests_only,
)
from devtools.qt_settle import settle
from hardware.fake_escpos_printer import FakeEscposPrinter
from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController, ResidentSession
from remote_call.events import EventHub

TIMEOUT = 20.0
PASSWORD = "correct horse battery"


def _qasync_loop() -> asyncio.AbstractEventLoop:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)  # a test closing its window must not stop the loop
    return DeferringLoop(app)  # asyncio callbacks only while it runs (devtools/qasync_loop.py)


def pytest_asyncio_loop_factories(config, item):
    """pytest-asyncio: the loop of every async test (and async fixture) in this directory is qasync's."""
    return {"qasync": _qasync_loop}


def expect(events: EventHub, name: str, timeout: float = TIMEOUT, **match: Any) -> asyncio.Future:
    """Subscribe *now* (synchronously, before the action that causes it: a click emits at once) to the next
    ``name`` event matching ``match``; await the result (TimeoutError after ``timeout``)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[dict[str, Any]] = loop.create_future()

    def check(event: str, data: dict[str, Any]) -> None:
        if event == name and not future.done() and all(data.get(k) == v for k, v in match.items()):
            future.set_result(data)

    unsubscribe = events.subscribe(check)
    future.add_done_callback(lambda _f: unsubscribe())
    return asyncio.ensure_future(asyncio.wait_for(future, timeout))


def click(qtbot: Any, window: QWidget, name: str) -> None:
    widget = window.findChild(QAbstractButton, name)
    assert widget is not None, f"no button {name!r}"
    assert widget.isVisible() and widget.isEnabled(), f"button {name!r} is not visible/enabled"
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(widget.width() // 2, widget.height() // 2))


def kiosk_config(
    base: AppConfig,
    kiosk_id: str = "kiosk-ueda",
    *,
    scanner: ScannerConfig | None = None,
    printer: PrinterConfig | None = None,
) -> AppConfig:
    """``base`` with this kiosk's devices replaced (simulated camera/audio; the given scanner/printer)."""
    devices = DevicesConfig(
        scanner=scanner or ScannerConfig(driver=DeviceDriver.NONE),
        printer=printer or PrinterConfig(driver=DeviceDriver.NONE),
    )
    kiosks = [k.model_copy(update={"devices": devices}) if k.id == kiosk_id else k for k in base.kiosks]
    return base.model_copy(update={"kiosks": kiosks})


def sane_test_scanner() -> ScannerConfig:
    """SANE's own ``test`` backend: a real scan through libsane, no hardware."""
    return ScannerConfig(driver=DeviceDriver.REAL, backend="sane", device="test", resolution_dpi=75)


def network_printer(printer: FakeEscposPrinter) -> PrinterConfig:
    return PrinterConfig(
        driver=DeviceDriver.REAL, connection="network", address=printer.address, status_timeout_s=2.0
    )


def officer_media() -> SimulatedMedia:
    return SimulatedMedia("officer", 320, 240, 15, 660.0)


def visible_texts(window: QWidget) -> list[str]:
    texts = [w.text() for w in window.findChildren(QLabel) if w.text()]
    texts += [w.text() for w in window.findChildren(QAbstractButton) if w.text()]
    texts += [w.accessibleName() for w in window.findChildren(QAbstractButton) if w.accessibleName()]
    texts += [w.text() for w in window.findChildren(QLineEdit) if w.text()]
    return texts


def assert_nothing_of_the_resident(controller: KioskController, window: QWidget, secrets: list[str]) -> None:
    """The privacy reset is complete: controller memory and every widget are free of the resident."""
    assert controller.resident == ResidentSession()
    assert controller.media.self_view.frame is None and controller.media.preview.frame is None
    assert controller.media.muted is False
    assert controller.party.session is None and controller.desk._receiver is None
    assert controller.desk.session is None and not controller.desk.scanning._verdicts
    for text in visible_texts(window):
        for secret in secrets:
            assert secret not in text, f"{secret!r} still on screen in {text!r}"
    from kiosk_client.view.widgets import ImageView, VideoView

    for image in window.findChildren(ImageView):
        assert image.pixmap().isNull(), f"{image.objectName()} still holds a picture"
    for video in window.findChildren(VideoView):
        assert not video.has_image, f"{video.objectName()} still holds a frame"
    for line in window.findChildren(QLineEdit):
        assert line.text() == "", f"{line.objectName()} still holds typed text"
    for button in window.findChildren(QAbstractButton):
        if (
            button.isCheckable()
            and button.isVisible()
            and button.objectName().startswith(("rating-", "top-"))
        ):
            assert not button.isChecked(), f"{button.objectName()} is still selected"


@pytest.fixture
async def fake_printer() -> AsyncIterator[FakeEscposPrinter]:
    async with FakeEscposPrinter() as printer:
        yield printer


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return tmp_path / "shots"


@pytest.fixture
def clock() -> ManualTimers:
    """The demo controller's idle clock: it moves only by ``clock.advance(seconds)``."""
    return ManualTimers()


@pytest.fixture
async def demo(qtbot, clock):
    """A server-less controller (demo departments, one closed; idle countdown on ``clock``) and its window."""
    from config.loader import load_config
    from devtools.kiosk_demo import demo_controller
    from kiosk_client.view.window import KioskWindow

    controller = demo_controller(load_config(), timers=clock)
    window = KioskWindow(controller)
    # Shut down when pytest-qt closes it (before this fixture's teardown): the deleteLater that follows may be
    # processed by the loop before the teardown runs, and the window would be gone by then.
    qtbot.addWidget(window, before_close_func=KioskWindow.shutdown)
    window.show()
    await settle(window)
    yield controller, window
    await controller.stop()
