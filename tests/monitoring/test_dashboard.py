"""The IT dashboard in real headless Chromium: login, a simulated fleet of 20 kiosks over the wire, live
updates when a kiosk goes offline, a remote action and its result, escaping of hostile names."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

import aiohttp
import pytest

from config.schema import Kiosk
from remote_call import protocol as p
from signaling_server.monitoring import MONITOR, setup_monitoring
from signaling_server.testing import WireClient, test_config

from .conftest import IT_ADMIN, IT_PASSWORD, FakeClock, add_kiosks, heartbeat

playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")

PLACES = [
    "上田",
    "都南",
    "玉山",
    "青山",
    "松園",
    "見前",
    "飯岡",
    "乙部",
    "中野",
    "太田",
    "厨川",
    "簗川",
    "本宮",
    "仙北",
    "河南",
    "大宮",
    "西青山",
    "渋民",
    "好摩",
]
HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1">公民館'


def fleet_config():
    kiosks = [
        Kiosk(id=f"kiosk-{i:02d}", name=f"{place}公民館", location=f"盛岡市{place}")
        for i, place in enumerate(PLACES, start=1)
    ]
    kiosks.append(Kiosk(id="kiosk-20", name=HOSTILE, location="<b>bold?</b>"))
    return test_config().model_copy(update={"kiosks": kiosks})


def devices_for(i: int) -> dict:
    """Varied device states across the fleet."""
    devices: dict = {"camera": "ok", "microphone": "ok", "speaker": "ok", "scanner": "ok", "printer": "ok"}
    if i % 7 == 3:
        devices["printer"] = ("degraded", "paper_near_end")
    if i % 9 == 4:
        devices["microphone"] = ("degraded", "echo cancellation unavailable")
    if i == 11:
        devices["camera"] = ("error", "camera unplugged")
    if i == 16:
        devices["printer"] = ("error", "paper_out")
    if i == 19:
        devices["scanner"] = "absent"
    return devices


async def test_dashboard_lists_the_fleet_updates_live_and_runs_actions(make_server, tmp_path):
    clock = FakeClock()
    server = make_server(fleet_config(), clock=clock)  # heartbeats are stamped with the same fake time
    setup_monitoring(server.app, clock=clock, overrides={"dashboard_flush_s": 0.05})
    from signaling_server.auth import hash_password

    server.store.add_officer(IT_ADMIN, "佐藤 情報", "it_admin", hash_password(IT_PASSWORD), {})
    tokens = add_kiosks(server, [f"kiosk-{i:02d}" for i in range(1, 21)])
    clients: dict[str, WireClient] = {}
    async with server:
        monitor = server.app[MONITOR]
        try:
            # 18 kiosks come online with varied devices and RTTs; two never connect.
            for i in range(1, 21):
                kiosk_id = f"kiosk-{i:02d}"
                if i in (8, 14):
                    continue
                clients[kiosk_id] = await WireClient.kiosk(server.url, kiosk_id, tokens[kiosk_id])
            for step in range(12):
                clock.advance(10)
                for kiosk_id, client in clients.items():
                    i = int(kiosk_id[-2:])
                    rtt = 6 + (i * 7 + step * 13) % 25 + (400 if i == 5 and step > 7 else 0)
                    beat = heartbeat(**devices_for(i)).model_copy(update={"rtt_ms": float(rtt)})
                    await client.send(beat)
            await _flush(clients.values())
            # Two kiosks are in calls: their sparklines follow the call statistics.
            for step in range(12):
                for kiosk_id, loss in (("kiosk-03", 0.2 * step), ("kiosk-12", 0.1)):
                    monitor.call_quality(
                        kiosk_id,
                        "kiosk",
                        p.CallQuality(
                            call_id=f"call-{kiosk_id}",
                            rtt_ms=20.0 + step,
                            loss_in_pct=loss,
                            loss_out_pct=0.0,
                            jitter_ms=4.0,
                            bitrate_in_kbps=900,
                            bitrate_out_kbps=850,
                            fps_in=15,
                            fps_out=15,
                        ),
                        clock(),
                    )
            async with playwright_api.async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                try:
                    page = await browser.new_page(viewport={"width": 1600, "height": 1250}, locale="ja-JP")
                    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
                    await page.goto(server.http_url + "/it/")
                    assert page.url.endswith("/it/login")  # not signed in
                    await page.fill("#username", IT_ADMIN)
                    await page.fill("#password", "wrong password")
                    await page.click("#login")
                    await page.wait_for_selector("#error:not([hidden])")
                    await page.fill("#username", IT_ADMIN)
                    await page.fill("#password", IT_PASSWORD)
                    await page.click("#login")
                    await page.wait_for_selector("body[data-loaded='1']")
                    assert page.url == server.http_url + "/it/"  # no token in the URL
                    cookie = next(c for c in await page.context.cookies() if c["name"] == "madoguchi_it")
                    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

                    cards = page.locator("article.kiosk")
                    assert await cards.count() == 20
                    states = await page.eval_on_selector_all(
                        "article.kiosk", "cs => cs.map(c => [c.dataset.kioskId, c.dataset.state])"
                    )
                    by_id = dict(states)
                    assert by_id["kiosk-11"] == "error" and by_id["kiosk-16"] == "error"
                    assert by_id["kiosk-03"] == "degraded" and by_id["kiosk-01"] == "online"
                    assert by_id["kiosk-08"] == "never"
                    assert [s for _, s in states][:2] == ["error", "error"]  # problems first
                    hostile = page.locator("article[data-kiosk-id='kiosk-20'] .name")
                    assert await hostile.text_content() == HOSTILE  # shown as text
                    assert await page.locator("article.kiosk img").count() == 0
                    assert await page.evaluate("document.body.dataset.pwned") is None
                    assert (
                        await page.locator("#alerts li.alert").count()
                        == len(monitor.alerts.open_alerts())
                        >= 4
                    )
                    assert (
                        await page.locator("article[data-kiosk-id='kiosk-05'] .rtt-spark .line.bad").count()
                        == 1
                    )
                    await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
                    _keep(tmp_path / "dashboard.png")

                    # A kiosk stops: its heartbeats are missed and the open page turns it grey and alerts.
                    await clients.pop("kiosk-07").close()
                    clock.advance(10)
                    for kiosk_id, client in clients.items():
                        await client.send(heartbeat(**devices_for(int(kiosk_id[-2:]))))
                    await _flush(clients.values())
                    clock.advance(26)
                    assert monitor.check() == ["kiosk-07"]
                    await page.wait_for_selector(
                        "article[data-kiosk-id='kiosk-07'][data-state='offline']", timeout=10_000
                    )
                    await page.wait_for_selector("#alerts li[data-kind='kiosk_offline']", timeout=10_000)
                    assert await page.locator("#count-offline").text_content() == "1"

                    # A remote self-test: the kiosk gets it, answers, and the page shows it.
                    await page.click("article[data-kiosk-id='kiosk-02'] button[data-action='selftest']")
                    action = await clients["kiosk-02"].expect(p.RemoteAction)
                    assert action.action == "selftest"
                    await clients["kiosk-02"].send(
                        p.ActionResult(
                            action_id=action.action_id, ok=True, detail="カメラ・マイク・プリンタ正常"
                        )
                    )
                    # The result's class and text may be drawn in separate updates: wait for both.
                    await page.locator(
                        f"#actions li[data-action-id='{action.action_id}'] .result.ok", has_text="正常"
                    ).wait_for(timeout=10_000)
                    audit = [
                        (e.actor, e.action, e.target, e.details.get("phase"))
                        for e in server.switchboard.audit.entries()
                        if e.action == "remote_action"
                    ]
                    assert audit == [
                        (IT_ADMIN, "remote_action", "kiosk-02", "sent"),
                        ("kiosk-02", "remote_action", "kiosk-02", "result"),
                    ]
                    # A kiosk that is not connected cannot be sent anything; its buttons are disabled.
                    assert await page.locator(
                        "article[data-kiosk-id='kiosk-07'] button[data-action='restart']"
                    ).is_disabled()
                    await page.screenshot(path=str(tmp_path / "dashboard-offline.png"), full_page=True)
                    _keep(tmp_path / "dashboard-offline.png")
                finally:
                    await browser.close()
        finally:
            for client in clients.values():
                await client.close()


async def test_it_pages_and_apis_refuse_anyone_but_an_it_admin(monitored):
    async with (
        monitored() as server,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        base = server.http_url
        async with http.get(base + "/it/api/fleet") as r:
            assert r.status == 401
        async with http.get(base + "/it/", allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/it/login"
        # An officer's valid password is not an IT login.
        async with http.post(
            base + "/it/login",
            data={"username": "hanako", "password": "correct horse battery"},
            allow_redirects=False,
        ) as r:
            assert r.status == 303 and "error" in r.headers["Location"]
        # A cross-site form post is refused.
        async with http.post(
            base + "/it/login",
            data={"username": IT_ADMIN, "password": IT_PASSWORD},
            headers={"Origin": "https://evil.example"},
            allow_redirects=False,
        ) as r:
            assert r.status == 403
        async with http.post(
            base + "/it/login", data={"username": IT_ADMIN, "password": IT_PASSWORD}, allow_redirects=False
        ) as r:
            assert r.status == 303 and r.headers["Location"] == "/it/"
            set_cookie = r.headers["Set-Cookie"]
            assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
        async with http.get(base + "/it/api/fleet") as r:
            assert r.status == 200 and (await r.json())["user"] == IT_ADMIN
        async with http.post(base + "/it/api/kiosks/kiosk-ueda/actions", json={"action": "format_disk"}) as r:
            assert r.status == 400 and "selftest" in (await r.json())["error"]
        async with http.post(base + "/it/api/kiosks/kiosk-ueda/actions", json={"action": "restart"}) as r:
            assert r.status == 409  # known kiosk, not connected
        async with http.post(base + "/it/api/kiosks/nope/actions", json={"action": "restart"}) as r:
            assert r.status == 404
        async with http.post(
            base + "/it/api/kiosks/kiosk-ueda/actions",
            json={"action": "restart"},
            headers={"Origin": "https://evil.example"},
        ) as r:
            assert r.status == 403
        async with http.get(base + "/it/api/kiosks/kiosk-ueda/history?days=7") as r:
            assert r.status == 200 and set(await r.json()) == {"kiosk_id", "history", "events"}
        for bad in ("abc", "0", "31"):
            async with http.get(base + f"/it/api/kiosks/kiosk-ueda/history?days={bad}") as r:
                assert r.status == 400 and "days" in (await r.json())["error"]
        async with http.get(base + "/it/api/calls/none/quality") as r:
            assert r.status == 404
        async with http.post(base + "/it/logout", allow_redirects=False) as r:
            assert r.status == 303
        async with http.get(base + "/it/api/fleet") as r:
            assert r.status == 401  # the session is gone, not just the cookie


async def _flush(clients) -> None:
    """Every client's earlier messages are handled once its ping is answered."""
    nonce = int(time.monotonic() * 1e6)
    for client in clients:
        await client.send(p.Ping(nonce=nonce))
    for client in clients:
        await client.expect(p.Pong, nonce=nonce)


def _keep(path: Path) -> None:
    """Copy a screenshot where a person can look at it (MADOGUCHI_SCREENSHOTS, if set)."""
    target = os.environ.get("MADOGUCHI_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)
