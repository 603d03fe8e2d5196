"""Two node processes on one Redis and one database; the leader is killed with SIGKILL. The follower takes
the lease and restores the switchboard from the store: the waiting resident keeps their place, the call in
progress goes on (media peer to peer throughout) and ends normally; the dead node's officer moves over.
The follower's own clients keep their connections: it moves them to the new term (``Gateway.repoint``)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from config.loader import dump_config
from kiosk_client.controller import KioskState
from signaling_server.cluster.node import CLUSTER
from signaling_server.embedded import EmbeddedServer
from signaling_server.store import Store
from signaling_server.testing import WireClient
from tests.cluster.nodes import TIMEOUT, free_port, kiosk, more_frames, node_config, officer, provision_fleet


async def start_node(config_path: Path, node: str, port: int) -> asyncio.subprocess.Process:
    """A node process of the shared configuration, once it serves (its "Running on" line)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signaling_server.cli",
        "--config",
        str(config_path),
        "--node-id",
        node,
        "--port",
        str(port),
        "--log-level",
        os.environ.get("H6_NODE_LOG", "WARNING"),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
        if not line:
            raise RuntimeError(f"node {node} exited before serving (status {await process.wait()})")
        if b"Running on" in line:
            return process


async def health(port: int) -> dict:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return json.loads(await response.text())


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        await asyncio.wait_for(process.wait(), TIMEOUT)


@pytest.mark.slow
async def test_kill_9_of_the_leader_loses_nobody(redis_server, tmp_path: Path):
    database = tmp_path / "madoguchi.sqlite3"
    ports = {"node-a": free_port(), "node-b": free_port()}
    config = node_config(redis_server.url, "node-a", database)
    config_path = tmp_path / "city.toml"  # one file for both: --node-id and --port tell them apart
    config_path.write_text(dump_config(config), "utf-8")
    fleet = provision_fleet(config, ["kiosk-ueda", "kiosk-tonan"], ["hanako"])
    url = {node: f"ws://127.0.0.1:{port}/ws" for node, port in ports.items()}
    processes: list[asyncio.subprocess.Process] = []
    talking = kiosk(url["node-b"], "kiosk-ueda", fleet)
    waiting = kiosk(url["node-b"], "kiosk-tonan", fleet)
    staff = officer([url["node-a"], url["node-b"]], "hanako")  # on the leader; the list lets it move
    try:
        processes.append(a := await start_node(config_path, "node-a", ports["node-a"]))
        processes.append(await start_node(config_path, "node-b", ports["node-b"]))
        assert (await health(ports["node-a"]))["cluster"]["leader"] is True
        assert (await health(ports["node-b"]))["cluster"]["leader_node"] == "node-a"
        await talking.start(timeout=TIMEOUT)
        await waiting.start(timeout=TIMEOUT)
        await staff.start(timeout=TIMEOUT)
        ringing = asyncio.ensure_future(staff.events.wait("ring", TIMEOUT))
        await talking.request_call("kosodate")
        await ringing
        started = asyncio.ensure_future(staff.events.wait("call_started", TIMEOUT))
        await staff.accept()
        call_id = (await started)["call_id"]
        await more_frames(staff.party.session, 30)
        queued = asyncio.ensure_future(waiting.events.wait("queue", TIMEOUT))
        await waiting.request_call("kosodate")
        assert (await queued)["position"] == 1
        waiting_call = waiting.resident.call_id
        await more_frames(staff.party.session, 15)  # a second: the leader's confirmation reaches node-b

        links: list[tuple[str, str]] = []  # a close ("offline") or a second welcome ("online") of a kiosk
        for name, client in (("talking", talking), ("waiting", waiting)):
            client.events.subscribe(
                lambda event, _data, name=name: event in ("online", "offline") and links.append((name, event))
            )
        offline = asyncio.ensure_future(staff.events.wait("offline", TIMEOUT))
        back = asyncio.ensure_future(staff.events.wait("online", TIMEOUT))
        requeued = asyncio.ensure_future(waiting.events.wait("queue", TIMEOUT))
        os.kill(a.pid, signal.SIGKILL)
        await a.wait()
        await offline  # the officer lost its node
        await more_frames(staff.party.session, 15)  # media goes on peer to peer
        try:
            await back
        except TimeoutError:
            raise AssertionError("the officer did not come back") from None
        again = await requeued  # told its place by the new leader, on the connection it had
        assert waiting.resident.call_id == waiting_call and again["position"] == 1
        assert talking.state is KioskState.IN_CALL and staff.call_id == call_id
        assert links == []  # before: both kiosks were closed by node-b at the new term and reconnected
        status = (await health(ports["node-b"]))["cluster"]
        assert status["leader"] is True and status["node"] == "node-b" and status["epoch"] == 2
        assert status["connections"] == {"local": 3, "relayed": 0}
        await more_frames(talking.party.session, 5)

        ended = asyncio.ensure_future(talking.events.wait("call_ended", TIMEOUT))
        ring_next = asyncio.ensure_future(staff.events.wait("ring", TIMEOUT, call_id=waiting_call))
        await staff.end_call("resolved", "リーダー交代をまたいだ通話")
        assert (await ended)["reason"] == "completed"
        await staff.set_available()  # wrap-up over: the waiting resident is next, offered once
        await ring_next
    finally:
        for client in (talking, waiting, staff):
            await client.stop()
        for process in processes:
            await stop(process)
    store = Store(database)
    record = store.call(call_id)
    store.close()
    assert (record.state, record.end_reason, record.outcome, record.officer) == (
        "ended",
        "completed",
        "resolved",
        "hanako",
    )


@pytest.mark.slow
async def test_a_killed_followers_connections_are_detached_by_the_leader(redis_server, tmp_path: Path):
    """A follower process killed with SIGKILL says nothing; the leader notices its heartbeat key run out
    and detaches its connections as dropped ones (here a kiosk: its place is given up as on one node)."""
    database = tmp_path / "madoguchi.sqlite3"
    config = node_config(redis_server.url, "node-a", database)
    config_path = tmp_path / "city.toml"
    config_path.write_text(dump_config(config), "utf-8")
    fleet = provision_fleet(config, ["kiosk-ueda"], [])
    attached, detached = asyncio.Event(), asyncio.Event()

    def listen(event: str, data: dict) -> None:
        if data.get("identity") == "kiosk-ueda":
            {"attached": attached, "detached": detached}.get(event, asyncio.Event()).set()

    async with EmbeddedServer(config, database, listeners=[listen]) as a:
        port = free_port()
        b = await start_node(config_path, "node-b", port)
        try:
            ueda = await WireClient.kiosk(
                f"ws://127.0.0.1:{port}/ws", "kiosk-ueda", fleet.kiosk_tokens["kiosk-ueda"]
            )
            await asyncio.wait_for(attached.wait(), TIMEOUT)
            assert "kiosk-ueda" in a.switchboard.kiosks
            os.kill(b.pid, signal.SIGKILL)
            await b.wait()
            await asyncio.wait_for(detached.wait(), TIMEOUT)
            assert "kiosk-ueda" not in a.switchboard.kiosks and a.app[CLUSTER].desk.nodes() == set()
            await ueda.close()
        finally:
            await stop(b)
