"""An external interpreter works from the invitation page in real headless Chromium (fake camera and
microphone) against a headless aiortc kiosk and officer console: a supervisor invites the service, the page
redeems the link, checks the devices and signs in; the pool offers it the officer's request, the page
accepts, and video flows between the browser and each party (>= 30 frames each direction); the officer's
chat and shown document reach the page; the interpreter leaves, its stay is recorded, and the kiosk and
the officer go on with frames still flowing. A request that rings out says so on the page; a reused,
expired or revoked link is refused with a clear message; revoking signs the page out. All on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiortc.exceptions import InvalidStateError

from devtools.headless import connect_call, start_console, start_kiosk
from signaling_server.interpreter_invites import InterpreterInvitationBook, InterpreterInvitationRequest
from staff_console.samples import sample_form_png
from tests.guests.browser import (
    MS,
    NEEDS_CHROMIUM,
    TIMEOUT,
    ConsoleWatch,
    chromium,
    frames,
    frames_from,
    peer_stat,
    until,
)

from .inviting import SERVICE, invite, redeem, revoke, secret_of, supervisor_token

pytestmark = NEEDS_CHROMIUM
FRAMES = 30
FULL_HD = {"width": 1920, "height": 1080}


def shot_dir(tmp_path: Path) -> Path:
    """Where the screenshots go: MADOGUCHI_SHOT_DIR to keep them, else the test's own directory."""
    folder = Path(os.environ.get("MADOGUCHI_SHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def open_page(page: Any, server: Any, link: str, language: str = "ja") -> None:
    await page.goto(f"{server.http_url}/i/?lang={language}#{link.split('#', 1)[1]}")


async def through_devices_to_desk(page: Any) -> None:
    await page.wait_for_selector("body[data-screen='devices']", timeout=MS)
    await page.click("#dev-start")
    await page.wait_for_selector("body[data-devices='ok']", timeout=MS)
    await page.click("#dev-join")
    await page.wait_for_selector("body[data-screen='desk']", timeout=MS)
    await page.wait_for_selector("#desk-state[data-state='available']", timeout=MS)


@pytest.mark.timeout(600)  # several minutes when seven sessions share the two cores
async def test_the_browser_interpreter_is_offered_accepts_interprets_and_leaves(make_server, tmp_path):
    async with make_server() as server, chromium() as browser:
        answer = await invite(server, supervisor_token(server))
        kiosk = await start_kiosk(server)
        console = await start_console(server)
        try:
            page = await browser.new_page(viewport=FULL_HD)
            watch = ConsoleWatch(page)
            await open_page(page, server, answer["link"])
            await through_devices_to_desk(page)
            assert "#" not in page.url  # the secret left the address bar at once
            assert SERVICE in (await page.text_content("#desk-service") or "")
            assert await page.text_content("#desk-languages") == "対応言語: 日本手話、ネパール語"

            call_id = await connect_call(server, kiosk, console)
            await console.interpreter.request("jsl")
            await page.wait_for_selector("#offer:not([hidden])", timeout=MS)
            assert "日本手話の通訳の依頼" in (await page.text_content("#offer-body") or "")
            await page.screenshot(path=str(shot_dir(tmp_path) / "interpreter-offer-ja.png"))

            kiosk_up = asyncio.ensure_future(kiosk.events.wait("peer_connected", TIMEOUT, peer="interpreter"))
            officer_up = asyncio.ensure_future(
                console.events.wait("peer_connected", TIMEOUT, peer="interpreter")
            )
            await page.click("#offer-accept")
            await page.wait_for_selector("body[data-screen='call']", timeout=MS)
            assert await page.text_content("#call-language") == "通訳言語: 日本手話"
            await kiosk_up
            await officer_up
            await frames_both_ways(page, kiosk, console)

            said = "document.getElementById('chat').textContent.includes('通訳をお願いします')"
            await delivered(console, page, lambda: console.desk.send_chat("通訳をお願いします"), said)
            assert await page.text_content("#chat li") == "職員: 通訳をお願いします"
            shown = "document.querySelector('#shown img')?.naturalWidth > 0"
            await delivered(
                console, page, lambda: console.desk.show_document(sample_form_png(), name="申請書.png"), shown
            )
            assert await page.locator("figure.tile").count() == 3  # the resident, the officer, the own
            # The resident's scan reaches the page too (the interpreter reads it out); a family member's
            # page would not show it.
            placing = asyncio.ensure_future(kiosk.events.wait("scan", TIMEOUT, stage="placing"))
            await console.desk.request_scan("住民票をおいてください")
            await placing
            await pair_open(kiosk.conference, "interpreter")
            kiosk.scan_now()
            await until(page, "document.querySelectorAll('#shown img').length === 2")
            # A sign-language interpreter types a name: the kiosk and the console see the interpreter's line.
            to_kiosk = asyncio.ensure_future(kiosk.events.wait("chat", TIMEOUT, sender="interpreter"))
            to_officer = asyncio.ensure_future(console.events.wait("chat", TIMEOUT, sender="interpreter"))
            await pair_open(console.conference, "interpreter")
            await pair_open(kiosk.conference, "interpreter")
            await page.fill("#chat-text", "Bishnu Prasad Sharma")
            await page.click("#chat-send")
            assert (await to_officer)["text"] == "Bishnu Prasad Sharma"
            await to_kiosk
            assert (kiosk.resident.chat[-1].sender, kiosk.resident.chat[-1].text) == (
                "interpreter",
                "Bishnu Prasad Sharma",
            )
            assert await page.input_value("#chat-text") == ""
            assert await page.get_attribute("#tiles", "data-layout") == "sign"  # jsl: the resident large
            await page.screenshot(path=str(shot_dir(tmp_path) / "interpreter-call-ja.png"))

            primary = (kiosk.party.session, console.party.session)
            assert primary[0] is not None and primary[1] is not None
            kiosk_left = asyncio.ensure_future(kiosk.events.wait("peer_left", TIMEOUT, peer="interpreter"))
            officer_left = asyncio.ensure_future(
                console.events.wait("peer_left", TIMEOUT, peer="interpreter")
            )
            await page.click("#call-leave")
            await page.wait_for_selector("body[data-screen='desk']", timeout=MS)
            assert (await kiosk_left)["reason"] == "left" and (await officer_left)["reason"] == "left"
            assert "記録" in (await page.text_content("#desk-notice") or "")
            await page.wait_for_selector(
                "#desk-state[data-state='wrap_up'], #desk-state[data-state='available']"
            )

            before = (primary[0].remote_video.count, primary[1].remote_video.count)
            assert await frames(primary[0].remote_video, before[0] + FRAMES) >= before[0] + FRAMES
            assert await frames(primary[1].remote_video, before[1] + FRAMES) >= before[1] + FRAMES
            assert (kiosk.party.session, console.party.session) == primary  # never rebuilt
            stay = [r for r in server.store.call_parties(call_id) if r["party"] == "interpreter"]
            assert len(stay) == 1 and stay[0]["username"] == f"ext-{answer['invitation_id']}"
            assert stay[0]["language"] == "jsl" and stay[0]["left_at"] > stay[0]["joined_at"]
            assert server.switchboard.conference.pool.stats()["languages"]["jsl"]["minutes"] > 0
            assert watch.errors == [], "\n".join(watch.log)
        finally:
            await asyncio.gather(kiosk.stop(), console.stop(), return_exceptions=True)


async def frames_both_ways(page: Any, kiosk: Any, console: Any) -> None:
    """>= FRAMES video frames from the browser at the kiosk and the console, and from each at the page."""
    for party in (kiosk, console):
        assert await frames_from(party.conference, "interpreter", FRAMES) >= FRAMES
        assert await audio_from(party.conference, "interpreter", FRAMES) >= FRAMES
    for peer in ("caller", "officer"):
        assert await peer_stat(page, peer, "videoFramesIn", FRAMES) >= FRAMES
        assert await peer_stat(page, peer, "paintedFrames", FRAMES) >= FRAMES
        assert await peer_stat(page, peer, "framesOut", FRAMES) >= FRAMES


async def audio_from(conference: Any, peer: str, at_least: int) -> int:
    """Audio frames from ``peer`` on the current connection to it, across media restarts (a loaded machine
    may rebuild a starved pair: the new connection counts from 0 again)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 2 * TIMEOUT
    while (left := end - loop.time()) > 0:
        session = conference.session(peer)
        if session is None:
            with contextlib.suppress(TimeoutError):
                await conference.events.wait("peer_connecting", left, peer=peer)
            continue
        with contextlib.suppress(TimeoutError):
            return await frames(session.remote_audio, at_least, timeout=min(left, 10.0))
    session = conference.session(peer)
    return session.remote_audio.count if session is not None else 0


async def delivered(console: Any, page: Any, share: Any, condition: str, attempts: int = 3) -> None:
    """The officer shares something (a chat line, a shown document) until the page has it. What is shared
    while a pair is being rebuilt is not sent again (docs/protocol.md "In-call messages over extra pairs"),
    and on this shared 2-core machine a starved pair is rebuilt now and then: each attempt waits for both of
    the officer's pairs to be open, and the page must show it within 20 s."""
    for _ in range(attempts):
        await channel_open(console)
        await pair_open(console.conference, "interpreter")
        with contextlib.suppress(RuntimeError, ConnectionError, InvalidStateError):
            await share()
            with contextlib.suppress(AssertionError):
                await until(page, condition, timeout_ms=20_000)
                return
    raise AssertionError(f"not on the page after {attempts} attempts: {condition}")


async def pair_open(conference: Any, peer: str) -> None:
    """The control channel of a headless party's pair with ``peer`` open, waiting across its rebuilds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 2 * TIMEOUT
    while (left := end - loop.time()) > 0:
        session = conference.session(peer)
        if session is None:
            with contextlib.suppress(TimeoutError):
                await conference.events.wait("peer_connecting", min(left, 5.0), peer=peer)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.channel_open.wait(), min(left, 10.0))
            return
    raise AssertionError(f"the pair with {peer} never opened its control channel")


async def channel_open(console: Any) -> None:
    """The console's control channel with the kiosk open, waiting across a rebuilt primary pair."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 2 * TIMEOUT
    while (left := end - loop.time()) > 0:
        session = console.party.session
        if session is None:
            with contextlib.suppress(TimeoutError):
                await console.events.wait("call_connecting", min(left, 5.0))
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.channel_open.wait(), min(left, 10.0))
            return
    raise AssertionError("the console's control channel never opened")


async def test_reused_expired_and_revoked_links_are_refused_in_the_page(make_server):
    async with make_server() as server, chromium() as browser:
        token = supervisor_token(server)
        used = await invite(server, token)
        assert (await redeem(server, secret_of(used)))[0] == 200
        zone = ZoneInfo(server.config.city.timezone)
        old = InterpreterInvitationBook(server.store, clock=lambda: time.time() - 9 * 3600)
        _, expired = old.create(
            InterpreterInvitationRequest(service=SERVICE, languages=["en"]),
            created_by="sachiko",
            timezone=zone,
        )
        revoked = await invite(server, token)
        assert (await revoke(server, token, revoked["invitation_id"]))[0] == 200
        cases = [
            (used["link"], "ja", "このリンクはすでに使用されています", "一度だけ"),
            (f"/i/#{expired}", "en", "This invitation has expired", "Ask the city for a new one"),
            (revoked["link"], "ja", "この招待は取り消されました", "取り消されました"),
        ]
        for link, language, title, body in cases:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await open_page(page, server, link, language)
            await page.wait_for_selector("body[data-screen='link_error']", timeout=MS)
            assert await page.text_content("#link-error-title") == title
            assert body in (await page.text_content("#link-error-body") or "")
            await page.close()


async def test_revoking_signs_the_page_out(make_server, tmp_path):
    async with make_server() as server, chromium() as browser:
        token = supervisor_token(server)
        answer = await invite(server, token)
        page = await browser.new_page(viewport=FULL_HD)
        await open_page(page, server, answer["link"], "en")
        await through_devices_to_desk(page)
        assert await page.text_content("#desk-state") == "Available — waiting for a request"
        await page.screenshot(path=str(shot_dir(tmp_path) / "interpreter-desk-en.png"))
        assert (await revoke(server, token, answer["invitation_id"]))[0] == 200
        await page.wait_for_selector("body[data-screen='signed_out']", timeout=MS)
        assert await page.text_content("#signed-out-title") == "Signed out"


@pytest.mark.slow
async def test_a_request_that_rings_out_says_so_and_the_interpreter_goes_on_a_break(make_server, tmp_path):
    """The pool gives an offer 20 s (its ring time-out); unanswered, the page says the request went to the
    next interpreter, shows the break the pool put it on, and "Start taking requests" makes it available;
    a request declined says so too, and the officer hears no_answer at once."""
    async with make_server() as server, chromium() as browser:
        answer = await invite(server, supervisor_token(server))
        kiosk = await start_kiosk(server)
        console = await start_console(server)
        try:
            page = await browser.new_page(viewport=FULL_HD)
            await open_page(page, server, answer["link"], "en")
            await through_devices_to_desk(page)
            await connect_call(server, kiosk, console)
            await console.interpreter.request("ne")
            await page.wait_for_selector("#offer:not([hidden])", timeout=MS)
            await page.screenshot(path=str(shot_dir(tmp_path) / "interpreter-offer-en.png"))
            await page.wait_for_selector("#offer[hidden]", state="attached", timeout=MS)
            await page.wait_for_selector("#desk-state[data-state='away']", timeout=MS)
            assert await page.text_content("#desk-notice") == (
                "No answer in time: the request went to the next interpreter."
            )
            assert "not answered in time" in (await page.text_content("#desk-state") or "")
            await page.screenshot(path=str(shot_dir(tmp_path) / "interpreter-no-answer-en.png"))
            await page.click("#desk-available")
            await page.wait_for_selector("#desk-state[data-state='available']", timeout=MS)
            # Asked again, the interpreter declines: the page says so and the offer goes.
            await console.interpreter.request("ne")
            await page.wait_for_selector("#offer:not([hidden])", timeout=MS)
            no_answer = asyncio.ensure_future(
                console.events.wait("interpreter_status", TIMEOUT, state="no_answer")
            )
            await page.click("#offer-decline")
            await page.wait_for_selector("#offer[hidden]", state="attached", timeout=MS)
            assert await page.text_content("#desk-notice") == "You declined the request."
            await no_answer  # the only interpreter of the language declined: the officer hears it at once
        finally:
            await asyncio.gather(kiosk.stop(), console.stop(), return_exceptions=True)


@pytest.mark.slow
async def test_a_reloaded_page_rejoins_the_call_it_interprets(make_server):
    """A reload in a call: the kept session signs in within the grace and the page asks for both of its
    pairs again; the kiosk and the console get the interpreter's video back on new connections."""
    async with make_server() as server, chromium() as browser:
        answer = await invite(server, supervisor_token(server))
        kiosk = await start_kiosk(server)
        console = await start_console(server)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await open_page(page, server, answer["link"])
            await through_devices_to_desk(page)
            call_id = await connect_call(server, kiosk, console)
            await console.interpreter.request("ne")
            await page.wait_for_selector("#offer:not([hidden])", timeout=MS)
            joined = asyncio.ensure_future(kiosk.events.wait("peer_connected", TIMEOUT, peer="interpreter"))
            await page.click("#offer-accept")
            await joined
            first = kiosk.conference.session("interpreter")

            back = asyncio.ensure_future(kiosk.events.wait("peer_connected", 2 * TIMEOUT, peer="interpreter"))
            await page.reload()
            await page.wait_for_selector("body[data-screen='devices']", timeout=MS)
            await page.click("#dev-start")
            await page.wait_for_selector("body[data-devices='ok']", timeout=MS)
            await page.click("#dev-join")
            await page.wait_for_selector("body[data-screen='call']", timeout=MS)
            await back
            assert kiosk.conference.session("interpreter") is not first
            assert await frames_from(kiosk.conference, "interpreter", FRAMES) >= FRAMES
            assert await peer_stat(page, "officer", "videoFramesIn", FRAMES) >= FRAMES
            assert server.switchboard.conference.is_in(call_id, f"ext-{answer['invitation_id']}")
        finally:
            await asyncio.gather(kiosk.stop(), console.stop(), return_exceptions=True)
