"""Issue 15 item 6: the console keeps its facts. A media restart in the middle of a call keeps every detail
on the console (and the kiosk stays in the call), both saying 再接続中; a resident hanging up while the
officer writes the note still records the outcome; the always-visible end button leads to the same form.
Real server, real aiortc on both ends, the real Qt window."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import Qt

from devtools.headless import (
    PASSWORD,
    TIMEOUT,
    KioskInbox,
    connect_call,
    scan_png,
    start_console,
    start_kiosk,
)
from kiosk_client.flow import KioskState
from remote_call import incall as ic
from remote_call import protocol as p
from signaling_server.auth import hash_password


async def answered_call(window, qtbot, helpers, server, **caller: Any):
    """Signed in, available, a kiosk's call answered with the channels open: (controller, kiosk, inbox)."""
    await helpers.sign_in(window, qtbot, "hanako")
    c = window.controller
    qtbot.mouseClick(window.header.available, Qt.MouseButton.LeftButton)
    await helpers.until(window, lambda: c.officer_state == "available")
    kiosk = await start_kiosk(server)
    await kiosk.request_call("kosodate", **caller)
    await helpers.until(window, lambda: window.desk.currentWidget() is window.ring)
    qtbot.mouseClick(window.ring.accept, Qt.MouseButton.LeftButton)
    await helpers.until(window, lambda: c.in_call)
    await asyncio.wait_for(c.party.session.channel_open.wait(), TIMEOUT)
    await asyncio.wait_for(kiosk.party.session.channel_open.wait(), TIMEOUT)
    return c, kiosk, KioskInbox(kiosk)


def call_facts(window) -> dict[str, Any]:
    """What the officer sees of the call: the caller, the chat, the documents, the scan line, the tabs."""
    call = window.call
    c = window.controller
    return {
        "info": call.info.text(),
        "chat": [call.chat.item(i).text() for i in range(call.chat.count())],
        "documents": [call.received.item(i).text() for i in range(call.received.count())],
        "scan_status": call.scan_status.text(),
        "scan_stages": dict(c.desk.scan_stages),
        "verified": sorted(c.desk.documents),
        "chat_lines": [(line.sender, line.text) for line in c.desk.chat],
        "history": [(e.call_id, e.procedure, e.language) for e in c.history.entries],
        "caller": c.current.caller if c.current else None,
        "notes": call.end_notes.toPlainText(),
    }


async def test_a_media_restart_keeps_every_detail_on_the_console(make_window, qtbot, helpers, server):
    window = make_window()
    c, kiosk, inbox = await answered_call(
        window,
        qtbot,
        helpers,
        server,
        procedure="jido-teate-nintei",
        language="vi",
        accessibility=["hearing"],
    )
    screens: list[str] = []
    kiosk.events.subscribe(lambda event, data: screens.append(data["screen"]) if event == "screen" else None)
    try:
        call = window.call
        call_id = c.call_id
        # a conversation, a verified scan, a second scan requested and not yet made, a note begun
        call.chat_input.setText("こんにちは")
        qtbot.keyClick(call.chat_input, Qt.Key.Key_Return)
        assert (await inbox.expect(ic.Chat)).text == "こんにちは"
        inbox.send(ic.Chat(id="r1", text="Xin chào", sender="resident"))
        await helpers.until(window, lambda: call.chat.count() == 2)
        qtbot.mouseClick(call.scan_button, Qt.MouseButton.LeftButton)
        first = await inbox.expect(ic.ScanRequest)
        await inbox.send_scan(scan_png(), first.request_id)
        await helpers.until(window, lambda: call.received.count() == 1)
        qtbot.mouseClick(call.scan_button, Qt.MouseButton.LeftButton)
        pending = await inbox.expect(ic.ScanRequest)
        # the kiosk shows the resident where to place it and says so: the request is pending
        await helpers.until(window, lambda: c.desk.scan_stages.get(pending.request_id) == "placing")
        call.end_notes.setPlainText("申請書の記入を案内中")
        before = call_facts(window)
        assert "ベトナム語" in before["info"] and "聴覚" in before["info"]

        await kiosk.client.send(p.RestartMedia(call_id=call_id))  # the kiosk lost its media path
        await helpers.until(window, lambda: c.reconnecting)
        assert call.reconnecting.isVisible() and call.reconnecting.text().startswith("再接続中")
        assert call_facts(window) == before and window.desk.currentWidget() is call

        await helpers.until(window, lambda: c.in_call and not c.reconnecting)
        assert not call.reconnecting.isVisible()
        assert c.call_id == call_id and call_facts(window) == before
        await kiosk.wait_for_state(KioskState.IN_CALL, TIMEOUT)
        assert "connecting" not in screens  # the kiosk stayed on the call screen, saying 再接続中
        assert [line.text for line in kiosk.resident.chat] == ["こんにちは"]  # the kiosk kept it too

        # the call goes on over the new media: chat, and the pending scan arrives for its request
        await asyncio.wait_for(c.party.session.channel_open.wait(), TIMEOUT)
        await asyncio.wait_for(kiosk.party.session.channel_open.wait(), TIMEOUT)
        inbox = KioskInbox(kiosk)
        await inbox.send_scan(scan_png(300, 400), pending.request_id, doc_id="scan-2")
        await helpers.until(window, lambda: call.received.count() == 2)
        assert c.desk.scan_stages[pending.request_id] == "received"
        assert helpers.raw_keys(window) == []
    finally:
        await kiosk.stop()


async def test_the_resident_hangs_up_while_the_officer_writes_the_outcome_is_still_recorded(
    make_window, qtbot, helpers, server
):
    window = make_window()
    c, kiosk, _inbox = await answered_call(window, qtbot, helpers, server, procedure="jido-teate-nintei")
    try:
        call = window.call
        call_id = c.call_id
        call.tabs.setCurrentIndex(call.tabs.indexOf(call.end_button.parentWidget()))
        call.outcome_buttons["visit_city_hall"].setChecked(True)
        call.end_notes.setPlainText("来庁予約を")

        await kiosk.end_call()  # the resident hangs up mid-note
        await helpers.until(window, lambda: window.desk.currentWidget() is window.wrap_up)
        form = window.wrap_up
        assert c.wrap.owed is not None and c.wrap.owed.call_id == call_id
        assert form.outcome_buttons["visit_city_hall"].isChecked()
        assert form.notes.toPlainText() == "来庁予約を"  # what was written stays
        assert "通話は終了しました" in form.info.text()
        await helpers.until(window, lambda: c.officer_state == "wrap_up")
        assert not c.wrap.paused
        form.notes.moveCursor(form.notes.textCursor().MoveOperation.End)
        form.notes.insertPlainText("案内")  # typed (an input method commits kana-kanji text like this)
        await window.runner.settle()
        await c.round_trip()
        assert c.wrap.paused  # the wrap-up clock stands still while the officer writes, on the server too
        officer = server.switchboard.router._officers["hanako"]
        assert officer.wrap_left is not None
        form.refresh(c)
        assert form.clock.text().startswith("入力中は後処理の時間を止めています")
        assert server.switchboard.store.call(call_id).outcome is None  # not yet given

        qtbot.mouseClick(form.record, Qt.MouseButton.LeftButton)
        await helpers.until(window, lambda: window.desk.currentWidget() is window.shift)
        await c.round_trip()  # the server has handled the outcome
        record = server.switchboard.store.call(call_id)
        assert (record.state, record.end_reason) == ("ended", "completed")
        assert (record.outcome, record.notes) == ("visit_city_hall", "来庁予約を案内")
        assert c.wrap.owed is None and not c.wrap.paused
        assert officer.wrap_left is None  # released: wrap-up runs on with the time that was left
        assert c.history.get(call_id).outcome == "visit_city_hall"
        entries = server.switchboard.audit.entries(action="call_outcome", target=call_id)
        assert len(entries) == 1 and entries[0].actor == "hanako"
    finally:
        await kiosk.stop()


async def test_the_end_button_is_always_there_and_the_outcome_follows_in_wrap_up(
    make_window, qtbot, helpers, server
):
    window = make_window()
    c, kiosk, _inbox = await answered_call(window, qtbot, helpers, server)
    try:
        call = window.call
        call_id = c.call_id
        for index in range(call.tabs.count()):  # whichever tab is open, the end button is on screen
            call.tabs.setCurrentIndex(index)
            assert call.hang_up.isVisible() and call.hang_up.isEnabled()
        qtbot.mouseClick(call.hang_up, Qt.MouseButton.LeftButton)
        await helpers.until(window, lambda: window.desk.currentWidget() is window.wrap_up)
        await c.round_trip()
        assert server.switchboard.store.call(call_id).outcome is None
        window.wrap_up.outcome_buttons["appointment_made"].setChecked(True)
        qtbot.mouseClick(window.wrap_up.record, Qt.MouseButton.LeftButton)
        await helpers.until(window, lambda: c.wrap.owed is None)
        await c.round_trip()
        assert server.switchboard.store.call(call_id).outcome == "appointment_made"

    finally:
        await kiosk.stop()


async def test_the_residents_rating_reaches_the_server_once_and_the_supervisors_statistics(make_server):
    rated: list[dict] = []
    arrived = asyncio.Event()

    def listener(event: str, data: dict) -> None:
        if event == "call_rated":
            rated.append(data)
            arrived.set()

    async with make_server(listeners=[listener]) as server:
        boss_skills = {"kosodate": "primary"}  # supervises 子育て
        server.store.add_officer("sato", "佐藤 監督", "supervisor", hash_password(PASSWORD), boss_skills)
        kiosk = await start_kiosk(server)
        console = await start_console(server, "hanako")
        boss = await start_console(server, "sato", role="supervisor")
        try:
            call_id = await connect_call(server, kiosk, console, department="kosodate")
            await console.end_call("resolved")
            await kiosk.wait_for_state(KioskState.FINISHED, TIMEOUT)
            kiosk.rate("good")
            kiosk.rate("bad")  # a change of mind on the screen: the first touch was sent, once
            await asyncio.wait_for(arrived.wait(), TIMEOUT)
            assert rated == [{"call_id": call_id, "rating": 5}]
            assert server.switchboard.store.call(call_id).rating == 5
            assert kiosk.ratings == {"good": 1}
            await boss.events.wait("stats", TIMEOUT)
            await boss.events.wait("stats", TIMEOUT)  # a push after the rating
            kosodate = boss.stats["departments"]["kosodate"]
            assert (kosodate["ratings"], kosodate["rating_mean"]) == (1, 5.0)
            assert boss.stats["officers"]["hanako"]["ratings"] == 1
        finally:
            await asyncio.gather(kiosk.stop(), console.stop(), boss.stop())
