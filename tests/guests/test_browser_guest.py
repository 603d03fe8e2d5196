"""A family member joins a kiosk–officer call from the guest page in real headless Chromium (fake camera
and microphone): the officer makes the link with the console's own client, the page redeems it, checks the
devices and joins; video flows between the guest and each other party (>= 30 frames each direction); the
guest leaves and the kiosk and the officer go on with frames still flowing; and the call's end ends the
page of a guest still in it. All media on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from devtools.headless import PASSWORD, connect_call, start_console, start_kiosk
from hardware.simulated import SimulatedMedia
from simulator.three_way import add_interpreter
from staff_console.interpreter import InterpreterController
from staff_console.samples import sample_form_png

from .browser import (
    MS,
    NEEDS_CHROMIUM,
    TIMEOUT,
    ConsoleWatch,
    chromium,
    frames,
    frames_from,
    open_guest_page,
    peer_stat,
    through_device_check,
    until,
)

pytestmark = NEEDS_CHROMIUM
FRAMES = 30


async def test_a_guest_joins_sees_and_is_seen_by_both_then_leaves_and_the_call_goes_on(make_server):
    async with make_server() as server, chromium() as browser:
        kiosk = await start_kiosk(server)
        console = await start_console(server)
        try:
            call_id = await connect_call(server, kiosk, console)
            link = await console.guests.create(name="")
            assert link.expires_in_s == 1800 and "/g/#" in link.link
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            watch = ConsoleWatch(page)
            kiosk_up = asyncio.ensure_future(kiosk.events.wait("peer_connected", TIMEOUT, peer="guest"))
            officer_up = asyncio.ensure_future(console.events.wait("peer_connected", TIMEOUT, peer="guest"))
            await open_guest_page(page, server, link.link)
            await through_device_check(page)
            assert "#" not in page.url  # the secret left the address bar at once
            await kiosk_up
            await officer_up

            # The guest's camera at the kiosk and at the console, theirs at the guest's page.
            from_guest = [kiosk.conference.session("guest"), console.conference.session("guest")]
            for session in from_guest:
                assert session is not None
                assert await frames(session.remote_video, FRAMES) >= FRAMES
                assert await frames(session.remote_audio, FRAMES) >= FRAMES
            for peer in ("caller", "officer"):
                assert await peer_stat(page, peer, "videoFramesIn", FRAMES) >= FRAMES
                assert await peer_stat(page, peer, "paintedFrames", FRAMES) >= FRAMES
                assert await peer_stat(page, peer, "framesOut", FRAMES) >= FRAMES
            # What the officer says and shows reaches the guest too (its own peer connection's channels).
            await console.desk.send_chat("ご家族の方、聞こえますか")
            await until(page, "document.getElementById('chat').textContent.includes('聞こえますか')")
            assert await page.text_content("#chat li") == "職員: ご家族の方、聞こえますか"
            await console.desk.show_document(sample_form_png(), name="申請書.png")
            await until(page, "document.querySelector('#shown img')?.naturalWidth > 0")
            assert await page.get_attribute("#shown img", "alt") == "申請書.png"
            assert await page.locator("figure.tile").count() == 3  # both parties and the guest own

            primary = (kiosk.party.session, console.party.session)
            assert primary[0] is not None and primary[1] is not None
            kiosk_left = asyncio.ensure_future(kiosk.events.wait("peer_left", TIMEOUT, peer="guest"))
            officer_left = asyncio.ensure_future(console.events.wait("peer_left", TIMEOUT, peer="guest"))
            await page.click("#call-leave")
            await page.wait_for_selector("body[data-screen='left']", timeout=MS)
            assert (await kiosk_left)["reason"] == "left" and (await officer_left)["reason"] == "left"

            before = (primary[0].remote_video.count, primary[1].remote_video.count)
            assert await frames(primary[0].remote_video, before[0] + FRAMES) >= before[0] + FRAMES
            assert await frames(primary[1].remote_video, before[1] + FRAMES) >= before[1] + FRAMES
            assert (kiosk.party.session, console.party.session) == primary  # never rebuilt
            assert console.call_id == call_id and server.switchboard.calls[call_id].guest is None
            assert watch.errors == [], "\n".join(watch.log)
        finally:
            await asyncio.gather(kiosk.stop(), console.stop(), return_exceptions=True)


async def test_a_line_typed_on_the_guest_page_reaches_the_kiosk_and_the_console(make_server, tmp_path):
    """The family member writes (the page's chat input): an in-call chat line with sender "guest" on its
    connections' control channels; the kiosk and the console add it to their chat as the family's."""
    async with make_server() as server, chromium() as browser:
        kiosk = await start_kiosk(server)
        console = await start_console(server)
        try:
            await connect_call(server, kiosk, console)
            link = await console.guests.create(name="娘 さくら")
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            watch = ConsoleWatch(page)
            kiosk_up = asyncio.ensure_future(kiosk.events.wait("peer_connected", TIMEOUT, peer="guest"))
            officer_up = asyncio.ensure_future(console.events.wait("peer_connected", TIMEOUT, peer="guest"))
            await open_guest_page(page, server, link.link)
            await through_device_check(page)
            await kiosk_up
            await officer_up
            assert await page.get_attribute("#chat-input", "placeholder") == "ここにメッセージを入力"
            text = "母の保険証は私が預かっています"
            kiosk_heard = asyncio.ensure_future(kiosk.events.wait("chat", TIMEOUT, sender="guest"))
            officer_heard = asyncio.ensure_future(console.events.wait("chat", TIMEOUT, sender="guest"))
            await page.fill("#chat-input", text)
            await page.click("#chat-send")
            await until(
                page,
                "document.querySelector('#chat li.own') || !document.getElementById('chat-status').hidden",
            )
            assert await page.is_hidden("#chat-status"), await page.text_content("#chat-status")
            await kiosk_heard
            assert (await officer_heard)["text"] == text
            assert [(line.sender, line.text) for line in kiosk.resident.chat] == [("guest", text)]
            assert [(line.sender, line.text) for line in console.desk.chat] == [("guest", text)]
            assert await page.text_content("#chat li.own") == f"あなた: {text}"
            assert await page.input_value("#chat-input") == ""
            # The officer answers; both lines stand in the page's chat, the guest's own on the right.
            await console.desk.send_chat("ありがとうございます")
            await until(page, "document.querySelectorAll('#chat li').length === 2")
            assert await page.text_content("#chat li:not(.own)") == "職員: ありがとうございます"
            shots = Path(os.environ.get("MADOGUCHI_SHOTS", tmp_path))  # to look at, not compared
            shots.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(shots / "guest-chat-ja-desktop.png"))
            await page.click(".lang-btn[data-lang='en']")
            assert await page.get_attribute("#chat-input", "placeholder") == "Type a message"
            assert await page.text_content("#chat-send") == "Send"
            assert watch.errors == [], "\n".join(watch.log)
        finally:
            await asyncio.gather(kiosk.stop(), console.stop(), return_exceptions=True)


async def test_the_calls_end_ends_the_guests_page(make_server):
    async with make_server() as server, chromium() as browser:
        kiosk = await start_kiosk(server)
        console = await start_console(server)
        try:
            await connect_call(server, kiosk, console)
            link = await console.guests.create()
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            joined = asyncio.ensure_future(console.events.wait("peer_connected", TIMEOUT, peer="guest"))
            await open_guest_page(page, server, link.link, language="en")
            await through_device_check(page)
            await joined
            await console.end_call("resolved")
            await page.wait_for_selector("body[data-screen='ended']", timeout=MS)
            assert await page.text_content("#ended-title") == "The call has ended"
            # The link is spent and its call over: opening it again says so, in the page's language.
            again = await browser.new_page()
            await open_guest_page(again, server, link.link, language="en")
            await again.wait_for_selector("body[data-screen='link_error']", timeout=MS)
            assert await again.text_content("#link-error-title") == "This link has already been used"
        finally:
            await asyncio.gather(kiosk.stop(), console.stop(), return_exceptions=True)


@pytest.mark.slow
async def test_an_interpreter_who_joins_after_the_guest_offers_to_it_and_both_see_each_other(make_server):
    """The fourth party: kiosk, officer, guest, then an interpreter (headless console) who offers to the
    guest's page, which answers (the page's answerer path); frames both ways on that pair."""
    async with make_server() as server, chromium() as browser:
        add_interpreter(server, "mai", PASSWORD, ["ne"])
        kiosk = await start_kiosk(server)
        console = await start_console(server)
        interpreter = InterpreterController(
            server.url, "mai", PASSWORD, SimulatedMedia("interpreter", 160, 120, 15, 880.0)
        )
        try:
            await interpreter.start(TIMEOUT)
            await interpreter.set_available()
            call_id = await connect_call(server, kiosk, console)
            link = await console.guests.create()
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            watch = ConsoleWatch(page)
            joined = asyncio.ensure_future(console.events.wait("peer_connected", TIMEOUT, peer="guest"))
            await open_guest_page(page, server, link.link)
            await through_device_check(page)
            await joined

            offered = asyncio.ensure_future(interpreter.events.wait("ring", TIMEOUT, call_id=call_id))
            to_guest = asyncio.ensure_future(interpreter.events.wait("peer_connected", TIMEOUT, peer="guest"))
            await console.interpreter.request("ne")
            await offered
            await interpreter.accept()
            await to_guest
            assert await frames_from(interpreter.conference, "guest", FRAMES) >= FRAMES  # the guest's camera
            assert await peer_stat(page, "interpreter", "videoFramesIn", FRAMES) >= FRAMES
            assert await peer_stat(page, "interpreter", "framesOut", FRAMES) >= FRAMES
            assert await page.locator("figure.tile").count() == 4  # three parties and the guest's own

            await interpreter.leave()
            await until(page, "document.querySelectorAll('figure.tile').length === 3")
            assert watch.errors == [], "\n".join(watch.log)
        finally:
            await asyncio.gather(kiosk.stop(), console.stop(), interpreter.stop(), return_exceptions=True)
