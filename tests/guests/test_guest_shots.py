"""The guest page's screens in Japanese, English and やさしい日本語, on a desktop and a phone held upright:
the device check, the call with both parties' tiles, a forged link and the call's end. Each is checked for
untranslated keys and for content wider than the screen, and saved to $MADOGUCHI_SHOTS (or the test's
temporary directory) to be looked at."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from devtools.headless import connect_call, start_console, start_kiosk

from .browser import MS, NEEDS_CHROMIUM, TIMEOUT, chromium, open_guest_page, peer_stat

pytestmark = NEEDS_CHROMIUM
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
KEY_LIKE = r"/^[a-z_-]+(\.[a-z_]+)+$/"


async def check_and_shoot(page: Any, folder: Path, name: str) -> None:
    problems = await page.evaluate(
        f"""() => {{
            const keys = [...document.querySelectorAll("[data-i18n]")]
                .filter((n) => !n.closest("[hidden]") && {KEY_LIKE}.test(n.textContent.trim()))
                .map((n) => n.textContent);
            const wide = document.documentElement.scrollWidth > window.innerWidth + 1;
            return {{ keys, wide }};
        }}"""
    )
    assert problems == {"keys": [], "wide": False}, (name, problems)
    await page.screenshot(path=str(folder / f"guest-{name}.png"))


async def test_every_guest_screen_in_three_languages_on_desktop_and_phone(make_server, tmp_path):
    folder = Path(os.environ.get("MADOGUCHI_SHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    runs = [("ja", "desktop"), ("en", "desktop"), ("ja", "phone"), ("en", "phone"), ("ja-easy", "phone")]
    async with make_server() as server, chromium() as browser:
        kiosk = await start_kiosk(server)
        console = await start_console(server)
        try:
            await connect_call(server, kiosk, console)
            for language, device in runs:
                name = f"{language}-{device}"
                page = await browser.new_page(viewport=VIEWPORTS[device])
                link = await console.guests.create()
                joined = asyncio.ensure_future(console.events.wait("peer_connected", TIMEOUT, peer="guest"))
                await open_guest_page(page, server, link.link, language)
                await page.wait_for_selector("body[data-screen='devices']", timeout=MS)
                await page.click("#dev-start")
                await page.wait_for_selector("body[data-devices='ok']", timeout=MS)
                await check_and_shoot(page, folder, f"devices-{name}")
                await page.click("#dev-join")
                await page.wait_for_selector("body[data-screen='call']", timeout=MS)
                await joined
                for peer in ("caller", "officer"):
                    await peer_stat(page, peer, "paintedFrames", 10)
                await check_and_shoot(page, folder, f"call-{name}")
                left = asyncio.ensure_future(console.events.wait("peer_left", TIMEOUT, peer="guest"))
                await page.click("#call-leave")
                await page.wait_for_selector("body[data-screen='left']", timeout=MS)
                await check_and_shoot(page, folder, f"left-{name}")
                await left
                await page.close()
                page = await browser.new_page(viewport=VIEWPORTS[device])  # a hash change alone loads nothing
                await page.goto(f"{server.http_url}/g/?lang={language}#{'A' * 43}")
                await page.wait_for_selector("body[data-screen='link_error']", timeout=MS)
                await check_and_shoot(page, folder, f"forged-{name}")
                await page.close()
        finally:
            await asyncio.gather(kiosk.stop(), console.stop(), return_exceptions=True)
