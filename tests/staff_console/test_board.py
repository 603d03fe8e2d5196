"""Supervisor board updated live from SupervisorStats; sign-in errors; decline and withdrawn rings; media
switches; the ring sound."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt

from devtools.headless import PASSWORD, TIMEOUT, start_kiosk
from signaling_server.auth import hash_password


def _cell(table, row_name: str, column: int) -> str | None:
    for row in range(table.rowCount()):
        if table.item(row, 0) is not None and table.item(row, 0).text() == row_name:
            item = table.item(row, column)
            return item.text() if item else None
    return None


async def test_supervisor_board_follows_queues_and_officers(make_window, qtbot, helpers, server):
    supervised = {"shimin-toroku": "primary"}  # a supervisor sees only the departments they supervise
    server.store.add_officer("sato", "佐藤 監督", "supervisor", hash_password(PASSWORD), supervised)
    officer = make_window()
    await helpers.sign_in(officer, qtbot, "hanako")
    await officer.controller.set_away("meeting")
    window = make_window()
    await helpers.sign_in(window, qtbot, "sato", role="supervisor")
    c = window.controller
    assert window.tabs.currentWidget() is window.board and not window.tabs.isTabVisible(0)
    assert window.header.badge.text() == "監視中"
    await helpers.until(window, lambda: _cell(window.board.officers, "hanako", 1) == "離席中")
    assert _cell(window.board.officers, "hanako", 2) == "会議"
    assert _cell(window.board.departments, "市民登録課", 1) == "0"
    kiosk = await start_kiosk(server)
    try:
        await kiosk.request_call("shimin-toroku")
        await helpers.until(window, lambda: _cell(window.board.departments, "市民登録課", 1) == "1")
        assert c.stats["departments"]["shimin-toroku"]["waiting"] == 1
        await kiosk.cancel()
        await helpers.until(window, lambda: _cell(window.board.departments, "市民登録課", 1) == "0")
        abandoned = 5
        await helpers.until(window, lambda: _cell(window.board.departments, "市民登録課", abandoned) == "1")
        assert "放棄 1件" in window.board.totals.text()
        assert helpers.raw_keys(window) == [] and helpers.raw_keys(officer) == []
    finally:
        await kiosk.stop()


async def test_wrong_password_is_shown_on_the_sign_in_page(make_window, qtbot):
    window = make_window()
    window.sign_in.username.setText("hanako")
    window.sign_in.password.setText("not the password")
    qtbot.mouseClick(window.sign_in.button, Qt.MouseButton.LeftButton)
    await window.runner.settle()
    assert window.controller is None and window.pages.currentWidget() is window.sign_in
    assert window.sign_in.error.text().startswith("サインインできません")
    assert window.sign_in.password.text() == "" and window.sign_in.button.isEnabled()
    qtbot.mouseClick(window.sign_in.button, Qt.MouseButton.LeftButton)  # empty password
    assert window.sign_in.error.text() == "ユーザー名とパスワードを入力してください。"


async def test_decline_and_a_ring_answered_elsewhere(make_window, qtbot, helpers, server):
    first, second = make_window(), make_window("en")
    await helpers.sign_in(first, qtbot, "hanako")
    await helpers.sign_in(second, qtbot, "jiro")
    for window in (first, second):
        await window.controller.set_available()
        await helpers.until(window, lambda w=window: w.controller.officer_state == "available")
    rings = [asyncio.ensure_future(w.controller.events.wait("ring", TIMEOUT)) for w in (first, second)]
    kiosk = await start_kiosk(server)
    try:
        await kiosk.request_call("kosodate")
        done, _ = await asyncio.wait(rings, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        assert done, "nobody rang"
        # one officer rings at a time (longest idle first); the one who rings declines, the other answers
        ringing, other = (first, second) if rings[0] in done else (second, first)
        assert ringing.ringer.playing and not other.ringer.playing
        qtbot.mouseClick(ringing.ring.decline, Qt.MouseButton.LeftButton)
        await helpers.until(ringing, lambda: ringing.desk.currentWidget() is ringing.shift)
        assert not ringing.ringer.playing
        await helpers.until(other, lambda: other.desk.currentWidget() is other.ring)
        assert other.ringer.playing
        qtbot.mouseClick(other.ring.accept, Qt.MouseButton.LeftButton)
        await helpers.until(other, lambda: other.controller.in_call)
        expected = (
            "上田公民館 | Child and Family Support Division"
            if other is second
            else "上田公民館｜子育てあんしん課"
        )
        assert other.call.info.text().startswith(expected)
        assert helpers.raw_keys(first) == [] and helpers.raw_keys(second) == []
    finally:
        for ring in rings:
            ring.cancel()
        await kiosk.stop()


async def test_mute_and_camera_switch_what_the_kiosk_receives(make_window, qtbot, helpers, server):
    window = make_window()
    await helpers.sign_in(window, qtbot, "hanako")
    c = window.controller
    await c.set_available()
    kiosk = await start_kiosk(server)
    try:
        await kiosk.request_call("kosodate")
        await helpers.until(window, lambda: c.offer is not None)
        qtbot.mouseClick(window.ring.accept, Qt.MouseButton.LeftButton)
        await helpers.until(window, lambda: c.in_call)
        media = c.party.media
        qtbot.mouseClick(window.call.mute, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(window.call.camera, Qt.MouseButton.LeftButton)
        assert media.muted and not media.camera_on
        assert window.call.mute.text() == "マイクを入れる" and window.call.stage.local.source is None
        session = kiosk.party.session
        got = asyncio.Event()
        frames: list = []

        def collect(frame) -> None:
            frames.append(frame)
            if len(frames) >= 20:
                got.set()

        # what arrives at the kiosk after the switch is black video (first frames may predate the switch)
        session.remote_video.listeners.append(collect)
        await asyncio.wait_for(got.wait(), TIMEOUT)
        last = frames[-1].to_ndarray(format="gray")
        assert last.mean() < 20
        qtbot.mouseClick(window.call.camera, Qt.MouseButton.LeftButton)
        assert media.camera_on and window.call.stage.local.source is media.self_view
    finally:
        await kiosk.stop()
