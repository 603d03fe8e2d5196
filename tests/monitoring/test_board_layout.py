"""The public wait board on a phone (390×844) and on a wall screen (1920×1080), in all six languages, in real
headless Chromium: nothing overflows horizontally, and the wait column says what the server's one estimate
says (a busy department with nobody waiting is never 「待ちなし」)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.schema import localized_name
from remote_call import protocol as p
from signaling_server.testing import WireClient, call_in_progress

from ..conftest import PASSWORD
from .test_dashboard import ARGS, CHROMIUM, _keep

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")

LANGUAGES = ("ja", "ja-easy", "en", "zh", "ko", "vi")
PHONE = {"width": 390, "height": 844}
WALL = {"width": 1920, "height": 1080}
# The wait column for the department with one resident in a call and one waiting, and for one with nobody
# waiting and every officer busy, per language ({m}: the server's minutes).
WAIT = {
    "ja": ("約 {m} 分", "担当者が対応中・約 {m} 分"),
    "ja-easy": ("{m}ぷん くらい", "かかりの ひとが いそがしいです・{m}ぷん くらい"),
    "en": ("about {m} min", "Staff busy · about {m} min"),
    "zh": ("约 {m} 分钟", "工作人员正在接待・约 {m} 分钟"),
    "ko": ("약 {m}분", "담당자 응대 중 · 약 {m}분"),
    "vi": ("khoảng {m} phút", "Nhân viên đang bận · khoảng {m} phút"),
}


async def test_the_board_fits_a_phone_and_a_wall_in_every_language(monitored, tmp_path):
    async with monitored() as server, playwright_api.async_playwright() as pw:
        # hanako (serving every department) is in a call and a second resident waits for kosodate.
        k1, o1, _ = await call_in_progress(
            server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"], "hanako", PASSWORD
        )
        k2 = await WireClient.kiosk(server.url, "kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"])
        await k2.send(p.RequestCall(department="kosodate"))
        await k2.expect(p.Queued)
        infos = {d.id: d for d in server.switchboard.department_infos()}
        busy_id = next(i for i, d in infos.items() if d.wait_state == "nobody_waiting_officers_busy")
        assert infos["kosodate"].wait_state == "wait"
        kosodate = server.config.department("kosodate")
        assert kosodate.name_zh and kosodate.name_vi  # the shipped translations reach the board
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for size_name, viewport in (("phone", PHONE), ("wall", WALL)):
                page = await browser.new_page(viewport=viewport)
                for lang in LANGUAGES:
                    await page.goto(f"{server.http_url}/board?lang={lang}")
                    await page.wait_for_selector("body[data-refreshes='1']")
                    assert await page.get_attribute("#lang-" + lang, "aria-pressed") == "true"
                    name = page.locator("tr[data-department='kosodate'] .primary")
                    shown = await name.text_content() or ""
                    if lang == "ja-easy":  # readings as ruby above the kanji, never as {…|…} markup
                        assert await name.locator("ruby rt").count() >= 1 and "{" not in shown
                    else:
                        assert shown == localized_name(kosodate, lang)
                    waiting, busy = WAIT[lang]
                    for dep_id, text in (("kosodate", waiting), (busy_id, busy)):
                        cell = page.locator(f"tr[data-department='{dep_id}'] .ewt")
                        shown = (await cell.text_content() or "").replace("\u00a0", " ")  # figure + unit kept
                        assert shown == text.format(m=infos[dep_id].wait_minutes)
                    widths = await page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
                    assert widths[0] <= widths[1], (size_name, lang, widths)
                    # No text box is wider than the screen either (a clipped word would not scroll).
                    wide = await page.evaluate(
                        "[...document.querySelectorAll('body *')].filter("
                        "e => e.getBoundingClientRect().right > window.innerWidth + 0.5).length"
                    )
                    assert wide == 0, (size_name, lang)
                    if size_name == "wall":  # a wall screen is read from afar: nothing below the fold
                        heights = await page.evaluate(
                            "[document.scrollingElement.scrollHeight, window.innerHeight]"
                        )
                        assert heights[0] <= heights[1], (lang, heights)
                    shot = tmp_path / f"board-{size_name}-{lang}.png"
                    await page.screenshot(path=str(shot), full_page=True)
                    _keep(shot)
                # The language buttons switch in place and keep the choice in the address.
                await page.click("#lang-vi")
                assert await page.get_attribute("html", "lang") == "vi" and "lang=vi" in page.url
                await page.close()
        finally:
            await browser.close()
            for client in (k1, o1, k2):
                await client.close()
