"""Real Chromium for the guest page (Debian's, fake camera and microphone), as the business tests use it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

# The same Chromium, fake devices and waits as the business page's tests.
from tests.business.test_browser_flow import (
    MS,
    NEEDS_CHROMIUM,
    TIMEOUT,
    ConsoleWatch,
    chromium,
    frames,
    until,
)

__all__ = ["MS", "NEEDS_CHROMIUM", "TIMEOUT", "ConsoleWatch", "chromium", "frames", "until"]


async def peer_stat(page: Any, peer: str, name: str, at_least: int) -> int:
    """Wait until the page's counter ``name`` for ``peer`` reaches ``at_least`` (the page checks every
    200 ms itself; CSP forbids playwright's eval-based polling); the last value on time-out."""
    return int(
        await page.evaluate(
            """async ([peer, name, atLeast, timeoutMs]) => {
                const end = performance.now() + timeoutMs;
                for (;;) {
                    const value = (await globalThis.madoguchi.stats(peer))[name] ?? 0;
                    if (value >= atLeast || performance.now() > end) return value;
                    await new Promise((resolve) => setTimeout(resolve, 200));
                }
            }""",
            [peer, name, at_least, MS],
        )
    )


async def open_guest_page(page: Any, server: Any, link: str, language: str = "ja") -> None:
    secret = link.split("#", 1)[1]
    await page.goto(f"{server.http_url}/g/?lang={language}#{secret}")


async def through_device_check(page: Any) -> None:
    await page.wait_for_selector("body[data-screen='devices']", timeout=MS)
    await page.click("#dev-start")
    await page.wait_for_selector("body[data-devices='ok']", timeout=MS)
    await page.click("#dev-join")
    await page.wait_for_selector("body[data-screen='call']", timeout=MS)


async def frames_from(conference: Any, peer: str, at_least: int, timeout: float = 2 * TIMEOUT) -> int:
    """Frames from ``peer`` on a headless party's current connection to it, waiting across media restarts
    (on a loaded machine a starved link may be rebuilt: the new connection counts from 0 again)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        session = conference.session(peer)
        left = end - loop.time()
        if left <= 0:
            return session.remote_video.count if session is not None else 0
        if session is None:
            await conference.events.wait("peer_connecting", left, peer=peer)
            continue
        with contextlib.suppress(TimeoutError):
            return await frames(session.remote_video, at_least, timeout=min(left, 10.0))
        if conference.session(peer) is session and loop.time() >= end:
            return session.remote_video.count
