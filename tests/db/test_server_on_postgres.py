"""The whole server on PostgreSQL: a server process started with a postgresql:// URL as server.database,
a kiosk's call answered by an officer with real media, the records read back from PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import socket
import sys
from pathlib import Path

import pytest

from config.loader import dump_config
from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController
from signaling_server.audit import AuditLog, verify_cli
from signaling_server.embedded import provision
from signaling_server.store import Store
from signaling_server.testing import test_config
from staff_console.controller import ConsoleController

PASSWORD = "postgres-test-pw"
TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def frames(session, count: int) -> None:
    start = session.remote_video.count
    arrived = asyncio.Event()
    session.remote_video.listeners.append(
        lambda _f: session.remote_video.count - start >= count and arrived.set()
    )
    await asyncio.wait_for(arrived.wait(), TIMEOUT)


@pytest.mark.slow
async def test_a_call_through_a_server_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    port = free_port()
    config = test_config(port=port, database=postgres_url)
    config_path = tmp_path / "city.toml"
    config_path.write_text(dump_config(config), encoding="utf-8")
    store = Store(postgres_url)
    fleet = provision(store, config, kiosk_ids=["kiosk-ueda"], officers=["hanako"], password=PASSWORD)
    store.close()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "signaling_server.cli", "--config", str(config_path), "--log-level", "WARNING",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert server.stdout is not None
    await asyncio.wait_for(server.stdout.readline(), TIMEOUT)  # the server announces its address when up
    url = f"ws://127.0.0.1:{port}/ws"
    kiosk = KioskController(
        url, "kiosk-ueda", fleet.kiosk_tokens["kiosk-ueda"], SimulatedMedia("ueda", 320, 240, 15, 440)
    )
    officer = ConsoleController(url, "hanako", PASSWORD, SimulatedMedia("hanako", 320, 240, 15, 660))
    try:
        await kiosk.start(timeout=TIMEOUT)
        await officer.start(timeout=TIMEOUT)
        ringing = asyncio.ensure_future(officer.events.wait("ring", TIMEOUT))
        await kiosk.request_call("kosodate")
        await ringing
        started = asyncio.ensure_future(officer.events.wait("call_started", TIMEOUT))
        await officer.accept()
        call_id = (await started)["call_id"]
        await frames(officer.party.session, 10)
        await frames(kiosk.party.session, 10)
        ended = asyncio.ensure_future(kiosk.events.wait("call_ended", TIMEOUT))
        await officer.end_call("resolved", "PostgreSQL 上の通話")
        assert (await ended)["reason"] == "completed"
    finally:
        for client in (kiosk, officer):
            await client.stop()
        server.terminate()
        await server.wait()

    store = Store(postgres_url)
    record = store.call(call_id)
    assert (record.state, record.end_reason, record.outcome, record.officer, record.kiosk_id) == (
        "ended", "completed", "resolved", "hanako", "kiosk-ueda",
    )  # fmt: skip
    assert record.answered_at and record.started_at and record.ended_at > record.started_at
    audit = AuditLog(store.db)
    assert audit.verify().ok and audit.entries(actor="hanako")  # the officer's sign-in, at least
    store.close()
    out = io.StringIO()
    assert verify_cli(postgres_url, out=out) == 0, out.getvalue()
    assert "chain intact" in out.getvalue()
