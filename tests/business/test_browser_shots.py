"""Every page of the business client in Japanese and English, on a desktop (1920×1080) and a tablet
(1024×768 landscape, 768×1024 portrait), as PNGs under ``$BUSINESS_SHOTS`` (default /tmp/business-shots) for
people to look at. Each shot is also checked: nothing wider than the screen, every visible button a touch
target of at least 48×48 CSS px (9 mm), and no untranslated catalog key on the page."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from devtools.headless import scan_png, start_console

from .test_browser_flow import (
    MS,
    NEEDS_CHROMIUM,
    TIMEOUT,
    ConsoleWatch,
    chromium,
    invite,
    loopback_media,
    open_link,
    until,
)

pytest.importorskip("playwright.async_api")

SHOTS = Path(os.environ.get("BUSINESS_SHOTS", "/tmp/business-shots"))
SIZES = {"desktop": (1920, 1080), "tablet": (1024, 768), "portrait": (768, 1024)}
TOUCH_PX = 48

# Sizes of what is on screen, measured in the page: what overflows, which buttons are too small, and
# text that is still a catalog key (e.g. "call.mute").
LAYOUT = """async () => {
  const { catalogKeys } = await import("./i18n.js");
  const catalog = new Set(catalogKeys("ja"));
  const visible = (node) => node.offsetParent !== null && getComputedStyle(node).visibility !== "hidden";
  const small = [...document.querySelectorAll("button, a.doc-link, input:not([type=file])")]
    .filter(visible)
    .map((node) => [node.id || node.className, node.getBoundingClientRect()])
    .filter(([, box]) => box.width < 48 || box.height < 48)
    .map(([name, box]) => `${name} ${Math.round(box.width)}x${Math.round(box.height)}`);
  const keys = [...document.querySelectorAll("body *")]
    .filter((node) => visible(node) && node.children.length === 0)
    .map((node) => node.textContent.trim())
    .filter((text) => catalog.has(text));
  return { wide: document.documentElement.scrollWidth - innerWidth, small, keys };
}"""

pytestmark = NEEDS_CHROMIUM


async def shoot(page: Any, name: str) -> list[str]:
    """Screenshots of the current page in every size and both languages; returns the problems found."""
    problems = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    for size, (width, height) in SIZES.items():
        await page.set_viewport_size({"width": width, "height": height})
        for lang in ("ja", "en"):
            await page.click(f".lang-btn[data-lang='{lang}']")
            await page.screenshot(path=str(SHOTS / f"{name}-{lang}-{size}.png"))
            layout = await page.evaluate(LAYOUT)
            if layout["wide"] > 0:
                problems.append(f"{name} {lang} {size}: {layout['wide']} px wider than the screen")
            problems += [f"{name} {lang} {size}: small target {s}" for s in layout["small"]]
            problems += [f"{name} {lang} {size}: untranslated {k}" for k in layout["keys"]]
    await page.click(".lang-btn[data-lang='ja']")
    return problems


@pytest.mark.slow
async def test_every_page_in_both_languages_and_three_sizes(make_server):
    problems: list[str] = []
    with loopback_media():
        async with make_server() as server, chromium() as browser:
            problems += await _entry_pages(browser, server)
            console = await start_console(server)
            try:
                page = await browser.new_page()
                watch = ConsoleWatch(page)
                problems += await _call_pages(page, server, console)
                assert watch.errors == []
            finally:
                await console.stop()
    assert problems == []
    assert len(list(SHOTS.glob("*.png"))) >= 9 * len(SIZES) * 2


async def _entry_pages(browser: Any, server: Any) -> list[str]:
    """The pages before the queue, each in a fresh tab (a new fragment alone would not reload the page)."""
    entries = [
        ("01-link-invalid", "forged-" + "x" * 36, "link_error", None),
        ("02-code", invite(server, second_factor=True), "code", None),
        ("03-unsupported", invite(server), "unsupported", "delete window.RTCPeerConnection;"),
        ("04-devices-before", invite(server), "devices", None),
    ]
    problems = []
    for name, secret, screen, script in entries:
        page = await browser.new_page()
        if script:
            await page.add_init_script(script)
        await open_link(page, server, secret)
        await page.wait_for_selector(f"body[data-screen='{screen}']", timeout=MS)
        problems += await shoot(page, name)
        await page.close()
    return problems


async def _call_pages(page: Any, server: Any, console: Any) -> list[str]:
    problems = []
    await open_link(page, server, invite(server))
    await page.wait_for_selector("body[data-screen='devices']", timeout=MS)
    await page.click("#dev-start")
    await page.wait_for_selector("body[data-devices='ok']", timeout=MS)
    problems += await shoot(page, "05-devices-ready")
    await page.click("#dev-join")
    await page.wait_for_selector("#wait-position:has-text('1 番目')", timeout=MS)
    problems += await shoot(page, "06-waiting")
    ring = asyncio.ensure_future(console.events.wait("ring", TIMEOUT))
    if console.offer is None and console.officer_state not in ("available", "ringing"):
        await console.set_available()
    await ring
    await console.accept()
    await page.wait_for_selector("body[data-screen='call']", timeout=MS)
    await until(page, "document.getElementById('remote-video').videoWidth > 0")
    await page.fill("#chat-input", "図面の 3 ページ目をご覧ください")
    await page.click("#chat-send")
    await console.desk.send_chat("承知しました。共有をお願いします。")
    await page.locator(".chat-line.officer").wait_for(timeout=MS)
    await console.desk.show_document(scan_png(620, 877), name="申請書の記入例.png", width=620, height=877)
    await page.locator(".shown-doc canvas").wait_for(timeout=MS)
    await page.set_input_files(
        "#upload-input", files=[{"name": "setup.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00"}]
    )
    await page.wait_for_selector("body[data-upload='failed']", timeout=MS)
    problems += await shoot(page, "07-call")
    await page.click("#btn-share")
    await page.wait_for_selector("#call-sharing:not([hidden])", timeout=MS)
    await page.click("#btn-mute")
    problems += await shoot(page, "08-call-sharing-muted")
    await console.end_call("resolved")
    await page.wait_for_selector("body[data-screen='thanks']", timeout=MS)
    problems += await shoot(page, "09-thanks")
    return problems
