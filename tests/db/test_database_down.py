"""PostgreSQL going away under a running server: the degraded mode (signaling_server/database_watch.py).

A throw-away cluster of this module's own (devtools/postgres_engine.py), so that stopping it disturbs no
other test. The server runs in this process with real kiosks and a real console (real aiortc media):

- ``pg_ctl stop -m fast`` during a call while a resident waits: the alert ``database`` is raised, /healthz
  answers 503 ``"database": "down"``, /metrics shows ``madoguchi_database_up 0``; a sign-in and a new call
  are refused with an error naming the database; the call goes on (frames keep arriving) and ends with
  its outcome; after the restart every write kept in memory is in the database (the call's record with
  its outcome, the waiting resident's, the queue, the audit chain), the alert is cleared and written, and
  sign-ins work again (a kiosk refused during the outage gets in by itself);
- the server's backend terminated (``pg_terminate_backend``) while a resident waits: the server connects
  again by itself, the resident's cancel made meanwhile is in the database, the alert raised and cleared.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import psycopg
import pytest

from devtools.postgres_engine import PostgresCluster, missing_reason, running_cluster
from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from remote_call import protocol as p
from signaling_server.alerts import Alert
from signaling_server.audit import AuditLog
from signaling_server.database_watch import ALERT_KIND
from signaling_server.db import DatabaseUnavailable
from signaling_server.db.pending import PendingWrites
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.monitor import MONITOR
from signaling_server.store import Store
from signaling_server.testing import test_config
from staff_console.controller import ConsoleController

PASSWORD = "database-down-pw"
TIMEOUT = 30.0
FAST = {"backoff_initial_s": 0.2, "backoff_max_s": 1.0}
KIOSKS = ["kiosk-ueda", "kiosk-tonan", "kiosk-tamayama", "kiosk-late"]


def test_pending_writes_keep_order_and_the_last_of_a_key() -> None:
    written: list[str] = []
    pending = PendingWrites()
    for key, text in (
        ("call:1", "1a"),
        ("queue", "q1"),
        (None, "audit 1"),
        ("call:1", "1b"),
        ("queue", "q2"),
    ):
        pending.add(key, lambda text=text: written.append(text))
    pending.add(None, lambda: written.append("audit 2"))
    assert len(pending) == 4  # call:1 and queue once each (their last), both audit entries
    assert pending.flush(DatabaseUnavailable, lambda key, exc: None) == 4
    assert written == ["audit 1", "1b", "q2", "audit 2"] and len(pending) == 0


def test_pending_writes_stop_when_the_database_goes_again_and_report_a_refused_one() -> None:
    written: list[str] = []
    refused: list[tuple[str | None, str]] = []
    pending = PendingWrites()
    gone = True

    def flaky() -> None:
        if gone:
            raise DatabaseUnavailable("down again")
        written.append("flaky")

    def bad() -> None:
        raise ValueError("a refused row")

    pending.add("bad", bad)
    pending.add("flaky", flaky)
    pending.add("after", lambda: written.append("after"))
    with pytest.raises(DatabaseUnavailable):
        pending.flush(DatabaseUnavailable, lambda key, exc: refused.append((key, str(exc))))
    assert refused == [("bad", "a refused row")] and written == [] and len(pending) == 2
    gone = False
    assert pending.flush(DatabaseUnavailable, lambda key, exc: refused.append((key, str(exc)))) == 2
    assert written == ["flaky", "after"] and pending.written == 2


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PostgresCluster]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
async def server(own_cluster: PostgresCluster) -> AsyncIterator[EmbeddedServer]:
    url = own_cluster.create_database()
    config = test_config(database=url)
    srv = EmbeddedServer(config, url)
    srv.fleet = provision(srv.store, config, kiosk_ids=KIOSKS, officers=["hanako"], password=PASSWORD)
    try:
        async with srv:
            yield srv
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # running again, whatever the test did
            own_cluster.start_server()
        own_cluster.drop_database(url)


class Alerts:
    """The server's alert events, awaited (no polling)."""

    def __init__(self, srv: EmbeddedServer) -> None:
        self.manager = srv.app[MONITOR].alerts
        self.seen: dict[str, asyncio.Event] = {"raised": asyncio.Event(), "cleared": asyncio.Event()}
        self.alert: Alert | None = None
        self.manager.observers.append(self._on_alert)

    def _on_alert(self, event: str, alert: Alert) -> None:
        if alert.kind == ALERT_KIND:
            self.alert = alert
            self.seen[event].set()

    async def wait(self, event: str) -> Alert:
        await asyncio.wait_for(self.seen[event].wait(), TIMEOUT)
        assert self.alert is not None
        return self.alert


def errors_of(client: KioskController | ConsoleController) -> list[dict[str, Any]]:
    """Every ``error`` the server sends this client from now on."""
    seen: list[dict[str, Any]] = []
    client.events.subscribe(lambda event, data: seen.append(data) if event == "error" else None)
    return seen


def kiosk(srv: EmbeddedServer, kiosk_id: str) -> KioskController:
    media = SimulatedMedia(kiosk_id, 320, 240, 15, 440)
    return KioskController(srv.url, kiosk_id, srv.fleet.kiosk_tokens[kiosk_id], media, **FAST)


async def more_frames(session: Any, count: int) -> None:
    start = session.remote_video.count
    arrived = asyncio.Event()
    session.remote_video.listeners.append(
        lambda _f: session.remote_video.count - start >= count and arrived.set()
    )
    await asyncio.wait_for(arrived.wait(), TIMEOUT)


async def hello(srv: EmbeddedServer, kiosk_id: str) -> dict[str, Any]:
    """A kiosk's sign-in on a new connection: the server's first answer."""
    credentials = p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=srv.fleet.kiosk_tokens[kiosk_id])
    message = p.Hello(v=p.PROTOCOL_VERSION, role=p.Role.KIOSK, credentials=credentials, app_version="test")
    async with aiohttp.ClientSession() as session, session.ws_connect(srv.url) as ws:
        await ws.send_str(p.encode(message))
        answer = await ws.receive(timeout=TIMEOUT)
        return dict(json.loads(answer.data))


async def health(srv: EmbeddedServer) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"{srv.http_url}/healthz") as response:
        return response.status, await response.json()


def gauge(srv: EmbeddedServer, name: str) -> float:
    for line in srv.app[MONITOR].metrics.render().decode().splitlines():
        if line.startswith(f'{name}{{node="server"}}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} is not on /metrics")


@pytest.mark.slow
async def test_postgresql_stopped_during_a_call_while_a_resident_waits(
    server: EmbeddedServer, own_cluster: PostgresCluster
) -> None:
    alerts = Alerts(server)
    talking, waiting, idle, late = (kiosk(server, k) for k in KIOSKS)
    officer = ConsoleController(
        server.url, "hanako", PASSWORD, SimulatedMedia("hanako", 320, 240, 15, 660), **FAST
    )
    try:
        for client in (talking, waiting, idle, officer):
            await client.start(timeout=TIMEOUT)
        ringing = asyncio.ensure_future(officer.events.wait("ring", TIMEOUT))
        await talking.request_call("kosodate")
        await ringing
        started = asyncio.ensure_future(officer.events.wait("call_started", TIMEOUT))
        await officer.accept()
        call_id = (await started)["call_id"]
        await more_frames(officer.party.session, 5)
        queued = asyncio.ensure_future(waiting.events.wait("queue", TIMEOUT))
        await waiting.request_call("kosodate")
        await queued
        waiting_call = waiting.resident.call_id
        assert (await health(server))[1]["database"] == "up" and gauge(server, "madoguchi_database_up") == 1

        unexpected = [errors_of(c) for c in (talking, waiting, officer)]
        own_cluster.stop_server("fast")
        alert = await alerts.wait("raised")
        assert alert.severity == "critical" and alert.subject == "server" and "PostgreSQL" in alert.message_en
        assert alert.id < 0  # provisional: its row is written when the database returns
        status, body = await health(server)
        assert (status, body["status"], body["database"]) == (503, "degraded", "down")
        assert gauge(server, "madoguchi_database_up") == 0

        refused = await hello(server, "kiosk-ueda")  # a sign-in needs the kiosk's token from the database
        assert (refused["type"], refused["code"], refused["about"]) == ("error", "internal", "hello")
        assert "unreachable" in refused["detail"] and "PostgreSQL" in refused["detail"]
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{server.http_url}/it/login",
                data={"username": "hanako", "password": PASSWORD},
                allow_redirects=False,
            ) as response,
        ):  # REST that needs a record: 503 with the reason (database_watch.database_unavailable)
            assert response.status == 503 and "unreachable" in (await response.json())["error"]
        error = asyncio.ensure_future(idle.events.wait("error", TIMEOUT))
        await idle.request_call("kosodate")  # a new call: refused, named
        assert (await error)["code"] == "internal" and "no new call can start now" in (await error)["detail"]

        late_start = asyncio.ensure_future(late.start(timeout=TIMEOUT))  # refused: retries with backoff
        await more_frames(officer.party.session, 15)  # the call goes on: media is peer to peer
        await more_frames(talking.party.session, 15)
        ended = asyncio.ensure_future(talking.events.wait("call_ended", TIMEOUT))
        await officer.end_call("resolved", "データベース停止中に終了")
        assert (await ended)["reason"] == "completed"
        assert gauge(server, "madoguchi_database_pending_writes") >= 2  # the record, the queue, audit
        assert unexpected == [[], [], []]  # the call and the wait went on without a refusal

        own_cluster.start_server()
        cleared = await alerts.wait("cleared")
        assert cleared.cleared_at is not None
        status, body = await health(server)
        assert (status, body["database"]) == (200, "up")
        assert gauge(server, "madoguchi_database_up") == 1
        assert gauge(server, "madoguchi_database_pending_writes") == 0
        assert (await hello(server, "kiosk-tamayama"))["type"] == "welcome"
        await late_start  # the kiosk refused during the outage got in by itself once it was over
        assert late.online
    finally:
        for client in (talking, waiting, idle, late, officer):
            await client.stop()

    store = Store(server.config.server.database)
    try:
        record = store.call(call_id)
        assert record is not None
        assert (record.state, record.end_reason, record.outcome, record.notes) == (
            "ended",
            "completed",
            "resolved",
            "データベース停止中に終了",
        )
        waited = store.call(waiting_call or "")
        assert waited is not None and waited.state in ("queued", "ringing")
        saved = store.load_queue()
        assert saved is not None and waiting_call in json.dumps(saved)
        rows = store.conn.fetchall(
            "SELECT raised_at, cleared_at FROM monitoring_alerts WHERE kind = ?", (ALERT_KIND,)
        )
        assert len(rows) == 1 and rows[0][1] is not None and rows[0][1] >= rows[0][0]
        audit = AuditLog(store.conn)
        assert audit.verify().ok
        ended_entries = store.conn.fetchall("SELECT action FROM audit_log WHERE target = ?", (call_id,))
        assert ended_entries, "the call's audit entries made while the database was down are in the chain"
    finally:
        store.close()


@pytest.mark.slow
async def test_backend_terminated_while_a_resident_waits(
    server: EmbeddedServer, own_cluster: PostgresCluster
) -> None:
    alerts = Alerts(server)
    waiting = kiosk(server, "kiosk-tonan")
    try:
        await waiting.start(timeout=TIMEOUT)
        queued = asyncio.ensure_future(waiting.events.wait("queue", TIMEOUT))
        await waiting.request_call("kosodate")  # nobody serves: the resident waits
        await queued
        call_id = waiting.resident.call_id
        unexpected = errors_of(waiting)
        name = server.config.server.database.split("@/", 1)[1].split("?", 1)[0]
        with psycopg.connect(own_cluster.url(), autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s", (name,)
            ).fetchone()
        assert killed is not None and killed[0] >= 1
        ended = asyncio.ensure_future(waiting.events.wait("call_ended", TIMEOUT))
        await waiting.cancel()  # its record is written at once, or kept until the connection is back
        await ended
        await alerts.wait("raised")
        await alerts.wait("cleared")  # the server was never down: connected again at the first attempt
        assert (await health(server))[1]["database"] == "up"
        record = server.store.call(call_id or "")
        assert record is not None and (record.state, record.end_reason) == ("ended", "cancelled")
        assert unexpected == []  # the cancel was taken, its record written when the connection was back
    finally:
        await waiting.stop()
