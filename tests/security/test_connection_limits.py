"""Connection limits (issue 14, item 4), against a real server process: a thousand idle sockets (half of
them with a half-sent upgrade request) are held open while a kiosk and an officer complete a call; then the
half-sent and silent ones are dropped at the header time-out; one address over its cap and the server over
its total cap get a clear 503. The call is signaling only (media would add nothing the server sees)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.loader import dump_config
from remote_call import protocol as p
from signaling_server.embedded import Fleet, provision
from signaling_server.limits import ConnectionLimits
from signaling_server.store import Store
from signaling_server.testing import call_in_progress, test_config

PASSWORD = "limits-test-pw"
IDLE = 1000
ADDRESSES = 25  # 40 idle sockets from each of 127.0.1.1-25: under the per-address cap of 64
HEADER_TIMEOUT_S = 6.0
ROOT = Path(__file__).resolve().parents[2]
READERS: set[asyncio.Future] = set()


def enough_file_descriptors(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.fail(f"this test needs {needed} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))  # the server process inherits it


async def start_server(
    config_path: Path, env: dict[str, str]
) -> tuple[asyncio.subprocess.Process, list[str]]:
    """The server in its own process; returns once it listens, with its log lines (kept being read)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signaling_server.cli",
        "--config",
        str(config_path),
        "--log-level",
        "INFO",
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, **env},
    )
    lines: list[str] = []
    listening = asyncio.get_running_loop().create_future()

    async def read() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace")
            lines.append(line)
            if "Running on" in line and not listening.done():
                listening.set_result(None)
        if not listening.done():
            listening.set_exception(RuntimeError("".join(lines[-20:])))

    READERS.add(asyncio.ensure_future(read()))  # reads until the process ends
    await asyncio.wait_for(listening, 60)
    return process, lines


async def idle_socket(port: int, index: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    local = f"127.0.1.{index % ADDRESSES + 1}"
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(local, 0))
    if index % 2:  # half a websocket upgrade request, never finished
        writer.write(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
        await writer.drain()
    return reader, writer


async def dropped(reader: asyncio.StreamReader) -> bytes:
    """What the server sent before closing (b"" for a silent drop)."""
    return await reader.read()


@contextlib.asynccontextmanager
async def limited_server(
    tmp_path: Path, port: int
) -> AsyncIterator[tuple[asyncio.subprocess.Process, Fleet]]:
    """A server process with a short header time-out and room for the idle sockets, a kiosk and an officer
    provisioned; stopped afterwards, and its log free of tracebacks."""
    enough_file_descriptors(4 * IDLE)
    config = test_config(port=port, database=str(tmp_path / "madoguchi.sqlite3"))
    config_path = tmp_path / "city.toml"
    config_path.write_text(dump_config(config), encoding="utf-8")
    store = Store(config.server.database)
    fleet = provision(store, config, kiosk_ids=["kiosk-ueda"], officers=["hanako"], password=PASSWORD)
    store.close()
    env = {"MADOGUCHI_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S), "MADOGUCHI_MAX_CONNECTIONS": str(IDLE + 60)}
    server, log_lines = await start_server(config_path, env)
    try:
        yield server, fleet
    finally:
        server.terminate()
        await server.wait()
    assert not [line for line in log_lines if "Traceback" in line], "".join(log_lines)[-6000:]


async def test_a_thousand_idle_sockets_do_not_stop_a_call_and_are_dropped_at_the_header_time_out(
    tmp_path: Path, unused_tcp_port: int
):
    port = unused_tcp_port
    sockets: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    async with limited_server(tmp_path, port) as (_server, fleet):
        try:
            sockets = await asyncio.gather(*(idle_socket(port, i) for i in range(IDLE)))
            url = f"ws://127.0.0.1:{port}/ws"
            kiosk, officer, call_id = await asyncio.wait_for(
                call_in_progress(url, "kiosk-ueda", fleet.kiosk_tokens["kiosk-ueda"], "hanako", PASSWORD), 30
            )
            await officer.send(p.EndCall(call_id=call_id, outcome="resolved"))
            assert (await kiosk.expect(p.CallEnded, timeout=30)).reason == "completed"
            assert not any(reader.at_eof() for reader, _ in sockets)  # all still held during the call
            # The header time-out: every idle socket is dropped, the half-sent requests included.
            answers = await asyncio.wait_for(
                asyncio.gather(*(dropped(r) for r, _ in sockets)), HEADER_TIMEOUT_S + 30
            )
            assert answers == [b""] * IDLE
            # The signed-in connections are not idle: they outlive the header time-out.
            await officer.send(p.SetStatus(status="available"))
            await officer.expect(p.OfficerState, timeout=10)
            # One address over its cap: a clear refusal.
            over = [
                await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.2.1", 0))
                for _ in range(70)
            ]
            refused = await asyncio.wait_for(asyncio.gather(*(dropped(r) for r, _ in over[64:])), 10)
            assert all(
                a.startswith(b"HTTP/1.1 503") and b"too many connections from 127.0.2.1" in a for a in refused
            )
            for _, writer in over:
                writer.close()
            for client in (kiosk, officer):
                await client.close()
        finally:
            for _, writer in sockets:
                writer.close()


async def test_over_the_total_cap_connections_are_refused_clearly(make_server, monkeypatch):
    monkeypatch.setenv(ConnectionLimits.ENV["max_total"], "5")
    async with make_server() as server:
        port = int(server.http_url.rsplit(":", 1)[1])
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answer = await asyncio.wait_for(dropped(reader), 10)
        assert answer.startswith(b"HTTP/1.1 503") and answer.endswith(
            b"too many connections; try again shortly"
        )
        for _, w in [*held, (reader, writer)]:
            w.close()


async def test_sockets_that_arrive_while_the_server_is_busy_are_dropped(tmp_path: Path, unused_tcp_port: int):
    """A thousand sockets connect while the server's process cannot run (stopped, as a loop busy for a
    moment): the kernel completes them and queues them for accept. With aiohttp's listen backlog of 128 the
    queue overflowed and the sockets that said nothing were never accepted, so never dropped either (674 of
    1,500 after 60 s, measured). A `./run-tests` under load once failed the test above by such sockets never
    dropped; that this was why is likely, not shown. Every one is dropped at the header time-out now
    (``ConnectionLimits.listen_backlog``)."""
    port = unused_tcp_port
    sockets: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    async with limited_server(tmp_path, port) as (server, _fleet):
        try:
            server.send_signal(signal.SIGSTOP)
            try:
                # The kernel completes the handshakes: these return while the server cannot run.
                sockets = await asyncio.gather(*(idle_socket(port, i) for i in range(IDLE)))
            finally:
                server.send_signal(signal.SIGCONT)
            answers = await asyncio.wait_for(
                asyncio.gather(*(dropped(r) for r, _ in sockets)), HEADER_TIMEOUT_S + 30
            )
            assert answers == [b""] * IDLE
        finally:
            for _, writer in sockets:
                writer.close()
