"""The three-way call in the windows (issue 18): the kiosk, the officer's console and the interpreter's
console on one qasync loop with a real server and real aiortc media.

A signing resident chooses 「その他の言語（通訳つき）」 → 日本手話 on the kiosk; the request carries
``interpreter_language`` and the server brings in the interpreter when the officer answers; the interpreter
answers in the interpreter window and both windows show the other two parties' video; the kiosk shows the
sign-language layout (the interpreter large). The interpreter leaves; the officer then asks for a Nepali
interpreter from the call's 「通訳」 tab, and the kiosk shows the spoken layout (the officer large).
Screenshots of every layout go to the test's temporary directory (or $MADOGUCHI_SHOTS)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QWidget

from devtools.headless import PASSWORD, TIMEOUT, kiosk_media
from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController, KioskState
from kiosk_client.flow import Screen
from kiosk_client.view.window import KioskWindow
from simulator.three_way import add_interpreter
from staff_console.i18n import Messages
from staff_console.interpreter import InterpreterController
from staff_console.view.interpreter import InterpreterWindow


def press(qtbot, widget: QWidget) -> None:
    assert widget.isVisible() and widget.isEnabled(), widget.objectName()
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(widget.width() // 2, widget.height() // 2))


async def until(events, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait until ``predicate()`` holds, re-checking after each event of any hub in ``events``."""
    if predicate():
        return
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def check(_event: str, _data: dict) -> None:
        if not done.done() and predicate():
            done.set_result(None)

    unsubscribes = [hub.subscribe(check) for hub in events]
    try:
        await asyncio.wait_for(done, timeout)
    finally:
        for unsubscribe in unsubscribes:
            unsubscribe()


async def frames_drawn(views, hubs, count: int = 3) -> None:
    """Each view has drawn ``count`` frames (the views redraw on timers; frames keep the hubs busy)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not all(v.frames_drawn >= count for v in views):
        tick = asyncio.Event()
        unsubscribes = [hub.subscribe(lambda _e, _d, tick=tick: tick.set()) for hub in hubs]
        handle = loop.call_later(0.1, tick.set)  # a Qt timer draws; nothing else wakes us while frames flow
        try:
            await asyncio.wait_for(tick.wait(), max(0.01, deadline - loop.time()))
        finally:
            handle.cancel()
            for unsubscribe in unsubscribes:
                unsubscribe()
        if loop.time() > deadline:
            raise AssertionError(f"frames drawn: {[v.frames_drawn for v in views]}")


def sample_png() -> bytes:
    image = QImage(120, 80, QImage.Format.Format_RGB32)
    image.fill(QColor(40, 110, 190))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert image.save(buffer, "PNG")
    return bytes(data.data())


def chat_texts(console) -> list[str]:
    return [console.call.chat.item(i).text() for i in range(console.call.chat.count())]


def shoot(widget: QWidget, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("MADOGUCHI_SHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"three-way-{name}.png"
    assert widget.grab().save(str(path))
    return path


async def test_sign_language_and_spoken_interpreter_layouts(make_window, qtbot, helpers, server, tmp_path):
    add_interpreter(server, "mai", PASSWORD, ["jsl", "ne"])
    kiosk = KioskController(
        server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"], kiosk_media(), config=server.config
    )
    interpreter = InterpreterController(
        server.url, "mai", PASSWORD, SimulatedMedia("interp", 320, 240, 15, 880)
    )
    await asyncio.gather(kiosk.start(TIMEOUT), interpreter.start(TIMEOUT))
    kiosk_window = KioskWindow(kiosk)
    qtbot.addWidget(kiosk_window)
    kiosk_window.show()
    interpreter_window = InterpreterWindow(Messages("ja", strict=True), interpreter)
    qtbot.addWidget(interpreter_window)
    interpreter_window.resize(1100, 520)
    interpreter_window.show()
    console = make_window()
    try:
        await helpers.sign_in(console, qtbot, "hanako")
        c = console.controller
        await c.set_available()
        await until([interpreter.events], lambda: interpreter.state != "offline")  # signed in: told its state
        if interpreter.state != "available":
            press(qtbot, interpreter_window.available)
            await until([interpreter.events], lambda: interpreter.state == "available")
        assert not interpreter_window.available.isEnabled()

        # その他の言語（通訳つき） → 日本手話: the screens go on in やさしい日本語.
        welcome = kiosk_window.screens["welcome"]
        press(qtbot, welcome.other_button)
        press(qtbot, welcome.other.buttons["jsl"])
        assert kiosk.resident.language == "ja-easy" and kiosk.resident.interpreter_language == "jsl"
        kiosk.select_procedure("jido-teate-nintei")
        kiosk.accept_consent()
        assert kiosk.screen is Screen.PREFLIGHT
        press(qtbot, kiosk_window.screens["preflight"].call)
        await helpers.until(console, lambda: c.offer is not None)
        qtbot.mouseClick(console.ring.accept, Qt.MouseButton.LeftButton)
        await kiosk.wait_for_state(KioskState.IN_CALL, TIMEOUT)

        # Asked for up front: the interpreter is offered the call as soon as the officer answered.
        await until([interpreter.events], lambda: interpreter.offer is not None)
        assert interpreter.offer is not None and interpreter.offer.language == "jsl"
        press(qtbot, interpreter_window.accept)
        hubs = [kiosk.events, c.events, interpreter.events]
        await until(
            hubs, lambda: "interpreter" in kiosk.conference.links and "interpreter" in c.conference.links
        )
        pane = kiosk_window.screens["in_call"].interpreter
        await frames_drawn([interpreter_window.resident, interpreter_window.officer], hubs)
        await until(hubs, lambda: kiosk.conference.frames_from("interpreter") > 5)
        kiosk_window.refresh()
        await kiosk_window.flush_video()
        assert pane.isVisible() and pane.sign_language and pane.video.has_image
        assert pane.width() > kiosk_window.screens["in_call"].officer_video.width()  # the signer is large
        shoot(kiosk_window, "kiosk-sign-language", tmp_path)
        console.call.tabs.setCurrentWidget(console.call.interpreter)
        await frames_drawn([console.call.interpreter.video], hubs)
        assert "日本手話" in console.call.interpreter.status.text()
        shoot(console, "console-officer-sign-language", tmp_path)

        # The conversation and what is shown reach the interpreter's window; its typed line reaches both.
        kiosk.send_reply("reply.yes")
        await c.desk.send_chat("お名前の漢字を確認します")
        await c.desk.show_document(sample_png(), name="記入例.png", width=120, height=80)
        panel = interpreter_window.desk
        await until(hubs, lambda: len(interpreter.desk.chat) == 2 and len(interpreter.desk.documents) == 1)
        panel.entry.setText("佐々木 美和（ささき みわ）")
        press(qtbot, panel.send)
        await until(hubs, lambda: any(line.sender == "interpreter" for line in kiosk.resident.chat))
        await helpers.until(console, lambda: "通訳者: 佐々木 美和（ささき みわ）" in chat_texts(console))
        interpreter_window.refresh()
        assert panel.chat.count() == 3 and panel.documents.count() == 1
        assert panel.documents.item(0).text() == "職員が表示: 記入例.png"
        assert not panel.preview.pixmap().isNull()  # the shown image, previewed
        kiosk_window.refresh()
        assert "つうやくの　ひと：佐々木 美和" in kiosk_window.screens["in_call"].chat.text()  # ja-easy
        shoot(interpreter_window, "interpreter-window", tmp_path)
        shoot(kiosk_window, "kiosk-interpreter-chat", tmp_path)

        # The interpreter leaves; the call goes on; the officer asks for a Nepali interpreter.
        press(qtbot, interpreter_window.leave)
        await until(hubs, lambda: not kiosk.conference.links and not c.conference.links)
        assert kiosk.state is KioskState.IN_CALL and c.in_call
        if interpreter.state != "available":
            press(qtbot, interpreter_window.available)
            await until([interpreter.events], lambda: interpreter.state == "available")
        tab = console.call.interpreter
        tab.language.setCurrentIndex(tab.language.findData("ne"))
        await helpers.until(console, lambda: tab.request.isEnabled())
        press(qtbot, tab.request)
        await until([interpreter.events], lambda: interpreter.offer is not None)
        press(qtbot, interpreter_window.accept)
        await until(
            hubs,
            lambda: (
                "interpreter" in kiosk.conference.links and kiosk.conference.frames_from("interpreter") > 5
            ),
        )
        kiosk_window.refresh()
        await kiosk_window.flush_video()
        assert not pane.sign_language and pane.video.has_image
        assert pane.width() < kiosk_window.screens["in_call"].officer_video.width()  # the officer is large
        shoot(kiosk_window, "kiosk-spoken", tmp_path)
        await frames_drawn([tab.video], hubs, count=tab.video.frames_drawn + 3)
        assert "ネパール語" in tab.status.text()
        shoot(console, "console-officer-spoken", tmp_path)
    finally:
        interpreter_window.close()
        await asyncio.gather(kiosk.stop(), interpreter.stop(), return_exceptions=True)
