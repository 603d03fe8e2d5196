"""The browser's link-ping duty (web/business/linkpings.js, shared by the business, guest and interpreter
pages) in real Chromium, on a quick clock: a peer that never answers a ping but whose media packets keep
arriving is not dead; once its media stops too, one restart request per dead period."""

from __future__ import annotations

import pytest

from .test_browser_flow import MS, NEEDS_CHROMIUM, chromium

pytestmark = NEEDS_CHROMIUM
pytest.importorskip("playwright.async_api")

SCRIPT = """async (timeoutMs) => {
  const { LinkPings } = await import("/b/linkpings.js");
  const peer = { packets: 0, talking: true, pings: 0, dead: 0 };
  const inbound = () => ({ type: "inbound-rtp", packetsReceived: peer.packets });
  const pc = { getStats: async () => new Map([["in", inbound()]]) };
  const send = () => {
    peer.pings += 1;
    if (peer.talking) peer.packets += 1;  // its media arrives; its pong never does
  };
  const link = new LinkPings({ pc, send, onDead: () => (peer.dead += 1), pingMs: 10, deadMs: 40 });
  const until = async (done) => {
    const end = performance.now() + timeoutMs;
    while (!done() && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
  };
  link.start();
  await until(() => peer.pings >= 100);
  const deadWhileTalking = peer.dead;
  peer.talking = false;
  await until(() => peer.dead > 0);
  link.stop();
  return { pings: peer.pings, deadWhileTalking, dead: peer.dead, rttMs: link.rttMs };
}"""


async def test_media_still_arriving_keeps_a_link_alive_without_pongs_and_silence_ends_it(make_server):
    async with make_server() as server, chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{server.http_url}/b/")
        result = await page.evaluate(SCRIPT, MS)
        assert result["pings"] >= 100  # 25 dead periods of 40 ms without a pong
        assert result["deadWhileTalking"] == 0
        assert result["dead"] >= 1 and result["rttMs"] is None
