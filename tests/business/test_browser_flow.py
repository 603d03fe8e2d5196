"""The business's browser client in real headless Chromium (Debian's) against an embedded server and a
headless officer console (aiortc): redeem the link, check devices, wait, get answered, then video and audio
both ways, chat both ways, a 20 MiB PDF verified by SHA-256 at the console, screen-share frames at the
console, an ending with an outcome, and not one error in the browser's console.

Media stays on 127.0.0.1: aiortc gathers the loopback address only (``restrict_to_loopback``) and Chromium
may pair with it (``--allow-loopback-in-peer-connection``, real addresses instead of mDNS names)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from devtools.headless import start_console
from remote_call.session import LatestFrame, loopback_only, restrict_to_loopback
from signaling_server.business.invitations import Invitation, InvitationBook, InvitationRequest
from simulator.business import make_pdf

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",  # camera, microphone and screen prompts answered "allow"
    "--use-fake-device-for-media-stream",  # a synthetic camera picture and a beeping microphone
    "--auto-select-desktop-capture-source=Entire screen",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
TIMEOUT = 60.0  # generous: two cores shared with other test runs; nothing waits longer than needed
MS = int(TIMEOUT * 1000)
DEPARTMENT = "kenchiku-shido"
COMPANY = "盛岡設計事務所"
PURPOSE = "確認申請の事前相談"
NEEDS_CHROMIUM = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
pytestmark = NEEDS_CHROMIUM


# ---------------------------------------------------------------------- helpers shared by the browser tests


def invite(server: Any, **fields: Any) -> str:
    """A new invitation for DEPARTMENT; returns its secret (what the link carries after ``#``)."""
    return create_invitation(server, **fields)[1]


def create_invitation(
    server: Any, *, clock: Callable[[], float] = time.time, **fields: Any
) -> tuple[Invitation, str]:
    """A new invitation for DEPARTMENT (``fields`` override the request) and its secret."""
    request = InvitationRequest.model_validate(
        {
            "department": DEPARTMENT,
            "company": COMPANY,
            "contact_name": "山田 太郎",
            "email": "yamada@example.jp",
            "purpose": PURPOSE,
        }
        | fields
    )
    book = InvitationBook(server.store, clock=clock)
    return book.create(
        request,
        created_by="hanako",
        timezone=ZoneInfo(server.config.city.timezone),
        link_ttl_s=3600,
        max_window_s=72 * 3600,
        second_factor_default=False,
    )


def city_time(offset_s: float) -> dt.datetime:
    return dt.datetime.now(ZoneInfo("Asia/Tokyo")) + dt.timedelta(seconds=offset_s)


class ConsoleWatch:
    """Every error the page reports: console messages of type error, and uncaught exceptions."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.log: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _console(self, message: Any) -> None:
        self.log.append(f"{message.type}: {message.text}")
        if message.type == "error":
            self.errors.append(message.text)


@contextlib.asynccontextmanager
async def chromium(args: list[str] = ARGS) -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.contextmanager
def loopback_media() -> Any:
    was = loopback_only()  # on for the whole suite (tests/conftest.py): put back what was, not "off"
    restrict_to_loopback(True)
    try:
        yield
    finally:
        restrict_to_loopback(was)


async def frames(sink: LatestFrame, at_least: int, timeout: float = TIMEOUT) -> int:
    """Wait until ``sink`` has counted ``at_least`` frames (woken by each frame, no polling)."""
    reached = asyncio.Event()

    def check(_frame: Any) -> None:
        if sink.count >= at_least:
            reached.set()

    sink.listeners.append(check)
    check(None)
    try:
        await asyncio.wait_for(reached.wait(), timeout)
    finally:
        sink.listeners.remove(check)
    return sink.count


async def until(page: Any, condition: str, timeout_ms: int = MS) -> None:
    """Wait until the JavaScript expression ``condition`` holds in the page, which checks it every 100 ms
    itself. (Playwright's wait_for_function evaluates its predicate with eval() while polling, which the
    page's CSP, default-src 'self', rightly refuses.)"""
    held = await page.evaluate(
        f"""async (timeoutMs) => {{
            const end = performance.now() + timeoutMs;
            while (!({condition})) {{
                if (performance.now() > end) return false;
                await new Promise((resolve) => setTimeout(resolve, 100));
            }}
            return true;
        }}""",
        timeout_ms,
    )
    assert held, f"not within {timeout_ms} ms: {condition}"


async def page_stat(page: Any, name: str, at_least: int) -> int:
    """Wait until the page's own counter ``name`` (getStats / requestVideoFrameCallback) reaches a value;
    the page checks it every 200 ms itself (an async predicate) and returns the last value on time-out."""
    return int(
        await page.evaluate(
            """async ([name, atLeast, timeoutMs]) => {
                const end = performance.now() + timeoutMs;
                for (;;) {
                    const value = (await globalThis.madoguchi.stats())[name] ?? 0;
                    if (value >= atLeast || performance.now() > end) return value;
                    await new Promise((resolve) => setTimeout(resolve, 200));
                }
            }""",
            [name, at_least, MS],
        )
    )


async def open_link(page: Any, server: Any, secret: str) -> None:
    await page.goto(f"{server.http_url}/b/#{secret}")


async def through_device_check(page: Any) -> None:
    await page.wait_for_selector("body[data-screen='devices']", timeout=MS)
    await page.click("#dev-start")
    await page.wait_for_selector("body[data-devices='ok']", timeout=MS)
    await page.click("#dev-join")
    await page.wait_for_selector("body[data-screen='waiting']", timeout=MS)


big_pdf = make_pdf  # a real one-page PDF of exactly the size asked (simulator/business.py)


@pytest.mark.slow
async def test_business_call_in_chromium_end_to_end(make_server, tmp_path):
    pdf = big_pdf(20 * 1024 * 1024)
    (tmp_path / "drawings.pdf").write_bytes(pdf)
    with loopback_media():
        async with make_server() as server, chromium() as browser:
            console = await start_console(server)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 800})
                watch = ConsoleWatch(page)
                restarts: list[dict] = []
                console.events.subscribe(
                    lambda event, data: restarts.append(data) if event == "media_lost" else None
                )
                await _redeem_and_wait(page, server)
                await _answer(page, console)
                await _media_both_ways(page, console)
                await _chat_both_ways(page, console)
                await _upload_pdf(page, console, tmp_path / "drawings.pdf", pdf)
                await _share_screen(page, console)
                await _end_with_outcome(page, server, console)
                assert watch.errors == [], "\n".join(watch.log)
                assert restarts == []  # the media path never looked dead: every ping got its pong
                # The page sent nothing the server refused (call_quality, pings, sync_call ...).
                assert not [line for line in watch.log if "server refused" in line], watch.log
            finally:
                await console.stop()


async def _redeem_and_wait(page: Any, server: Any) -> None:
    await open_link(page, server, invite(server))
    await page.wait_for_selector("body[data-screen='devices']", timeout=MS)
    assert "#" not in page.url  # the secret left the address bar at once
    assert await page.text_content("#dev-company") == COMPANY
    await through_device_check(page)
    await until(page, "document.getElementById('wait-position').textContent.includes('1 番目')")
    estimate = await page.text_content("#wait-estimate") or ""
    assert estimate == "まもなくご案内します" or estimate.startswith("待ち時間の目安: 約"), estimate


async def _answer(page: Any, console: Any) -> None:
    if console.offer is None:  # not rung yet (a ring that came while the page queued is answered as it is)
        ring = asyncio.ensure_future(console.events.wait("ring", TIMEOUT))
        if console.officer_state != "available":
            await console.set_available()
        await ring
    assert console.offer is not None and console.offer.department == DEPARTMENT
    started = asyncio.ensure_future(console.events.wait("call_started", TIMEOUT))
    await console.accept()
    await started
    await page.wait_for_selector("body[data-screen='call']", timeout=MS)
    # The business is told who answers: call_connecting.peer_name (the division, as kiosks are told).
    assert await page.text_content("#call-officer") == "担当: 建築指導課 hanako"  # division and officer


async def _media_both_ways(page: Any, console: Any) -> None:
    session = console.party.session
    assert session is not None
    assert await frames(session.remote_video, 30) >= 30  # the business's camera at the console
    assert await frames(session.remote_audio, 30) >= 30  # and its microphone
    assert await page_stat(page, "videoFramesIn", 30) >= 30  # the officer's camera, decoded...
    assert await page_stat(page, "paintedFrames", 30) >= 30  # ...and painted in the page
    assert await page_stat(page, "audioPacketsIn", 30) >= 30  # the officer's microphone
    # Link pings answered both ways: the console measured a round trip from the page's pongs, and the
    # page from the console's.
    assert console.party.link_rtt_ms is not None
    await until(page, "globalThis.madoguchi.linkRttMs() !== null")


async def _chat_both_ways(page: Any, console: Any) -> None:
    heard = asyncio.ensure_future(console.events.wait("chat", TIMEOUT, sender="resident"))
    await page.fill("#chat-input", "図面を共有します")
    await page.click("#chat-send")
    assert (await heard)["text"] == "図面を共有します"
    await console.desk.send_chat("はい、拝見します")
    line = page.locator(".chat-line.officer .text")
    await line.wait_for(timeout=MS)
    assert await line.text_content() == "はい、拝見します"


async def _upload_pdf(page: Any, console: Any, path: Path, pdf: bytes) -> None:
    # A program renamed to .pdf is refused in the page by its first bytes ("MZ"), before anything is sent.
    exe = {"name": "drawings.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00" + bytes(4096)}
    await page.set_input_files("#upload-input", files=[exe])
    await page.wait_for_selector("body[data-upload='failed']", timeout=MS)
    refusal = await page.text_content("#upload-result") or ""
    assert refusal.startswith("PDF、PNG、JPEG のファイルだけ送れます"), refusal
    assert console.desk.documents == {} and console.desk.failed_documents == {}
    received = asyncio.ensure_future(console.events.wait("document_received", 120.0))
    await page.set_input_files("#upload-input", str(path))
    data = await received
    assert data["ok"], data
    document = console.desk.documents[data["doc_id"]]
    assert hashlib.sha256(document.data).hexdigest() == hashlib.sha256(pdf).hexdigest()
    assert document.offer.purpose == "upload" and document.offer.mime == "application/pdf"
    await page.wait_for_selector("body[data-upload='ok']", timeout=MS)
    assert await page.get_attribute("#upload-progress", "value") == "1"


async def _share_screen(page: Any, console: Any) -> None:
    session = console.party.session
    assert session is not None
    shared = asyncio.ensure_future(console.events.wait("screen_share", TIMEOUT, active=True))
    await page.click("#btn-share")
    await shared
    assert await frames(session.remote_screen, 20) >= 20
    assert await page.get_attribute("#btn-share", "aria-pressed") == "true"
    stopped = asyncio.ensure_future(console.events.wait("screen_share", TIMEOUT, active=False))
    await page.click("#btn-share")
    await stopped


async def _end_with_outcome(page: Any, server: Any, console: Any) -> None:
    call_id = console.call_id
    await console.end_call("resolved", "事前相談済み")
    await page.wait_for_selector("body[data-screen='thanks'][data-ended='completed']", timeout=MS)
    assert await page.text_content("#thanks-title") == "ご利用ありがとうございました"
    record = server.store.call(call_id)
    assert record is not None and record.outcome == "resolved"
    assert await page.evaluate("sessionStorage.getItem('madoguchi.business')") is None
    # issue 15: the business rates the call, once; it reaches the record and the day's statistics
    assert await page.is_visible("#rating")
    await page.click(".rating-btn[data-rating='5']")
    await page.wait_for_selector("#rating-thanks:has-text('ご回答ありがとうございました')", timeout=MS)
    assert not await page.is_visible("#rating")
    department = record.department

    def rated() -> bool:
        counters = (console.stats or {}).get("departments", {}).get(department, {})
        return counters.get("ratings") == 1

    while not rated():
        await console.events.wait("stats", TIMEOUT)
    assert server.store.call(call_id).rating == 5
