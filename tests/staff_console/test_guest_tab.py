"""The console's 「家族」 tab (issue 18): during a call the officer clicks 「ご家族を招待」; the console asks
the server for a guest link (REST, its session), shows it with its expiry and a QR code, and a real guest
redeeming it joins the call (the tab then says so). Screenshot to the test's temporary directory (or
$MADOGUCHI_SHOTS)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
from PySide6.QtCore import Qt

from devtools.headless import TIMEOUT, start_kiosk
from remote_call import protocol as p
from signaling_server.testing import WireClient


async def test_the_officer_invites_a_family_member_from_the_call(
    make_window, qtbot, helpers, server, tmp_path
):
    window = make_window()
    await helpers.sign_in(window, qtbot, "hanako")
    c = window.controller
    qtbot.mouseClick(window.header.available, Qt.MouseButton.LeftButton)
    await helpers.until(window, lambda: c.officer_state == "available")
    kiosk = await start_kiosk(server)
    guest: WireClient | None = None
    try:
        await kiosk.request_call("kosodate")
        await helpers.until(window, lambda: window.desk.currentWidget() is window.ring)
        qtbot.mouseClick(window.ring.accept, Qt.MouseButton.LeftButton)
        await helpers.until(window, lambda: c.in_call)
        tab = window.call.guests
        window.call.tabs.setCurrentWidget(tab)
        assert window.call.tabs.tabText(window.call.tabs.indexOf(tab)) == "家族"

        qtbot.mouseClick(tab.invite, Qt.MouseButton.LeftButton)
        await window.runner.settle()
        link = tab.created
        assert link is not None and tab.link.text() == link.link and "/g/#" in link.link
        assert tab.status.text().startswith(f"リンクを作りました（{link.until} まで有効）")
        assert not tab.qr.pixmap().isNull() and tab.qr.pixmap().width() > 100
        assert helpers.raw_keys(window.call) == []
        audit = server.switchboard.audit.entries(action="guest_link_created")
        assert [(e.actor, e.target) for e in audit] == [("hanako", c.call_id)]

        # The family member opens it: redeem, sign in as a guest; the console is told to connect to it.
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{server.http_url}/api/guests/redeem", json={"secret": link.link.split("#")[1]}) as r,
        ):
            assert r.status == 200
            token = (await r.json())["session_token"]
        connecting = asyncio.ensure_future(c.events.wait("peer_connecting", TIMEOUT, peer="guest"))
        guest = await WireClient.connect(
            server.url,
            p.Hello(v=p.PROTOCOL_VERSION, role=p.Role.GUEST, credentials=p.SessionCredentials(token=token)),
        )
        await connecting
        await helpers.until(window, lambda: tab.presence.text() == "ご家族が通話に参加しています。")
        folder = Path(os.environ.get("MADOGUCHI_SHOTS", tmp_path))
        folder.mkdir(parents=True, exist_ok=True)
        assert window.grab().save(str(folder / "console-guest-tab.png"))
    finally:
        if guest is not None:
            await guest.close()
        await kiosk.stop()
