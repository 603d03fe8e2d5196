"""筆談 end to end (issue 15, item 2): a resident who asked for written conversation (聴覚) and an officer
talk by handwriting and real-time text over a real aiortc call, both windows on one qasync loop.

The resident flags 聴覚 on the preflight screen; the officer sees it among the 配慮 and the call opens on the
筆談 tab (console) and the pad (kiosk). The resident's strokes reach the console's canvas point for point
while the finger is still down; what either side types appears on the other screen key by key; a finished
line becomes a chat line on both; the officer draws back and clears; the new canned replies arrive in the
officer's Japanese. Screenshots of both windows are written to the test's temporary directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication, QWidget

from devtools.headless import TIMEOUT, kiosk_media
from kiosk_client.controller import KioskController, KioskState
from kiosk_client.flow import Screen
from kiosk_client.view.window import KioskWindow
from remote_call.rtt import WritingNotes, pad_box


async def kiosk_until(kiosk: KioskController, predicate: Callable[[], bool]) -> None:
    """Wait until ``predicate()`` holds, re-checking after each kiosk controller event."""
    if predicate():
        return
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def check(_event: str, _data: dict) -> None:
        if not done.done() and predicate():
            done.set_result(None)

    unsubscribe = kiosk.events.subscribe(check)
    try:
        await asyncio.wait_for(done, TIMEOUT)
    finally:
        unsubscribe()


def press(qtbot, widget: QWidget) -> None:
    assert widget.isVisible() and widget.isEnabled(), widget.objectName()
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(widget.width() // 2, widget.height() // 2))


def ime(widget: QWidget, text: str) -> None:
    """Text committed by the input method (how Japanese reaches a line edit), as the officer types."""
    event = QInputMethodEvent()
    event.setCommitString(text)
    QApplication.sendEvent(widget, event)


def draw(qtbot, pad: QWidget, points: list[tuple[float, float]], *, lift: bool = True) -> None:
    """A finger on ``pad`` through ``points`` (fractions of the drawing area)."""
    x0, y0, w, h = pad_box(pad.width(), pad.height())
    at = [QPoint(round(x0 + x * w), round(y0 + y * h)) for x, y in points]
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=at[0])
    for point in at[1:]:
        qtbot.mouseMove(pad, point)
    if lift:
        qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=at[-1])


async def start_call(qtbot, make_window, helpers, server):
    kiosk = KioskController(
        server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"], kiosk_media(), config=server.config
    )
    await kiosk.start(TIMEOUT)
    kiosk_window = KioskWindow(kiosk)
    qtbot.addWidget(kiosk_window)
    kiosk_window.show()
    console = make_window()
    await helpers.sign_in(console, qtbot, "hanako")
    c = console.controller
    await c.set_available()
    kiosk.choose_language("ja")
    kiosk.select_procedure("jido-teate-nintei")
    kiosk.accept_consent()
    assert kiosk.screen is Screen.PREFLIGHT
    preflight = kiosk_window.screens["preflight"]
    press(qtbot, preflight.hearing)  # 聞こえにくい方：文字で話す（筆談）
    assert kiosk.resident.hearing and preflight.hearing.isChecked()
    press(qtbot, preflight.call)
    await helpers.until(console, lambda: c.offer is not None)
    assert "聴覚（字幕・筆談）" in console.ring.values["accessibility"].text()
    qtbot.mouseClick(console.ring.accept, Qt.MouseButton.LeftButton)
    await helpers.until(console, lambda: c.in_call)
    await kiosk.wait_for_state(KioskState.IN_CALL, TIMEOUT)
    sessions = [kiosk.party.session, c.party.session]
    await asyncio.wait_for(asyncio.gather(*(s.channel_open.wait() for s in sessions if s)), TIMEOUT)
    return kiosk, kiosk_window, console


async def test_a_hearing_resident_and_an_officer_talk_in_writing(
    make_window, qtbot, helpers, server, tmp_path
):
    kiosk, kiosk_window, console = await start_call(qtbot, make_window, helpers, server)
    c = console.controller
    try:
        call = console.call
        tab = call.writing
        screen = kiosk_window.screens["in_call"]
        panel = screen.writing
        assert call.tabs.currentWidget() is tab  # 聴覚: the console opens on the 筆談 tab
        assert screen.main_stack.currentWidget() is panel and panel.pad.isVisible()  # the kiosk on the pad

        # Handwriting: the console has the stroke's first points while the finger is still down.
        stroke = [(0.2, 0.3), (0.25, 0.35), (0.3, 0.42), (0.35, 0.5)]
        draw(qtbot, panel.pad, stroke, lift=False)
        officer_page = c.desk.writing.notes.page
        first = ("resident", 0)
        await helpers.until(
            console, lambda: first in officer_page.strokes and len(officer_page.strokes[first].points) == 4
        )
        assert not officer_page.strokes[("resident", 0)].done
        qtbot.mouseRelease(panel.pad, Qt.MouseButton.LeftButton, pos=QPoint(panel.pad.width() // 3, 0))
        await helpers.until(console, lambda: officer_page.strokes[("resident", 0)].done)
        kiosk_stroke = kiosk.resident.writing.page.strokes[("resident", 0)]
        assert officer_page.strokes[("resident", 0)].points == kiosk_stroke.points
        assert kiosk_stroke.points[0] == pytest.approx((0.2, 0.3), abs=0.005)  # normalised to the pad
        draw(qtbot, panel.pad, [(0.6, 0.3), (0.6, 0.7)])
        await helpers.until(console, lambda: len(officer_page.strokes) == 2)

        # Real-time text from the resident: each key on the large keyboard reaches the console.
        press(qtbot, panel.mode_keyboard)
        for typed in ("い", "いん", "いんか", "いんかん"):
            press(qtbot, panel.keyboard.keys[typed[-1]])
            await helpers.until(console, lambda typed=typed: tab.resident_text.text() == typed)
        press(qtbot, panel.send)
        await helpers.until(console, lambda: call.chat.count() == 1)
        assert call.chat.item(0).text() == "住民: いんかん" and tab.resident_text.text() == ""

        # Real-time text from the officer, with the large caption strip on.
        tab.show_caption.setChecked(True)
        tab.input.setFocus()
        for committed in ("印", "鑑", "は", "お持ちですか"):  # what the officer's input method commits
            ime(tab.input, committed)
            typed = tab.input.text()
            await kiosk_until(kiosk, lambda typed=typed: kiosk.resident.writing.peer_draft == typed)
            assert panel.officer_text.text() == typed
        assert call.caption.isVisible() and call.caption.text() == "印鑑はお持ちですか"
        shots = Path(tmp_path)
        kiosk_window.grab().save(str(shots / "kiosk-writing.png"))
        console.grab().save(str(shots / "console-writing.png"))
        qtbot.keyClick(tab.input, Qt.Key.Key_Return)
        await kiosk_until(kiosk, lambda: len(kiosk.resident.chat) == 2)
        assert kiosk.resident.chat[-1].text == "印鑑はお持ちですか" and panel.officer_text.text() == ""
        assert [item.text() for item in (call.chat.item(1),)] == ["職員: 印鑑はお持ちですか"]

        # The officer draws back (blue on the kiosk), then clears the pad on both screens.
        press(qtbot, panel.mode_pad)
        draw(qtbot, tab.canvas, [(0.1, 0.1), (0.9, 0.9)])
        kiosk_page = kiosk.resident.writing.page
        await kiosk_until(
            kiosk, lambda: ("officer", 0) in kiosk_page.strokes and kiosk_page.strokes[("officer", 0)].done
        )
        kiosk_window.grab().save(str(shots / "kiosk-pad.png"))
        console.grab().save(str(shots / "console-pad.png"))
        press(qtbot, tab.clear)
        await kiosk_until(kiosk, lambda: not kiosk_page.strokes)
        assert not officer_page.strokes

        # The new canned replies reach the officer in Japanese.
        screen.replies["reply.write"].click()
        await helpers.until(console, lambda: call.chat.count() == 3)
        assert call.chat.item(2).text() == "住民: 書いてください"

        # The call ends: neither side keeps anything of the written conversation.
        draw(qtbot, panel.pad, [(0.4, 0.4), (0.5, 0.5)])
        ime(tab.input, "以上です")
        await kiosk_until(kiosk, lambda: kiosk.resident.writing.peer_draft == "以上です")
        await c.end_call("resolved", "")
        await kiosk_until(kiosk, lambda: kiosk.state is not KioskState.IN_CALL)
        await helpers.until(console, lambda: not c.in_call)
        assert kiosk.resident.writing == WritingNotes() and c.desk.writing.notes == WritingNotes()
    finally:
        kiosk_window.shutdown()
        await kiosk.stop()
