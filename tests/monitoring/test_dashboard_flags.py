"""The IT dashboard's badge counts the open alerts, kiosks that never connected are flagged, and a kiosk's
self-test (kiosk_client.remote_actions on simulated devices) shows as a checklist — the registry, the JSON
and the page in real headless Chromium."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from hardware.printer import SimulatedPrinter
from hardware.scanner import SimulatedScanner
from hardware.simulated import SimulatedMedia
from kiosk_client.media import KioskMedia
from kiosk_client.peripherals import Peripherals, PrinterAdapter, ScannerAdapter
from kiosk_client.remote_actions import RemoteActions
from remote_call import protocol as p
from remote_call.events import EventHub
from signaling_server.health import HealthRegistry, selftest_checks
from signaling_server.monitor import MONITOR
from signaling_server.testing import WireClient

from .conftest import IT_ADMIN, IT_PASSWORD, FakeClock, heartbeat
from .test_dashboard import ARGS, CHROMIUM, _flush, _keep

playwright_api = pytest.importorskip("playwright.async_api")


class UnpluggedCamera(SimulatedMedia):
    """The simulated media with the camera pulled out: opening it fails as a missing device does."""

    def camera_track(self):
        raise OSError("no video device")


def test_a_self_test_answer_becomes_a_checklist() -> None:
    detail = json.dumps(
        {"scanner": "ok (1240x1754)", "printer": "paper_near_end", "camera": "error", "microphone": "ok"}
    )
    assert selftest_checks(detail) == [
        {"device": "scanner", "status": "ok", "detail": "ok (1240x1754)"},
        {"device": "printer", "status": "warning", "detail": "paper_near_end"},
        {"device": "camera", "status": "error", "detail": "error"},
        {"device": "microphone", "status": "ok", "detail": "ok"},
    ]
    assert selftest_checks(json.dumps({"printer": "paper_out"}))[0]["status"] == "error"  # type: ignore[index]
    for not_a_checklist in ("カメラ・マイク正常", "[]", "{}", '{"camera": 1}'):
        assert selftest_checks(not_a_checklist) is None


def test_a_configured_kiosk_that_never_connected_is_flagged_until_it_does() -> None:
    registry = HealthRegistry(
        sqlite3.connect(":memory:"), kiosks=[("kiosk-a", "上田", ""), ("kiosk-b", "都南", "")]
    )
    assert [(k["id"], k["state"], k["never_connected"]) for k in registry.snapshot()] == [
        ("kiosk-a", "never", True),
        ("kiosk-b", "never", True),
    ]
    registry.client_attached("kiosk", "kiosk-a", 10.0)  # its socket is up, no heartbeat yet: not "never"
    assert registry.kiosks["kiosk-a"].to_json()["never_connected"] is False
    registry.client_detached("kiosk", "kiosk-a", 11.0)
    registry.heartbeat("kiosk-b", heartbeat(camera="ok"), 12.0)
    registry.client_detached("kiosk", "kiosk-b", 13.0)
    assert (
        registry.kiosks["kiosk-b"].to_json()["never_connected"] is False
    )  # seen once: offline later, not never
    # A restarted server still knows kiosk-b from the database; kiosk-a is still the one never heard from.
    again = HealthRegistry(registry.conn, kiosks=[("kiosk-a", "上田", ""), ("kiosk-b", "都南", "")], now=20.0)
    assert {k["id"]: k["never_connected"] for k in again.snapshot()} == {"kiosk-a": True, "kiosk-b": False}


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")
async def test_badge_never_connected_flag_and_self_test_checklist_in_chromium(monitored, tmp_path):
    clock = FakeClock()
    async with monitored(clock=clock, dashboard_flush_s=0.05) as server:
        monitor = server.app[MONITOR]
        tokens = server.fleet.kiosk_tokens
        ueda = await WireClient.kiosk(server.url, "kiosk-ueda", tokens["kiosk-ueda"])
        tonan = await WireClient.kiosk(server.url, "kiosk-tonan", tokens["kiosk-tonan"])
        # kiosk-tamayama never connects. Ueda's printer runs low and its camera is unplugged: two alerts.
        await ueda.send(
            heartbeat(printer=("degraded", "paper_near_end"), camera=("error", "camera unplugged"))
        )
        await tonan.send(heartbeat(printer="ok", camera="ok"))
        await _flush([ueda, tonan])
        assert len(monitor.alerts.open_alerts()) == 2
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900}, locale="ja-JP")
                await sign_in(page, server.http_url)
                assert await page.text_content("#alert-badge-count") == "2"
                assert await page.locator("#alerts li.alert").count() == 2
                assert (await page.title()).startswith("(2) ")

                never = page.locator("article[data-kiosk-id='kiosk-tamayama']")
                assert await never.get_attribute("data-state") == "never"
                assert "一度も接続していません" in (await never.locator(".flag").text_content() or "")
                assert await never.locator(".flag").is_visible()
                assert not await page.locator("article[data-kiosk-id='kiosk-tonan'] .flag").is_visible()
                await page.select_option("#filter", "problems")  # never-connected kiosks are problems
                assert await never.is_visible()
                assert not await page.locator("article[data-kiosk-id='kiosk-tonan']").is_visible()
                await page.select_option("#filter", "all")

                # The printer gets paper: one alert clears and the badge follows.
                await ueda.send(heartbeat(printer="ok", camera=("error", "camera unplugged")))
                await _flush([ueda])
                await page.wait_for_selector("#alert-badge[data-count='1']", timeout=10_000)
                assert len(monitor.alerts.open_alerts()) == 1

                # A self-test from the page: the kiosk's own RemoteActions answers on simulated devices.
                await page.click("article[data-kiosk-id='kiosk-ueda'] button[data-action='selftest']")
                action = await ueda.expect(p.RemoteAction)
                media = KioskMedia(UnpluggedCamera("kiosk", 320, 240, 15, 440.0))
                assert media.camera_track() is None and not media.camera_ok
                devices = Peripherals(
                    ScannerAdapter(SimulatedScanner(150)), PrinterAdapter(SimulatedPrinter(mode="near_end"))
                )
                actions = RemoteActions(
                    ueda.send,
                    EventHub(),
                    devices,
                    media,
                    busy=lambda: False,
                    reload_config=lambda: (True, ""),
                )
                await actions.handle(action)
                card = page.locator("article[data-kiosk-id='kiosk-ueda']")
                await card.locator(".selftest .check[data-device='camera'][data-status='error']").wait_for(
                    timeout=10_000
                )
                checks = await card.locator(".selftest .check").evaluate_all(
                    "cs => cs.map(c => [c.dataset.device, c.dataset.status])"
                )
                assert dict(checks) == {
                    "scanner": "ok",
                    "printer": "warning",
                    "camera": "error",
                    "microphone": "ok",
                }
                assert "不合格" in (await card.locator(".selftest-title").text_content() or "")
                assert await card.locator(".selftest .check-error .dev-name").text_content() == "カメラ"
                row = page.locator(f"#actions li[data-action-id='{action.action_id}']")
                await row.locator(".checklist .check").first.wait_for(timeout=10_000)  # its own event
                assert await row.locator(".checklist .check").count() == 4  # the action list too, no raw JSON
                assert "{" not in (await row.locator(".result").text_content() or "")
                kept = monitor.health.kiosks["kiosk-ueda"].to_json()["selftest"]
                assert kept["ok"] is False and [c["status"] for c in kept["checks"]].count("error") == 1
                shot = tmp_path / "dashboard-flags.png"
                await page.screenshot(path=str(shot), full_page=True)
                _keep(shot)
            finally:
                await browser.close()
        for client in (ueda, tonan):
            await client.close()


async def sign_in(page, base_url: str) -> None:
    await page.goto(base_url + "/it/")
    await page.fill("#username", IT_ADMIN)
    await page.fill("#password", IT_PASSWORD)
    await page.click("#login")
    await page.wait_for_selector("body[data-loaded='1']")
