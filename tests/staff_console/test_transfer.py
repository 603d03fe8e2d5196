"""Warm and blind transfers from the Qt console to another department served by a second officer."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt

from devtools.headless import TIMEOUT, start_console, start_kiosk
from kiosk_client.controller import KioskState


async def _in_call(window, qtbot, helpers, server):
    """hanako (kosodate only) is in a call with kiosk-ueda; jiro serves shimin-toroku only, available."""
    await helpers.sign_in(window, qtbot, "hanako")
    c = window.controller
    await c.set_shift(["kosodate"])
    await c.set_available()
    jiro = await start_console(server, "jiro")
    await jiro.set_shift(["shimin-toroku"])
    await jiro.set_available()
    await jiro.events.wait("officer_state", TIMEOUT, state="available")
    kiosk = await start_kiosk(server)
    await kiosk.request_call("kosodate", procedure="jido-teate-nintei")
    await helpers.until(window, lambda: window.desk.currentWidget() is window.ring)
    qtbot.mouseClick(window.ring.accept, Qt.MouseButton.LeftButton)
    await helpers.until(window, lambda: c.in_call)
    await kiosk.wait_for_state(KioskState.IN_CALL, TIMEOUT)
    return c, jiro, kiosk


def _fill_transfer(window, department: str, note: str, warm: bool) -> None:
    call = window.call
    call.tabs.setCurrentIndex(3)
    call.transfer_to.setCurrentIndex(call.transfer_to.findData(department))
    call.transfer_note.setPlainText(note)
    (call.transfer_warm if warm else call.transfer_blind).setChecked(True)


async def test_warm_transfer_stays_until_the_other_department_answers(make_window, qtbot, helpers, server):
    window = make_window()
    c, jiro, kiosk = await _in_call(window, qtbot, helpers, server)
    try:
        call_id = c.call_id
        assert window.call.transfer_to.findData("kosodate") == -1  # not to its own department
        _fill_transfer(window, "shimin-toroku", "住民票の写しも必要です", warm=True)
        ring = asyncio.ensure_future(jiro.events.wait("ring", TIMEOUT))
        qtbot.mouseClick(window.call.transfer_button, Qt.MouseButton.LeftButton)
        await helpers.until(window, lambda: c.transfer is not None)
        assert c.in_call and window.call.transfer_cancel.isEnabled()
        assert "市民登録課" in window.call.transfer_status.text()
        await ring
        assert jiro.offer is not None and jiro.offer.department == "shimin-toroku"
        assert any("住民票の写しも必要です" in note for note in jiro.offer.notes)
        assert helpers.raw_keys(window) == []
        # hanako still talks to the resident until jiro answers
        assert c.call_id == call_id and c.party.session is not None
        ended = asyncio.ensure_future(c.events.wait("call_ended", TIMEOUT, call_id=call_id))
        await jiro.accept()
        await ended
        await helpers.until(window, lambda: c.call_id is None)
        await jiro.events.wait("call_started", TIMEOUT)
        entry = c.history.get(call_id)
        assert entry.outcome == "transferred" and entry.transferred_to == "shimin-toroku"
        assert window.history.table.item(0, 5).text() == "転送"
        assert window.desk.currentWidget() is window.shift
    finally:
        await asyncio.gather(jiro.stop(), kiosk.stop())


async def test_warm_transfer_can_be_cancelled(make_window, qtbot, helpers, server):
    window = make_window()
    c, jiro, kiosk = await _in_call(window, qtbot, helpers, server)
    try:
        _fill_transfer(window, "shimin-toroku", "", warm=True)
        ring = asyncio.ensure_future(jiro.events.wait("ring", TIMEOUT))
        qtbot.mouseClick(window.call.transfer_button, Qt.MouseButton.LeftButton)
        await ring
        withdrawn = asyncio.ensure_future(jiro.events.wait("ring_withdrawn", TIMEOUT))
        qtbot.mouseClick(window.call.transfer_cancel, Qt.MouseButton.LeftButton)
        await withdrawn
        await window.runner.settle()
        assert c.in_call and c.transfer is None and window.call.transfer_button.isEnabled()
        assert window.call.transfer_status.text() == "転送を取り消しました。引き続き対応してください。"
        assert c.party.session is not None and not c.party.session.closed.is_set()
    finally:
        await asyncio.gather(jiro.stop(), kiosk.stop())


async def test_blind_transfer_hands_over_at_once(make_window, qtbot, helpers, server):
    window = make_window()
    c, jiro, kiosk = await _in_call(window, qtbot, helpers, server)
    try:
        call_id = c.call_id
        _fill_transfer(window, "shimin-toroku", "転入届の相談", warm=False)
        ring = asyncio.ensure_future(jiro.events.wait("ring", TIMEOUT))
        qtbot.mouseClick(window.call.transfer_button, Qt.MouseButton.LeftButton)
        await helpers.until(window, lambda: c.call_id is None)
        entry = c.history.get(call_id)
        assert entry.outcome == "transferred" and entry.notes == "転入届の相談"
        assert c.transfer is None and window.desk.currentWidget() is window.shift
        await ring
        assert any("転入届の相談" in note for note in jiro.offer.notes)
        await jiro.accept()
        await jiro.events.wait("call_started", TIMEOUT)
    finally:
        await asyncio.gather(jiro.stop(), kiosk.stop())
