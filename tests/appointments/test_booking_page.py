"""The public booking page in headless Chromium (Debian's /usr/bin/chromium through playwright): book
(procedure → date → time → details → confirmation with PIN, QR code and .ics), then cancel with the PIN;
the same page in English and やさしい日本語. Screenshots are kept when MADOGUCHI_SCREENSHOTS is set."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from signaling_server.appointments import APPOINTMENTS

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def keep(path: Path) -> None:
    target = os.environ.get("MADOGUCHI_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


async def test_a_resident_books_sees_the_pin_and_qr_downloads_the_ics_and_cancels(server, tmp_path):
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 1000}, accept_downloads=True)
            await page.goto(server.http_url + "/booking")
            await page.wait_for_selector("body[data-ready='1']")
            assert await page.locator("#title").text_content() == "リモート窓口のご予約"
            await page.screenshot(path=str(tmp_path / "booking-ja-procedure.png"), full_page=True)
            keep(tmp_path / "booking-ja-procedure.png")
            await page.click("[data-department='kosodate'] button[data-procedure='ninshin-todoke']")
            await page.wait_for_selector("body[data-step='date']")
            await page.locator("#days button").nth(1).click()
            await page.wait_for_selector("body[data-step='time']")
            await page.screenshot(path=str(tmp_path / "booking-ja-time.png"), full_page=True)
            keep(tmp_path / "booking-ja-time.png")
            first_time = page.locator("#times button").first
            start = float(await first_time.get_attribute("data-start") or 0)
            await first_time.click()
            await page.wait_for_selector("body[data-step='details']")
            await page.click("#to-review")  # nothing entered yet
            assert await page.locator("#error").text_content() == "入力内容を確認してください。"
            await page.fill("#name", "盛岡 花子")
            await page.fill("#phone", "019-000-0000")
            await page.fill("#email", "hanako@example.jp")
            await page.click("#to-review")
            await page.wait_for_selector("body[data-step='review']")
            assert "盛岡 花子" in (await page.locator("#summary").text_content() or "")
            await page.click("#confirm")
            await page.wait_for_selector("body[data-step='done']")
            pin = (await page.locator("#pin").text_content() or "").replace(" ", "")
            assert len(pin) == 6 and pin.isdigit()
            assert (await page.locator("#qr").get_attribute("src") or "").startswith("data:image/svg+xml")
            assert await page.evaluate("document.getElementById('qr').naturalWidth") > 0
            await page.screenshot(path=str(tmp_path / "booking-ja-done.png"), full_page=True)
            keep(tmp_path / "booking-ja-done.png")
            async with page.expect_download() as download_info:
                await page.click("#download-ics")
            download = await download_info.value
            ics = Path(await download.path()).read_text()
            assert download.suggested_filename.endswith(".ics") and "BEGIN:VEVENT" in ics
            booking = server.app[APPOINTMENTS].lookup(pin, address="test")
            assert booking.slot_start == start and booking.procedure == "ninshin-todoke"

            # Cancel with the PIN, from the start page.
            await page.click("#again")
            await page.click("#to-manage")
            await page.fill("#manage-pin", pin[:3] + " " + pin[3:])
            await page.click("#find")
            await page.wait_for_selector("#manage-summary[data-state='booked']")
            await page.click("#cancel-booking")
            await page.wait_for_selector("#manage-summary[data-state='cancelled']")
            assert await page.locator("#cancelled").is_visible()
            assert await page.locator("#cancel-booking").is_hidden()
            await page.fill("#manage-pin", pin)
            await page.click("#find")
            await page.wait_for_selector("#error:not([hidden])")
            assert await page.locator("#error").text_content() == "その予約番号の予約は見つかりません。"
        finally:
            await browser.close()


@pytest.mark.parametrize("lang", ["en", "ja-easy"])
async def test_the_booking_page_in_english_and_easy_japanese(server, tmp_path, lang):
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 1000})
            await page.goto(server.http_url + "/booking")
            await page.wait_for_selector("body[data-ready='1']")
            await page.click(f"#lang-{lang}")
            expected = {
                "en": "Book a remote counter appointment",
                "ja-easy": "リモート窓口（まどぐち）の よやく",
            }
            assert await page.locator("#title").text_content() == expected[lang]
            assert f"lang={lang}" in page.url
            heading = page.locator("[data-department='kosodate'] h3")
            names = {"en": "Child and Family Support Division", "ja-easy": "子育てあんしん課"}
            assert await heading.text_content() == names[lang]
            await page.screenshot(path=str(tmp_path / f"booking-{lang}-procedure.png"), full_page=True)
            keep(tmp_path / f"booking-{lang}-procedure.png")
            await page.click("[data-department='kosodate'] button[data-procedure='']")
            await page.locator("#days button").nth(1).click()
            await page.locator("#times button").first.click()
            await page.fill("#name", "Anna Smith")
            await page.fill("#email", "anna@example.com")
            await page.click("#to-review")
            await page.click("#confirm")
            await page.wait_for_selector("body[data-step='done']")
            booked = {"en": "Your appointment is booked", "ja-easy": "よやく できました"}
            assert await page.locator("#step-done h2").text_content() == booked[lang]
            await page.screenshot(path=str(tmp_path / f"booking-{lang}-done.png"), full_page=True)
            keep(tmp_path / f"booking-{lang}-done.png")
        finally:
            await browser.close()


async def test_a_resident_moves_a_booking_with_the_pin_and_a_full_slot_is_refused_clearly(server, tmp_path):
    from signaling_server.appointments import BookingRequest

    service = server.app[APPOINTMENTS]
    days = [d for d in service.calendar("kosodate").bookable_days(service.clock()) if service.slots(
        "kosodate", d, bookable_only=True)]  # fmt: skip
    first, other = days[1], days[2]
    free = service.slots("kosodate", first, bookable_only=True)
    booked = service.book(
        BookingRequest("kosodate", free[0].start, name="盛岡 花子", contact="019-000-0000"), actor="public"
    )
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 1000})
            await page.goto(server.http_url + "/booking")
            await page.wait_for_selector("body[data-ready='1']")
            await page.click("#to-manage")
            await page.fill("#manage-pin", booked.pin)
            await page.click("#find")
            await page.wait_for_selector("#manage-summary[data-state='booked']")
            await page.click("#reschedule-booking")
            await page.wait_for_selector("body[data-step='move']")
            assert "盛岡 花子" in (await page.locator("#move-current").text_content() or "")
            await page.click(f"#move-days button[data-day='{other.isoformat()}']")
            await page.wait_for_selector("#move-times button")
            targets = page.locator("#move-times button")
            wanted = float(await targets.nth(0).get_attribute("data-start") or 0)
            await targets.nth(0).click()
            await page.wait_for_selector("#move-confirm:not([hidden])")
            await page.screenshot(path=str(tmp_path / "booking-ja-reschedule.png"), full_page=True)
            keep(tmp_path / "booking-ja-reschedule.png")
            # Someone else takes that last place meanwhile: the move is refused, with the page's message.
            service.book(
                BookingRequest("kosodate", wanted, name="他の人", contact="019-111-1111"), actor="public"
            )
            await page.click("#move-confirm")
            await page.wait_for_selector("#error:not([hidden])")
            assert await page.locator("#error").text_content() == (
                "申し訳ありません。その時間は満席になりました。別の時間を選んでください。"
            )
            await page.wait_for_selector("#move-confirm[hidden]", state="attached")
            assert await page.locator(f"#move-times button[data-start='{wanted}']").count() == 0  # refreshed
            await page.screenshot(path=str(tmp_path / "booking-ja-reschedule-full.png"), full_page=True)
            keep(tmp_path / "booking-ja-reschedule-full.png")
            assert service.lookup(booked.pin, address="test").slot_start == free[0].start  # not moved
            # Another time of that day: moved, same PIN, the booking shown again.
            second = page.locator("#move-times button").first
            moved_to = float(await second.get_attribute("data-start") or 0)
            await second.click()
            await page.click("#move-confirm")
            await page.wait_for_selector("body[data-step='manage']")
            await page.wait_for_selector("#moved:not([hidden])")
            assert await page.locator("#error").is_hidden()
            assert service.lookup(booked.pin, address="test").slot_start == moved_to
            await page.click("#lang-en")
            assert await page.locator("#moved").text_content() == (
                "Your appointment has been moved. Your PIN stays the same."
            )
            await page.screenshot(path=str(tmp_path / "booking-en-moved.png"), full_page=True)
            keep(tmp_path / "booking-en-moved.png")
            await page.click("#lang-ja-easy")
            await page.click("#reschedule-booking")
            await page.wait_for_selector("body[data-step='move']")
            assert await page.locator("#move-confirm").is_hidden()
            assert await page.locator("#step-move h2").text_content() == "よやくの ひ・じかんを かえる"
            await page.screenshot(path=str(tmp_path / "booking-ja-easy-reschedule.png"), full_page=True)
            keep(tmp_path / "booking-ja-easy-reschedule.png")
        finally:
            await browser.close()
