"""A guest page refused at the door because another family member got in first (the call has room for one):
its full screen keeps the redeemed session, and 「もう一度試す」 joins once the other has left. The link is
not spent twice: the page rejoins with the session kept in sessionStorage (never the secret). Real
Chromium with fake devices, headless aiortc kiosk and console, all on 127.0.0.1."""

from __future__ import annotations

import asyncio

from devtools.headless import connect_call, start_console, start_kiosk
from remote_call import protocol as p

from .browser import (
    MS,
    NEEDS_CHROMIUM,
    TIMEOUT,
    ConsoleWatch,
    chromium,
    open_guest_page,
    through_device_check,
)
from .guesting import guest, redeem, secret_of

pytestmark = NEEDS_CHROMIUM


async def test_a_page_refused_at_the_door_keeps_its_session_and_joins_when_there_is_room(make_server):
    async with make_server() as server, chromium() as browser:
        kiosk = await start_kiosk(server)
        console = await start_console(server)
        other = None
        try:
            call_id = await connect_call(server, kiosk, console)
            for_page = await console.guests.create(name="娘 さくら")
            for_other = await console.guests.create(name="息子 たろう")
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            watch = ConsoleWatch(page)
            await open_guest_page(page, server, for_page.link)  # redeemed while the call has room
            await page.wait_for_selector("body[data-screen='devices']", timeout=MS)
            status, answer = await redeem(server, secret_of({"link": for_other.link}))
            assert status == 200
            other = await guest(server, answer["session_token"])  # ...but the son gets in first
            await other.expect(p.CallConnecting, peer="caller")
            await page.click("#dev-start")
            await page.wait_for_selector("body[data-devices='ok']", timeout=MS)
            await page.click("#dev-join")
            await page.wait_for_selector("body[data-screen='full']", timeout=MS)
            assert await page.text_content("#full-retry") == "もう一度試す"

            await other.send(p.LeaveCall(call_id=call_id))
            await other.expect(p.CallEnded)
            joined = asyncio.ensure_future(console.events.wait("peer_connected", TIMEOUT, peer="guest"))
            await page.click("#full-retry")  # the page reloads and joins with the session it kept
            await through_device_check(page)
            await joined
            assert server.switchboard.calls[call_id].guest == f"guest-{for_page.link_id}"
            assert watch.errors == [], "\n".join(watch.log)
        finally:
            if other is not None:
                await other.close()
            await asyncio.gather(kiosk.stop(), console.stop(), return_exceptions=True)
