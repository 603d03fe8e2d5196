"""A business that reloads its page (or loses the network) in the middle of a call comes back into the
same call: the session token in sessionStorage signs it in again, the server resumes the call and the media
is rebuilt (restart_media → call_connecting restart). Then the business ends the call itself."""

from __future__ import annotations

import asyncio

import pytest

from devtools.headless import start_console
from signaling_server.app import SOCKETS

from .test_browser_flow import (
    MS,
    NEEDS_CHROMIUM,
    TIMEOUT,
    ConsoleWatch,
    chromium,
    frames,
    invite,
    loopback_media,
    open_link,
    page_stat,
    through_device_check,
    until,
)

pytestmark = NEEDS_CHROMIUM


@pytest.mark.slow
async def test_a_reload_mid_call_resumes_the_call_and_the_business_can_end_it(make_server):
    with loopback_media():
        async with make_server() as server, chromium() as browser:
            console = await start_console(server)
            try:
                page = await browser.new_page()
                watch = ConsoleWatch(page)
                await open_link(page, server, invite(server))
                await through_device_check(page)
                ring = asyncio.ensure_future(console.events.wait("ring", TIMEOUT))
                if console.offer is None and console.officer_state not in ("available", "ringing"):
                    await console.set_available()
                call_id = (await ring)["call_id"]
                await console.accept()
                await page.wait_for_selector("body[data-screen='call']", timeout=MS)
                first = console.party.session
                assert first is not None and await frames(first.remote_video, 10) >= 10

                rebuilt = asyncio.ensure_future(console.events.wait("call_connecting", TIMEOUT, restart=True))
                await page.reload()
                await rebuilt  # the server had both parties rebuild the media of the same call
                await page.wait_for_selector("body[data-screen='call']", timeout=MS)
                second = console.party.session
                assert second is not None and second is not first and second.call_id == call_id
                assert await frames(second.remote_video, 30) >= 30
                assert await page_stat(page, "videoFramesIn", 30) >= 30
                assert console.call_id == call_id

                ended = asyncio.ensure_future(console.events.wait("call_ended", TIMEOUT, call_id=call_id))
                await page.click("#btn-end")
                assert (await ended)["reason"] == "completed"
                await page.wait_for_selector("body[data-screen='thanks'][data-ended='completed']", timeout=MS)
                assert await page.is_visible("#rating")
                # The server signs the finished session out (after the rating grace): the page keeps thanking
                # and only stops offering the rating; it does not reconnect into a refusal.
                (identity,) = server.switchboard.businesses
                server.switchboard.end_business(identity, "this business session has ended")
                await page.wait_for_selector("#rating", state="hidden", timeout=MS)
                assert await page.get_attribute("body", "data-screen") == "thanks"
                assert watch.errors == [], "\n".join(watch.log)
            finally:
                await console.stop()


@pytest.mark.slow
async def test_a_lost_signaling_connection_comes_back_without_touching_the_media(make_server):
    """The server drops every websocket (a proxy restart): the page reconnects with its token, asks
    sync_call, and the call goes on over the same peer connection."""
    with loopback_media():
        async with make_server() as server, chromium() as browser:
            console = await start_console(server)
            try:
                page = await browser.new_page()
                watch = ConsoleWatch(page)
                await open_link(page, server, invite(server))
                await through_device_check(page)
                ring = asyncio.ensure_future(console.events.wait("ring", TIMEOUT))
                if console.offer is None and console.officer_state not in ("available", "ringing"):
                    await console.set_available()
                call_id = (await ring)["call_id"]
                await console.accept()
                await page.wait_for_selector("body[data-screen='call']", timeout=MS)
                session = console.party.session
                assert session is not None
                before = await page_stat(page, "videoFramesIn", 10)

                for ws in list(server.app[SOCKETS]):
                    await ws.close()
                await until(page, "globalThis.madoguchi.welcomes() >= 2")
                assert await page_stat(page, "videoFramesIn", before + 30) >= before + 30
                assert console.party.session is session  # the media was never rebuilt
                assert await frames(session.remote_video, session.remote_video.count + 30) > 0
                assert await page.is_hidden("#banner")

                await console.end_call("resolved")
                await page.wait_for_selector("body[data-screen='thanks'][data-ended='completed']", timeout=MS)
                assert server.store.call(call_id).outcome == "resolved"  # type: ignore[union-attr]
                assert watch.errors == [], "\n".join(watch.log)
            finally:
                await console.stop()
