"""Trouble states (server unreachable, department closed) and the kiosk-mode exit (gesture + PIN)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from PySide6.QtCore import QPoint, Qt

from kiosk_client.controller import KioskController, Screen
from kiosk_client.kiosk_mode import ExitGesture, PinCheck
from kiosk_client.view.widgets import TileButton
from kiosk_client.view.window import KioskWindow

from .conftest import click, expect, officer_media, settle


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_unreachable_server_shows_the_phone_number_and_recovers_by_itself(make_server, qtbot):
    server = make_server()  # provisioned, not started yet: nothing listens on its port
    server.port = free_port()
    kiosk = KioskController(
        f"ws://127.0.0.1:{server.port}/ws",
        "kiosk-ueda",
        server.fleet.kiosk_tokens["kiosk-ueda"],
        officer_media(),
        config=server.config,
        telemetry=False,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )
    window = KioskWindow(kiosk)
    qtbot.addWidget(window)
    window.show()
    kiosk.start_background()
    try:
        await settle(window)
        assert not kiosk.online and window.notice.isVisible()
        assert "019-651-4111" in window.notice_text.text() and "つながりません" in window.notice_text.text()
        click(qtbot, window, "lang-en")  # the resident can still read the screens, in their language
        assert (
            "019-651-4111" in window.notice_text.text() and "cannot be reached" in window.notice_text.text()
        )
        # The server comes up: the kiosk, retrying in the background, connects and the notice goes away.
        online = expect(kiosk.events, "online")
        async with server:
            await online
            assert kiosk.online and kiosk.client.attempts > 1
            assert not window.notice.isVisible()
    finally:
        window.shutdown()
        await kiosk.stop()


async def test_closed_department_says_when_it_opens_and_is_not_entered(demo, qtbot):
    controller, window = demo
    click(qtbot, window, "lang-ja")
    click(qtbot, window, "mode-department")
    await settle(window)
    tile = window.findChild(TileButton, "tile-department-kenko-hoken")
    assert tile is not None
    lines = " ".join(line.text() for line in tile.lines)
    assert "受付時間外" in lines and "11月30日（月）08:30" in lines
    click(qtbot, window, "tile-department-kenko-hoken")
    assert controller.screen is Screen.CHOOSE  # not on to consent
    assert window.notice.isVisible()
    assert "健康保険課は、ただいま受付時間外です" in window.notice_text.text()
    assert "11月30日（月）08:30" in window.notice_text.text()
    click(qtbot, window, "tile-department-shimin-toroku")  # an open one goes on and clears the notice
    assert controller.screen is Screen.CONSENT and not window.notice.isVisible()


async def test_exit_needs_the_corner_long_press_and_the_pin(demo, qtbot):
    controller, window = demo
    controller.exit_gesture.hold_s = 0.2
    controller.pin = PinCheck("2468")
    window.kiosk_mode = True
    window._allow_close = False
    assert window.close() is False and window.isVisible()  # Alt+F4 and friends do nothing

    # A long press somewhere else does nothing; in the top-right corner it opens the PIN pad.
    opened = expect(controller.events, "screen", screen="service")
    qtbot.mousePress(window, Qt.MouseButton.LeftButton, pos=QPoint(window.width() // 2, window.height() // 2))
    assert not controller.exit_gesture.pending
    qtbot.mouseRelease(
        window, Qt.MouseButton.LeftButton, pos=QPoint(window.width() // 2, window.height() // 2)
    )
    corner = QPoint(window.width() - 10, 10)
    qtbot.mousePress(window, Qt.MouseButton.LeftButton, pos=corner)
    assert controller.exit_gesture.pending
    await opened
    qtbot.mouseRelease(window, Qt.MouseButton.LeftButton, pos=corner)
    assert window.stack.currentWidget() is window.screens["service"]

    for digit in "1111":
        click(qtbot, window, f"pin-{digit}")
    click(qtbot, window, "pin-exit")
    assert window.isVisible() and "暗証番号が違います" in window.screens["service"].message.text()
    exiting = expect(controller.events, "exit_requested")
    for digit in "2468":
        click(qtbot, window, f"pin-{digit}")
    click(qtbot, window, "pin-exit")
    await exiting
    assert not window.isVisible()


async def test_a_short_press_in_the_corner_is_not_the_gesture():
    fired = []
    gesture = ExitGesture(lambda: fired.append(True), hold_s=0.3, corner_px=100)
    gesture.press(1900, 20, 1920, 1080)
    assert gesture.pending
    gesture.release()
    assert not gesture.pending and fired == []
    gesture.press(10, 20, 1920, 1080)  # the wrong corner
    assert not gesture.pending


def test_pin_check_locks_out_after_repeated_failures():
    now = [0.0]
    check = PinCheck("0000", max_failures=3, lockout_s=60, clock=lambda: now[0])
    assert not check.check("1234") and not check.check("1234") and not check.check("1234")
    assert check.locked and not check.check("0000")  # even the right PIN waits out the lockout
    now[0] = 61
    assert check.check("0000")
    with pytest.raises(ValueError, match="4 to 12 digits"):
        PinCheck("12a4")


async def test_call_request_while_offline_says_so(demo, qtbot):
    controller, window = demo
    from devtools.kiosk_demo import stage

    await stage(controller, "consent")
    controller.online = False
    controller.accept_consent()
    await controller.call_officer()
    assert controller.screen is Screen.PREFLIGHT and controller.resident.notice is not None
    await settle(window)
    assert "019-651-4111" in window.notice_text.text()
    await controller.media.stop_preview()


async def test_entering_the_choice_refreshes_waiting_counts_from_the_server(server, qtbot):
    from kiosk_client import controller as controller_module

    other = KioskController(
        server.url, "kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"], officer_media(), telemetry=False
    )
    kiosk = KioskController(
        server.url,
        "kiosk-ueda",
        server.fleet.kiosk_tokens["kiosk-ueda"],
        officer_media(),
        config=server.config,
        telemetry=False,
    )
    window = KioskWindow(kiosk)
    qtbot.addWidget(window)
    window.show()
    try:
        await kiosk.start()
        await other.start()
        assert kiosk.departments["shimin-toroku"].waiting == 0
        queued = expect(other.events, "queue")
        await other.request_call("shimin-toroku")  # nobody answers: one resident waits
        await queued
        kiosk._departments_at -= controller_module.DEPARTMENTS_FRESH_S + 1
        refreshed = expect(kiosk.events, "menu", refreshed=True)
        click(qtbot, window, "lang-ja")
        await refreshed
        assert kiosk.departments["shimin-toroku"].waiting == 1
        click(qtbot, window, "mode-department")
        await settle(window)
        tile = window.findChild(TileButton, "tile-department-shimin-toroku")
        assert "1人待ち" in " ".join(line.text() for line in tile.lines)
    finally:
        window.shutdown()
        await asyncio.gather(kiosk.stop(), other.stop())


async def test_a_missing_camera_is_explained_and_the_call_is_still_offered(qtbot):
    from config.loader import load_config
    from config.schema import CameraConfig, DeviceDriver, DevicesConfig
    from devtools.kiosk_demo import demo_departments
    from hardware.devices import KioskDevices

    devices = await KioskDevices.open(DevicesConfig(camera=CameraConfig(driver=DeviceDriver.NONE)), "test")
    kiosk = KioskController(
        "ws://127.0.0.1:9/ws", "kiosk-ueda", "t" * 20, devices, config=load_config(), telemetry=False
    )
    kiosk.online = True
    kiosk.departments = demo_departments(load_config())
    window = KioskWindow(kiosk)
    qtbot.addWidget(window)
    window.show()
    try:
        click(qtbot, window, "lang-ja")
        await settle(window)
        click(qtbot, window, "tile-procedure-juminhyo")
        click(qtbot, window, "consent-agree")
        await settle(window)
        preflight = window.screens["preflight"]
        assert "カメラが使えません。声だけでお話しできます" in preflight.device_notes.text()
        assert preflight.call.isVisible() and preflight.call.isEnabled()
        assert kiosk.device_health()["camera"]["status"] == "absent"
    finally:
        window.shutdown()
        await kiosk.stop()
        await devices.close()


async def test_leaving_the_queue_ends_on_the_cancelled_screen_and_resets(server, qtbot):
    kiosk = KioskController(
        server.url,
        "kiosk-ueda",
        server.fleet.kiosk_tokens["kiosk-ueda"],
        officer_media(),
        config=server.config,
        telemetry=False,
    )
    window = KioskWindow(kiosk)
    qtbot.addWidget(window)
    window.show()
    try:
        await kiosk.start()
        click(qtbot, window, "lang-ja")
        await settle(window)
        click(qtbot, window, "tile-procedure-juminhyo")
        click(qtbot, window, "consent-agree")
        queued = expect(kiosk.events, "queue")
        click(qtbot, window, "preflight-call")
        await queued
        assert kiosk.screen is Screen.WAITING
        assert "1番目" in window.screens["waiting"].position.text()
        ended = expect(kiosk.events, "state", state="finished")
        click(qtbot, window, "waiting-cancel")
        await ended
        assert kiosk.screen is Screen.AFTER_CALL and kiosk.resident.end_reason == "cancelled"
        assert "呼び出しをやめました" in window.screens["after_call"].title.text()
        assert not window.screens["after_call"].ratings["good"].isVisible()
        reset = expect(kiosk.events, "reset")
        click(qtbot, window, "finish")
        await reset
        assert kiosk.screen is Screen.WELCOME and kiosk.resident.department is None
    finally:
        window.shutdown()
        await kiosk.stop()
