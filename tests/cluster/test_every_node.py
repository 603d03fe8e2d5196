"""Every node visible: a follower's REST serves the leader's live view (health counts, departments, wait
board, statistics, /metrics), the IT dashboard on any node lists every node and the leader's kiosks, and
what acts on connections (a remote kiosk action, a sign-out) reaches the leader from a follower.

Two nodes in one process on a real redis-server and one database, as in test_two_nodes.py; each node's
sharing beat is also run by hand (``Sharing.tick``) so that a change is seen at once rather than waited for.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from remote_call import protocol as p
from signaling_server.access import SESSION_COOKIE
from signaling_server.auth import hash_password
from signaling_server.cluster import sharing as sharing_module
from signaling_server.cluster.commands import DESK, NoLeader
from signaling_server.cluster.node import CLUSTER
from signaling_server.cluster.sharing import SHARING
from signaling_server.cluster.views import LEADER_VIEW, LeaderView, watches_kiosks
from signaling_server.embedded import EmbeddedServer
from signaling_server.health import KioskHealth
from signaling_server.store import Store
from signaling_server.testing import WireClient
from tests.cluster.nodes import PASSWORD, node_config, provision_fleet

IT_ADMIN = "it-sato"


def add_it_admin(database: Path) -> None:
    store = Store(database)
    try:
        store.add_officer(IT_ADMIN, "佐藤 情報", "it_admin", hash_password(PASSWORD), {})
    finally:
        store.close()


async def share(*servers: EmbeddedServer) -> None:
    """One heartbeat and one sharing beat of each node, in order: the leader's figures and snapshot are
    written before the followers read them."""
    for server in servers:
        await server.app[CLUSTER]._beat()
    for server in servers:
        await server.app[SHARING].tick(statistics=True)


async def sign_in(http: aiohttp.ClientSession, server: EmbeddedServer) -> str:
    """The IT administrator's session on ``server`` (its cookie, also a bearer token for /api/stats)."""
    async with http.post(
        server.http_url + "/it/login",
        data={"username": IT_ADMIN, "password": PASSWORD},
        allow_redirects=False,
    ) as response:
        assert response.status == 303 and response.headers["Location"] == "/it/"
        return response.cookies[SESSION_COOKIE].value


async def get_json(http: aiohttp.ClientSession, url: str, token: str | None = None) -> dict | list:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(url, headers=headers) as response:
        assert response.status == 200, (url, response.status, await response.text())
        return await response.json()


def kosodate(departments: list) -> dict:
    return next(d for d in departments if d["id"] == "kosodate")


async def test_a_follower_serves_the_leaders_queue(redis_server, tmp_path: Path):
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], [])
    add_it_admin(database)
    async with (
        EmbeddedServer(config_a, database) as a,
        EmbeddedServer(config_b, database) as b,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        assert a.app[CLUSTER].leading and not b.app[CLUSTER].leading
        resident = await WireClient.kiosk(
            a.url, "kiosk-ueda", fleet.kiosk_tokens["kiosk-ueda"]
        )  # on the leader
        try:
            await resident.send(p.RequestCall(department="kosodate"))
            queued = await resident.expect(p.Queued, timeout=10)
            assert queued.position == 1
            assert not b.switchboard.kiosks  # the follower's own switchboard knows nobody
            await share(a, b)
            health = await get_json(http, b.http_url + "/healthz")
            assert isinstance(health, dict)
            assert (health["kiosks"], health["calls"]) == (1, 1)
            assert health["leader_view"]["node"] == "node-a" and health["leader_view"]["age_s"] >= 0
            assert "leader_view" not in await get_json(http, a.http_url + "/healthz")
            departments = await get_json(http, b.http_url + "/api/departments")
            assert kosodate(departments)["waiting"] == 1  # type: ignore[arg-type]
            board = await get_json(http, b.http_url + "/api/board")
            assert kosodate(board["departments"])["waiting"] == 1  # type: ignore[call-overload]
            token = await sign_in(http, b)
            stats = await get_json(http, b.http_url + "/api/stats", token)
            assert stats["departments"]["kosodate"]["waiting"] == 1  # type: ignore[call-overload]
            async with http.get(b.http_url + "/metrics") as response:
                text = await response.text()
            assert 'madoguchi_queue_waiting{department="kosodate"} 1.0' in text  # the leader's view
            assert 'madoguchi_connections{role="kiosk"} 1.0' in text
            assert 'madoguchi_cluster_node_rss_bytes{node="node-b"}' in text  # its own figures
            assert 'madoguchi_cluster_nodes_alive{node="node-b"} 2.0' in text
            await resident.send(p.CancelCall(call_id=queued.call_id))
            await resident.expect(p.CallEnded, timeout=10)
            await share(a, b)
            assert kosodate(await get_json(http, b.http_url + "/api/departments"))["waiting"] == 0  # type: ignore[arg-type]
        finally:
            await resident.close()


async def test_the_it_dashboard_on_a_follower_lists_every_node_and_acts_on_the_leaders_kiosk(
    redis_server, tmp_path: Path
):
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], [])
    add_it_admin(database)
    async with (
        EmbeddedServer(config_a, database) as a,
        EmbeddedServer(config_b, database) as b,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        resident = await WireClient.kiosk(a.url, "kiosk-ueda", fleet.kiosk_tokens["kiosk-ueda"])
        try:
            await share(a, b)
            await sign_in(http, b)
            data = await get_json(http, b.http_url + "/it/api/fleet")
            assert isinstance(data, dict)
            nodes = {n["node"]: n for n in data["nodes"]}
            assert set(nodes) == {"node-a", "node-b"}
            assert nodes["node-a"]["leader"] is True and nodes["node-b"]["leader"] is False
            assert nodes["node-b"]["leader_node"] == "node-a"
            for figures in nodes.values():
                assert figures["rss_bytes"] > 10_000_000 and figures["draining"] is False
                assert figures["version"] and figures["redis"] == "up"
            assert nodes["node-a"]["connections"] == {"local": 1, "relayed": 0}
            ueda = next(k for k in data["kiosks"] if k["id"] == "kiosk-ueda")
            assert ueda["connected"] is True  # the leader's registry: the follower's own never saw it
            b_monitor = b.app[SHARING].monitor
            assert b_monitor is not None and not b_monitor.health.kiosks["kiosk-ueda"].connected
            stored = b_monitor.health.kiosks["kiosk-ueda"]
            stored.online, stored.watch_from = True, 0.0  # as the picture a node loads at its start
            assert b_monitor.check(time.time() + 86_400) == []  # a follower hears no heartbeats: no alarm
            assert stored.online and not b_monitor.alerts.open_alerts()

            async with http.post(
                b.http_url + "/it/api/kiosks/kiosk-ueda/actions", json={"action": "selftest"}
            ) as response:
                assert response.status == 202, await response.text()
                record = await response.json()
            assert record["kiosk_id"] == "kiosk-ueda" and record["actor"] == IT_ADMIN
            action = await resident.expect(p.RemoteAction, timeout=10)  # through the leader's switchboard
            assert (action.action_id, action.action) == (record["id"], "selftest")
            assert record["id"] in a.app[SHARING].monitor.actions  # type: ignore[union-attr]
            await share(a, b)
            data = await get_json(http, b.http_url + "/it/api/fleet")
            assert [x["id"] for x in data["actions"]] == [record["id"]]  # type: ignore[call-overload]
        finally:
            await resident.close()


async def next_event(stream: aiohttp.ClientResponse) -> tuple[str, object]:
    """The next server-sent event of the IT dashboard's stream: (event, data)."""
    event = data = ""
    while True:
        line = (await stream.content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif not line and event:
            return event, json.loads(data)


async def test_the_live_dashboard_on_a_follower_hears_the_leaders_kiosks(redis_server, tmp_path: Path):
    """The IT dashboard's event stream on a follower: a heartbeat the leader hears reaches it as the
    ``kiosks`` event, and the nodes as ``nodes``."""
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], [])
    add_it_admin(database)
    async with (
        EmbeddedServer(config_a, database) as a,
        EmbeddedServer(config_b, database) as b,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        resident = await WireClient.kiosk(a.url, "kiosk-ueda", fleet.kiosk_tokens["kiosk-ueda"])
        try:
            await share(a, b)
            await sign_in(http, b)
            async with http.get(b.http_url + "/it/api/events") as stream:
                assert (await asyncio.wait_for(next_event(stream), 10))[0] == "fleet"
                beat = p.Heartbeat(
                    app_version="9.9.9", uptime_s=60, cpu_percent=5, memory_percent=30, disk_percent=40
                )
                await resident.send(beat)
                seen: dict[str, object] = {}

                async def until_the_kiosk_and_the_nodes() -> None:
                    while "kiosks" not in seen or "nodes" not in seen:
                        event, data = await next_event(stream)
                        if event == "kiosks" and any(
                            k["id"] == "kiosk-ueda" and k["app_version"] == "9.9.9"
                            for k in data  # type: ignore[attr-defined]
                        ):
                            seen["kiosks"] = data
                        elif event == "nodes":
                            seen["nodes"] = data

                await asyncio.wait_for(until_the_kiosk_and_the_nodes(), 15)  # the beats run every second
            assert {n["node"] for n in seen["nodes"]} == {"node-a", "node-b"}  # type: ignore[attr-defined]
        finally:
            await resident.close()


async def test_a_sign_out_on_a_follower_closes_the_session_at_once_and_a_lost_leader_is_named(
    redis_server, tmp_path: Path
):
    """The console's sign-out sent to a follower ends its connection through the leader now; with the
    leader gone and not yet replaced, a command is refused with an error naming it."""
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    provision_fleet(config_a, [], ["hanako"])
    async with (
        EmbeddedServer(config_a, database) as a,
        EmbeddedServer(config_b, database) as b,
        aiohttp.ClientSession() as http,
    ):
        staff = await WireClient.officer(b.url, "hanako", PASSWORD)  # relayed to the leader
        try:
            welcome = next(m for m in staff.seen if isinstance(m, p.Welcome))
            async with http.delete(
                b.http_url + "/api/sessions/current",
                headers={"Authorization": f"Bearer {welcome.session_token}"},
            ) as response:
                assert response.status == 204
            assert await staff.closed(timeout=5) is not None  # at once, not at the next revocation check
        finally:
            await staff.close()
        desk = b.app[DESK]
        leader = a.app[CLUSTER]
        leader.desk = None  # as if the leader stopped deciding without telling anyone yet
        desk.timeout_s = 0.5
        try:
            await asyncio.wait_for(desk.run("end_session", {"token": "x"}), 10)
        except NoLeader as exc:
            assert "node-a" in str(exc)
        else:
            raise AssertionError("a command nobody ran was answered")


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")
async def test_the_dashboard_page_on_a_follower_shows_both_nodes_in_chromium(redis_server, tmp_path: Path):
    playwright_api = pytest.importorskip("playwright.async_api")
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    config_b = node_config(redis_server.url, "node-b", database)
    fleet = provision_fleet(config_a, ["kiosk-ueda"], [])
    add_it_admin(database)
    async with EmbeddedServer(config_a, database) as a, EmbeddedServer(config_b, database) as b:
        resident = await WireClient.kiosk(b.url, "kiosk-ueda", fleet.kiosk_tokens["kiosk-ueda"])  # relayed
        try:
            await share(a, b)
            async with playwright_api.async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
                try:
                    page = await browser.new_page(viewport={"width": 1400, "height": 900}, locale="ja-JP")
                    await page.goto(b.http_url + "/it/login")
                    await page.fill("#username", IT_ADMIN)
                    await page.fill("#password", PASSWORD)
                    await page.click("#login")
                    await page.wait_for_selector('body[data-loaded="1"]')
                    await page.wait_for_selector('#nodes li[data-node="node-b"]')
                    leader = page.locator('#nodes li[data-node="node-a"]')
                    assert "リーダー" in await leader.inner_text()
                    follower = await page.locator('#nodes li[data-node="node-b"]').inner_text()
                    assert "フォロワー" in follower and "中継 1" in follower  # the kiosk's connection
                    assert await page.locator("#nodes li").count() == 2
                    await page.screenshot(path=str(tmp_path / "dashboard-follower.png"))
                finally:
                    await browser.close()
        finally:
            await resident.close()


def test_a_node_taking_the_lead_watches_its_kiosks_afresh():
    """A follower does not look for kiosks gone offline; when it takes the lead, their silence counts from
    then (its registry heard no heartbeat while it followed), not from when the node started."""
    app = web.Application()
    following = [True]
    app[LEADER_VIEW] = LeaderView(following=lambda: following[0], epoch=lambda: 1)
    kiosks = [KioskHealth("kiosk-ueda", online=True, watch_from=100.0), KioskHealth("kiosk-never")]
    assert watches_kiosks(app, kiosks, now=5_000.0) is False
    following[0] = False
    assert watches_kiosks(app, kiosks, now=6_000.0) is True
    assert (kiosks[0].watch_from, kiosks[1].watch_from) == (6_000.0, None)
    kiosks[0].watch_from = 6_500.0  # a heartbeat since
    assert watches_kiosks(app, kiosks, now=7_000.0) is True and kiosks[0].watch_from == 6_500.0
    assert watches_kiosks(web.Application(), kiosks, now=8_000.0) is True  # a single node always watches


async def test_a_new_term_writes_its_whole_fleet_after_the_herd_not_among_it(
    redis_server, tmp_path: Path, monkeypatch
):
    """A new leader writes every kiosk it knows to the shared hash ``FLEET_FULL_AFTER_S`` into its term,
    not at its first beat, when the dead node's clients are coming back (20,000 kiosks: ~1 s of CPU)."""
    database = tmp_path / "madoguchi.sqlite3"
    config_a = node_config(redis_server.url, "node-a", database)
    provision_fleet(config_a, ["kiosk-ueda"], [])
    async with EmbeddedServer(config_a, database) as a:
        sharing, redis = a.app[SHARING], a.app[CLUSTER].redis
        assert sharing.monitor is not None
        known = {kiosk_id.encode() for kiosk_id in sharing.monitor.health.kiosks}
        assert b"kiosk-ueda" in known and len(known) > 1
        await share(a)
        assert await redis.hkeys(sharing.fleet_key) == []  # nothing changed yet, the whole comes later

        class Later:
            """The sharing module's clock, ``FLEET_FULL_AFTER_S`` on."""

            def __getattr__(self, name: str) -> object:
                return getattr(time, name)

            @staticmethod
            def monotonic() -> float:
                return time.monotonic() + sharing_module.FLEET_FULL_AFTER_S

        monkeypatch.setattr(sharing_module, "time", Later())
        await share(a)
        assert set(await redis.hkeys(sharing.fleet_key)) == known
