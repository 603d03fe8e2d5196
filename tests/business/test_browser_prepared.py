"""The page builds its peer connection and offer while the business waits (call.js CallConnection.prepare),
uses that one when the officer accepts, and closes it when the business leaves the waiting room instead.
Real headless Chromium against an embedded server and a headless console; an init script only watches
RTCPeerConnection and the websocket (it changes nothing)."""

from __future__ import annotations

import asyncio
import re

import pytest

from devtools.headless import start_console

from .test_browser_flow import (
    MS,
    NEEDS_CHROMIUM,
    TIMEOUT,
    ConsoleWatch,
    chromium,
    invite,
    loopback_media,
    open_link,
    through_device_check,
    until,
)

pytestmark = NEEDS_CHROMIUM

# Every RTCPeerConnection the page builds (with the offers it created) and every SDP it sends.
WATCH_JS = """(() => {
  const Pc = RTCPeerConnection;
  globalThis.__pcs = [];
  globalThis.__sdpSent = [];
  globalThis.RTCPeerConnection = class extends Pc {
    constructor(...args) { super(...args); this.offers = []; globalThis.__pcs.push(this); }
    async createOffer(...args) {
      const offer = await super.createOffer(...args);
      this.offers.push(offer.sdp);
      return offer;
    }
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try { const m = JSON.parse(data); if (m.type === "sdp") globalThis.__sdpSent.push(m.sdp); } catch {}
    return send.call(this, data);
  };
})();"""
PREPARED = "globalThis.__pcs.length === 1 && globalThis.__pcs[0].offers.length === 1"
ALL_CLOSED = "globalThis.__pcs.every((pc) => pc.signalingState === 'closed')"


def ufrag(sdp: str) -> str:
    found = re.search(r"^a=ice-ufrag:(\S+)", sdp, re.MULTILINE)
    assert found, "an offer without ICE credentials"
    return found.group(1)


@pytest.mark.slow
async def test_the_offer_made_in_the_waiting_room_is_the_one_sent_on_accept(make_server):
    with loopback_media():
        async with make_server() as server, chromium() as browser:
            console = await start_console(server)
            try:
                page = await browser.new_page()
                watch = ConsoleWatch(page)
                await page.add_init_script(WATCH_JS)
                await open_link(page, server, invite(server))
                await through_device_check(page)
                await until(page, PREPARED)  # before anyone accepted: built and its offer made
                assert await page.evaluate("globalThis.__sdpSent.length") == 0
                prepared = await page.evaluate("globalThis.__pcs[0].offers[0]")

                ring = asyncio.ensure_future(console.events.wait("ring", TIMEOUT))
                if console.offer is None and console.officer_state not in ("available", "ringing"):
                    await console.set_available()
                await ring
                await console.accept()
                await page.wait_for_selector("body[data-screen='call']", timeout=MS)
                assert await page.evaluate("globalThis.__pcs.length") == 1  # no second connection built
                (sent,) = await page.evaluate("globalThis.__sdpSent")
                assert ufrag(sent) == ufrag(prepared)  # the offer sent is the prepared one

                await page.click("#btn-end")
                await page.wait_for_selector("body[data-screen='thanks'][data-ended='completed']", timeout=MS)
                await until(page, ALL_CLOSED)
                assert watch.errors == [], "\n".join(watch.log)
            finally:
                await console.stop()


async def test_leaving_the_waiting_room_closes_the_prepared_connection(make_server):
    """Nobody answers (no officer signed in): the business leaves, and the connection made for it goes."""
    async with make_server() as server, chromium() as browser:
        page = await browser.new_page()
        watch = ConsoleWatch(page)
        await page.add_init_script(WATCH_JS)
        await open_link(page, server, invite(server))
        await through_device_check(page)
        await until(page, PREPARED)
        assert await page.evaluate("globalThis.__pcs[0].signalingState") == "stable"
        await page.click("#wait-cancel")
        await page.wait_for_selector("body[data-screen='thanks'][data-ended='cancelled']", timeout=MS)
        await until(page, ALL_CLOSED)
        assert await page.evaluate("globalThis.__sdpSent.length") == 0
        assert watch.errors == [], "\n".join(watch.log)
