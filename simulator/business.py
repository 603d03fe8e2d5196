"""`madoguchi-sim --business`: business calls in real headless Chromium against a headless officer console.

For each of N calls (one after another: two cores run Chromium, the console's codecs and the server), the
officer's ``ConsoleController`` creates an invitation over REST (``POST /api/invitations`` with its session
token), Debian's Chromium opens the link (``signaling_server/web/business``), passes the device check with a
fake camera and microphone, waits, is answered, and then: video and audio both ways (at least
``MIN_FRAMES`` each way), a chat line each way, a PDF uploaded through the page's file input and verified
at the console by SHA-256, a screen share (Chromium's fake "screen") whose frames reach the console, and an
ending with an outcome that takes the page to its thank-you screen. Media stays on 127.0.0.1
(``restrict_to_loopback`` here, ``--allow-loopback-in-peer-connection`` in Chromium).

Nothing waits by sleeping: every step waits for an event, a selector or a page-side predicate, bounded by a
time-out. The browser, its pages, the console and the server are closed on every path (``finally``), also
when the run is interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import os
import signal
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.schema import AppConfig
from hardware.simulated import SimulatedMedia
from remote_call.session import LatestFrame
from signaling_server.embedded import EmbeddedServer, provision
from staff_console.controller import ConsoleController
from staff_console.invitations import InvitationRequest
from staff_console.media import ConsoleMedia

# Debian's Chromium (never `playwright install`); MADOGUCHI_CHROMIUM names another build of it.
CHROMIUM = Path(os.environ.get("MADOGUCHI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",  # camera, microphone and screen prompts answered "allow"
    "--use-fake-device-for-media-stream",  # a synthetic camera picture and a beeping microphone
    "--auto-select-desktop-capture-source=Entire screen",
    "--allow-loopback-in-peer-connection",  # pair with aiortc's only candidate, 127.0.0.1
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]
DEPARTMENT = "kenchiku-shido"  # 建築指導課, one of the business counters
OFFICER = "sim-officer-biz"
MIN_FRAMES = 30
# Chromium's fake screen is a still picture: its encoder sends a frame every 0.2-1 s (20 frames took 4-12 s
# here), so a few frames show that sharing works without holding the call open for long.
SCREEN_FRAMES = 5
TIMEOUT_S = 60.0  # per step; generous on two shared cores, nothing waits longer than it has to
PDF_BYTES = 3 * 1024 * 1024

log = logging.getLogger(__name__)


class ChromiumMissing(RuntimeError):
    """Debian's Chromium (or the playwright package that drives it) is not installed."""


def check_browser() -> None:
    """Raise ``ChromiumMissing`` naming what to install."""
    if not CHROMIUM.exists():
        raise ChromiumMissing(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError as exc:
        raise ChromiumMissing("the playwright package is missing: pip install -e '.[dev]'") from exc


@dataclass
class BusinessCall:
    index: int
    completed: bool = False  # every step passed and the page showed the thank-you screen
    told_ended: bool = False  # the page learned how its call ended (thank-you screen)
    setup_ms: float | None = None
    video_to_officer: int = 0
    video_to_business: int = 0
    audio_to_officer: int = 0
    audio_packets_to_business: int = 0
    screen_frames: int = 0
    document_verified: bool = False
    chat_both_ways: bool = False
    console_errors: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class BusinessReport:
    calls: list[BusinessCall] = field(default_factory=list)
    requested: int = 0
    document_bytes: int = 0
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        done = [c for c in self.calls if c.completed]

        def least(attr: str) -> int:
            return min((getattr(c, attr) for c in self.calls), default=0)

        errors = [f"call {c.index}: {c.error}" for c in self.calls if c.error]
        console = [f"call {c.index}: {line}" for c in self.calls for line in c.console_errors]
        return {
            "calls_requested": self.requested,
            "calls_completed": len(done),
            "callers_lost": self.requested - sum(1 for c in self.calls if c.told_ended),
            "video_frames_to_officer_min": least("video_to_officer"),
            "video_frames_to_business_min": least("video_to_business"),
            "audio_frames_to_officer_min": least("audio_to_officer"),
            "audio_packets_to_business_min": least("audio_packets_to_business"),
            "screen_frames_min": least("screen_frames"),
            "documents_verified": sum(1 for c in self.calls if c.document_verified),
            "document_bytes": self.document_bytes,
            "chats_both_ways": sum(1 for c in self.calls if c.chat_both_ways),
            "browser_console_errors": len(console),
            "setup_ms": percentiles([c.setup_ms for c in self.calls if c.setup_ms is not None]),
            "wall_s": round(self.wall_s, 2),
            "errors": errors[:20],
            "console_error_lines": console[:20],
        }


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"p50": round(statistics.median(ordered), 1), "p95": round(p95, 1), "max": round(ordered[-1], 1)}


def succeeded(summary: dict[str, Any]) -> bool:
    """Exit 0 only when all of it held: every call, nobody lost, media, screen, documents, a clean console."""
    n = summary["calls_requested"]
    return (
        summary["calls_completed"] == n
        and summary["callers_lost"] == 0
        and summary["video_frames_to_officer_min"] >= MIN_FRAMES
        and summary["video_frames_to_business_min"] >= MIN_FRAMES
        and summary["screen_frames_min"] > 0
        and summary["documents_verified"] == n
        and summary["browser_console_errors"] == 0
    )


# ---------------------------------------------------------------------- a test PDF


def make_pdf(size: int) -> bytes:
    """A real one-page PDF (a line on an A4 page) of exactly ``size`` bytes, padded by an unused stream of
    random bytes so that no compression on the way can shrink the transfer."""
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    content = b"q 2 w 72 72 m 520 770 l S Q\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]

    def assemble(padding: bytes) -> bytes:
        body = [*objects, b"<< /Length %d >>\nstream\n" % len(padding) + padding + b"\nendstream"]
        out, offsets = bytearray(head), []
        for number, obj in enumerate(body, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(body) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(body) + 1, xref)
        return bytes(out)

    padding = size - len(assemble(b""))
    for _ in range(3):  # the stream length and xref offsets grow by a digit or two: converge
        data = assemble(os.urandom(padding))
        if len(data) == size:
            return data
        padding += size - len(data)
    raise ValueError(f"could not build a PDF of exactly {size} bytes")


# ---------------------------------------------------------------------- the parties


@contextlib.asynccontextmanager
async def chromium(args: list[str] = CHROMIUM_ARGS) -> AsyncIterator[Any]:
    """Debian's Chromium, headless, closed (with its playwright driver) however the block ends."""
    check_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        log.info("chromium %s started", browser.version)
        try:
            yield browser
        finally:
            with contextlib.suppress(Exception):  # the driver may already be gone after an interrupt
                await browser.close()


@contextlib.asynccontextmanager
async def officer_desk(config: AppConfig) -> AsyncIterator[tuple[EmbeddedServer, ConsoleController]]:
    """An embedded server on loopback (temporary database) and a signed-in, available officer console."""
    with tempfile.TemporaryDirectory(prefix="madoguchi-biz-") as tmp:
        async with (
            EmbeddedServer(config, Path(tmp) / "sim.sqlite3") as server,
            officer_desk_on(server) as console,
        ):
            yield server, console


@contextlib.asynccontextmanager
async def officer_desk_on(server: EmbeddedServer) -> AsyncIterator[ConsoleController]:
    """A new officer account serving every remote department, signed in on a console and available."""
    creds = provision(server.store, server.config, kiosk_ids=[], officers=[OFFICER])
    password = creds.officer_passwords[OFFICER]
    media = ConsoleMedia(SimulatedMedia("officer", 320, 240, 15, 660.0))  # as devtools.headless's consoles
    console = ConsoleController(server.url, OFFICER, password, media, config=server.config)
    try:
        await console.start(TIMEOUT_S)
        await console.set_available()
        yield console
    finally:
        await console.stop()


async def invite(console: ConsoleController, company: str) -> str:
    """A new invitation for DEPARTMENT over REST with the console's session token; returns the link."""
    now = dt.datetime.now().astimezone()
    request = InvitationRequest(
        department=DEPARTMENT,
        company=company,
        contact_name="山田 太郎",
        email="yamada@example.jp",
        purpose="確認申請の事前相談",
        valid_from=now - dt.timedelta(minutes=1),
        valid_until=now + dt.timedelta(hours=1),
    )
    invitation = await console.invitations.create(request)
    if not invitation.link:
        raise RuntimeError("the server answered the invitation without a link")
    return invitation.link


class BusinessPage:
    """One business's tab: its own browser context (fresh storage), console errors collected."""

    def __init__(self, context: Any, page: Any) -> None:
        self.context = context
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    @classmethod
    async def open(cls, browser: Any) -> BusinessPage:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        return cls(context, await context.new_page())

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.context.close()

    async def join(self, link: str) -> None:
        """Open the link, pass the device check, and be in the waiting room."""
        ms = int(TIMEOUT_S * 1000)
        await self.page.goto(link)
        await self.page.wait_for_selector("body[data-screen='devices']", timeout=ms)
        await self.page.click("#dev-start")
        await self.page.wait_for_selector("body[data-devices='ok']", timeout=ms)
        await self.page.click("#dev-join")
        await self.page.wait_for_selector("body[data-screen='waiting']", timeout=ms)

    async def arm_first_frame(self) -> None:
        """Note (on the wall clock) when the first remote video frame is painted: requestVideoFrameCallback
        on the page's remote video, what the business really sees."""
        await self.page.evaluate(
            """() => {
                const video = document.getElementById('remote-video');
                globalThis.__simFirstFrame = new Promise((resolve) =>
                    video.requestVideoFrameCallback((now, meta) =>
                        resolve(performance.timeOrigin + (meta.presentationTime || now))));
            }"""
        )

    async def first_frame_wall(self) -> float:
        """Seconds since the epoch of the first painted remote frame (waits for it, bounded)."""
        ms = await asyncio.wait_for(self.page.evaluate("() => globalThis.__simFirstFrame"), TIMEOUT_S)
        return float(ms) / 1000.0

    async def stat(self, name: str, at_least: int) -> int:
        """The page's own counter (getStats / painted frames) once it reaches ``at_least``, checked by the
        page every 200 ms (its last value on time-out)."""
        script = """async ([name, atLeast, timeoutMs]) => {
            const end = performance.now() + timeoutMs;
            for (;;) {
                const value = (await globalThis.madoguchi.stats())[name] ?? 0;
                if (value >= atLeast || performance.now() > end) return value;
                await new Promise((resolve) => setTimeout(resolve, 200));
            }
        }"""
        return int(await self.page.evaluate(script, [name, at_least, int(TIMEOUT_S * 1000)]))


async def frames(sink: LatestFrame, at_least: int, timeout: float = TIMEOUT_S) -> int:
    """Wait until ``sink`` counted ``at_least`` frames (woken by each frame); its count, also on time-out."""
    reached = asyncio.Event()

    def check(_frame: Any) -> None:
        if sink.count >= at_least:
            reached.set()

    sink.listeners.append(check)
    check(None)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reached.wait(), timeout)
    finally:
        sink.listeners.remove(check)
    return sink.count


@contextlib.asynccontextmanager
async def waiting(
    console: ConsoleController, event: str, *, timeout: float = TIMEOUT_S, **match: Any
) -> AsyncIterator[asyncio.Future[dict[str, Any]]]:
    """A wait for a console event, started before the action that causes it and cancelled if the block
    leaves without awaiting it (no stray time-out later)."""
    future = asyncio.ensure_future(console.events.wait(event, timeout, **match))
    try:
        yield future
    finally:
        future.cancel()


def wall_of(perf: float) -> float:
    """A ``time.perf_counter()`` moment on the wall clock (the page's clock: same machine)."""
    return time.time() - (time.perf_counter() - perf)


async def answer(console: ConsoleController, ring: asyncio.Future[dict[str, Any]]) -> float:
    """Wait for the ring (``ring``: a wait started before the caller asked, so it cannot be missed), accept
    it, and return the wall-clock moment of the accept."""
    data = await ring
    if data.get("department") != DEPARTMENT:
        raise RuntimeError(f"the ring was for {data.get('department')}, not {DEPARTMENT}")
    async with waiting(console, "call_started") as started:
        accepted = time.time()
        await console.accept()
        await started
    return accepted


async def connect(console: ConsoleController, business: BusinessPage, link: str) -> tuple[float, float]:
    """The business joins through ``link`` and the officer accepts: (accept, both ends' first frame) on the
    wall clock."""
    async with waiting(console, "ring") as ring:  # armed before the business asks: a ring is never missed
        await business.join(link)
        await business.arm_first_frame()
        accepted = await answer(console, ring)
    session = console.party.session
    if session is None:
        raise RuntimeError("the call started without a media session at the console")
    await asyncio.wait_for(session.remote_video.first.wait(), TIMEOUT_S)
    page_first = await business.first_frame_wall()
    console_first = wall_of(session.remote_video.first_at or time.perf_counter())
    await business.page.wait_for_selector("body[data-screen='call']", timeout=int(TIMEOUT_S * 1000))
    return accepted, max(page_first, console_first)


async def end_with_outcome(console: ConsoleController, business: BusinessPage, result: BusinessCall) -> None:
    """The officer ends with an outcome; the page must reach its thank-you screen (completed)."""
    async with waiting(console, "officer_state", state="wrap_up") as wrapping:
        await console.end_call("resolved", "業者シミュレーション")
        await business.page.wait_for_selector(
            "body[data-screen='thanks'][data-ended='completed']", timeout=int(TIMEOUT_S * 1000)
        )
        result.told_ended = True
        await wrapping
    await console.set_available()


# ---------------------------------------------------------------------- one call


async def media_both_ways(console: ConsoleController, business: BusinessPage, result: BusinessCall) -> None:
    session = console.party.session
    if session is None:
        raise RuntimeError("no media session at the console")
    result.video_to_officer = await frames(session.remote_video, MIN_FRAMES)
    result.audio_to_officer = await frames(session.remote_audio, MIN_FRAMES)
    result.video_to_business = await business.stat("paintedFrames", MIN_FRAMES)
    result.audio_packets_to_business = await business.stat("audioPacketsIn", MIN_FRAMES)


async def media_totals(console: ConsoleController, business: BusinessPage, result: BusinessCall) -> None:
    """The counts over the whole call so far (what arrived, not just the threshold that was waited for)."""
    session = console.party.session
    if session is not None:
        result.video_to_officer = session.remote_video.count
        result.audio_to_officer = session.remote_audio.count
    result.video_to_business = await business.stat("paintedFrames", 0)
    result.audio_packets_to_business = await business.stat("audioPacketsIn", 0)


async def chat_both_ways(console: ConsoleController, business: BusinessPage) -> bool:
    async with waiting(console, "chat", sender="resident") as heard:
        await business.page.fill("#chat-input", "図面を共有します")
        await business.page.click("#chat-send")
        got = (await heard)["text"] == "図面を共有します"
    await console.desk.send_chat("はい、拝見します")
    line = business.page.locator(".chat-line.officer .text").last
    await line.wait_for(timeout=int(TIMEOUT_S * 1000))
    return got and await line.text_content() == "はい、拝見します"


async def upload(console: ConsoleController, business: BusinessPage, path: Path, sha256: str) -> bool:
    """The page uploads ``path`` through its file input; True when the console holds the same bytes."""
    async with waiting(console, "document_received", timeout=4 * TIMEOUT_S) as received:
        await business.page.set_input_files("#upload-input", str(path))
        data = await received
    document = console.desk.documents.get(data["doc_id"]) if data.get("ok") else None
    await business.page.wait_for_selector("body[data-upload='ok']", timeout=int(TIMEOUT_S * 1000))
    return document is not None and hashlib.sha256(document.data).hexdigest() == sha256


async def share_screen(console: ConsoleController, business: BusinessPage) -> int:
    """Start sharing in the page, count the screen frames at the console, stop; the frames counted."""
    session = console.party.session
    if session is None:
        raise RuntimeError("no media session at the console")
    async with waiting(console, "screen_share", active=True) as shared:
        await business.page.click("#btn-share")
        await shared
    count = await frames(session.remote_screen, SCREEN_FRAMES)
    async with waiting(console, "screen_share", active=False) as stopped:
        await business.page.click("#btn-share")
        await stopped
    return count


async def run_call(
    browser: Any, console: ConsoleController, index: int, pdf: Path, sha256: str
) -> BusinessCall:
    """One business call, start to finish; failures are recorded in the result, never raised."""
    result = BusinessCall(index)
    business = await BusinessPage.open(browser)
    began = time.perf_counter()

    def step(name: str) -> None:
        log.info("call %d: %s done at %.1f s", index, name, time.perf_counter() - began)

    try:
        link = await invite(console, f"盛岡設計事務所 {index + 1}")
        accepted, first = await connect(console, business, link)
        result.setup_ms = round((first - accepted) * 1000, 1)
        step("connect")
        await media_both_ways(console, business, result)
        step("media")
        result.chat_both_ways = await chat_both_ways(console, business)
        step("chat")
        result.document_verified = await upload(console, business, pdf, sha256)
        step("upload")
        result.screen_frames = await share_screen(console, business)
        step("screen")
        await media_totals(console, business, result)
        await end_with_outcome(console, business, result)
        step("end")
        result.completed = result.chat_both_ways and result.document_verified
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {str(exc)[:300]}"
        await _abandon(console, business, result)
    finally:
        result.console_errors = list(business.errors)
        await business.close()
    return result


async def _abandon(console: ConsoleController, business: BusinessPage, result: BusinessCall) -> None:
    """After a failed step: end whatever call is still up, so that the next call finds the officer free."""
    with contextlib.suppress(Exception):
        if console.call_id is not None:
            await end_with_outcome(console, business, result)
        elif console.officer_state != "available":
            await console.set_available()


# ---------------------------------------------------------------------- the run


async def run_business(config: AppConfig, calls: int, pdf_bytes: int = PDF_BYTES) -> dict[str, Any]:
    """Place ``calls`` business calls one after another; the summary (see ``BusinessReport.summary``)."""
    check_browser()
    report = BusinessReport(requested=calls, document_bytes=pdf_bytes)
    started = time.perf_counter()
    data = make_pdf(pdf_bytes)
    sha256 = hashlib.sha256(data).hexdigest()
    with tempfile.TemporaryDirectory(prefix="madoguchi-biz-pdf-") as tmp:
        pdf = Path(tmp) / "図面.pdf"
        pdf.write_bytes(data)
        async with officer_desk(config) as (_server, console), chromium() as browser:
            for index in range(calls):
                report.calls.append(await run_call(browser, console, index, pdf, sha256))
    report.wall_s = time.perf_counter() - started
    return report.summary()


def run_interruptible(config: AppConfig, calls: int, pdf_bytes: int = PDF_BYTES) -> dict[str, Any]:
    """``run_business`` under ``asyncio.run``; SIGTERM cancels it as Ctrl-C does, so every ``finally``
    (browser, console, server, temporary files) runs first. Either raises ``KeyboardInterrupt``."""

    async def main() -> dict[str, Any]:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await run_business(config, calls, pdf_bytes)
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:  # SIGTERM: the run was cancelled and has cleaned up
        raise KeyboardInterrupt from None
