"""The public wait board: JSON without login or personal data, and the page in headless Chromium."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from remote_call import protocol as p
from signaling_server.appointments.model import BookingRequest
from signaling_server.appointments.shared import APPOINTMENTS
from signaling_server.testing import WireClient

from .conftest import FakeClock
from .test_dashboard import ARGS, CHROMIUM, _keep

playwright_api = pytest.importorskip("playwright.async_api")


async def board(server) -> tuple[aiohttp.ClientResponse, dict]:
    async with aiohttp.ClientSession() as http, http.get(server.http_url + "/api/board") as r:
        return r, await r.json()


async def test_board_json_needs_no_login_and_carries_no_personal_data(monitored):
    async with monitored() as server:
        k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
        await k.send(p.RequestCall(department="kosodate", caller=p.CallerInfo(procedure="ninshin-todoke")))
        await k.expect(p.Queued)
        response, data = await board(server)
        assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
        remote = [d for d in server.config.departments if d.remote]
        assert [d["id"] for d in data["departments"]] == [d.id for d in remote]
        kosodate = next(d for d in data["departments"] if d["id"] == "kosodate")
        assert kosodate["open"] and kosodate["waiting"] == 1 and kosodate["name_ja"] == "子育てあんしん課"
        text = json.dumps(data, ensure_ascii=False)
        for private in ("kiosk-ueda", "ninshin-todoke", "上田", "hanako", "call_id"):
            assert private not in text
        assert set(kosodate) == {
            "id", "name_ja", "name_en", "open", "waiting", "ewt_s", "next_open",
            "free_slots_today", "next_free_slot", "wait_state", "wait_minutes", "names",
        }  # fmt: skip
        # Nobody serves the department yet: the one estimate says so (no minutes at all).
        assert (kosodate["wait_state"], kosodate["wait_minutes"]) == ("no_officer", None)
        await k.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
async def test_board_page_shows_departments_in_japanese_and_english_and_refreshes(monitored, tmp_path):
    async with monitored(board_refresh_s=2) as server, playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(server.http_url + "/board")
            await page.wait_for_selector("body[data-refreshes='1']")
            row = page.locator("tr[data-department='kosodate']")
            assert await row.locator(".primary").text_content() == "子育てあんしん課"
            assert await row.locator(".badge").text_content() == "受付中"
            assert await row.locator(".waiting").text_content() == "0 人"
            # Nobody serves the test server's departments: no figure, and never 「待ちなし」.
            assert await row.locator(".ewt").text_content() == "ただいま担当者がいません"
            assert await page.text_content("#h-slots") == "本日の予約枠"
            assert (await row.locator(".slots").text_content() or "").strip()  # a count, 本日は満了 or —
            rows = await page.locator("#rows tr").count()
            assert rows == len([d for d in server.config.departments if d.remote])
            # Someone joins the queue; the page shows it at its next automatic refresh.
            k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
            await k.send(p.RequestCall(department="kosodate"))
            await k.expect(p.Queued)
            await page.wait_for_selector(
                "tr[data-department='kosodate'] .waiting:text('1 人')", timeout=15_000
            )
            await page.screenshot(path=str(tmp_path / "board-ja.png"), full_page=True)
            _keep(tmp_path / "board-ja.png")
            await page.click("#lang-en")
            assert await row.locator(".primary").text_content() == "Child and Family Support Division"
            assert await row.locator(".badge").text_content() == "Open"
            assert await row.locator(".waiting").text_content() == "1 person"
            assert "lang=en" in page.url
            await page.screenshot(path=str(tmp_path / "board-en.png"), full_page=True)
            _keep(tmp_path / "board-en.png")
            await k.close()
        finally:
            await browser.close()


async def test_the_board_shows_todays_free_booking_slots_and_a_booking_takes_one(monitored):
    # Wednesday 2026-11-25 10:00 in Morioka: a working day with the afternoon's slots still free.
    morning = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()
    async with monitored(clock=FakeClock(morning)) as server:
        service = server.app[APPOINTMENTS]
        slots = service.slots("kosodate", dt.date(2026, 11, 25), bookable_only=True)
        _, before = await board(server)
        rows = {d["id"]: d for d in before["departments"]}
        first = dt.datetime.fromtimestamp(slots[0].start, ZoneInfo("Asia/Tokyo")).strftime("%H:%M")
        assert (rows["kosodate"]["free_slots_today"], rows["kosodate"]["next_free_slot"]) == (
            len(slots),
            first,
        )
        assert len(slots) > 1 and first >= "11:00"  # nothing inside the 60-minute lead time
        takes_none = [d for d in server.config.departments if d.remote and d.id not in service.departments]
        assert takes_none and rows[takes_none[0].id]["free_slots_today"] is None
        service.book(
            BookingRequest(
                department="kosodate", slot_start=slots[0].start, name="岩手 花子", contact="019-000-0000"
            ),
            actor="test",
        )
        _, after = await board(server)
        kosodate = next(d for d in after["departments"] if d["id"] == "kosodate")
        second = dt.datetime.fromtimestamp(slots[1].start, ZoneInfo("Asia/Tokyo")).strftime("%H:%M")
        assert (kosodate["free_slots_today"], kosodate["next_free_slot"]) == (len(slots) - 1, second)
        assert "花子" not in json.dumps(after, ensure_ascii=False)  # still no personal data
