"""A real haproxy (Debian's) in front of server nodes, for the tests: the configuration documented in
docs/deployment-cluster.md ("haproxy and client URL lists") with test-speed health checks, a frontend on a
free 127.0.0.1 port, its admin socket in the test's directory, its log read from stderr. Stopped (and killed
if it must be) at teardown."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from .node_process import free_port

HAPROXY = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
STARTUP_S = 15.0
CHECK_INTERVAL = "300ms"  # production: 2s (docs/deployment-cluster.md)


def haproxy_config(port: int, backends: dict[str, int], admin_socket: Path) -> str:
    """The documented configuration: websocket-friendly timeouts, health checks on /healthz (a draining
    node answers 503 and is taken out), least-connections balancing of long-lived connections."""
    servers = "\n".join(
        f"    server {name} 127.0.0.1:{node_port} check" for name, node_port in backends.items()
    )
    return f"""global
    log stderr format raw local0 info
    stats socket {admin_socket} mode 600 level admin
    maxconn 4000  # each proxied connection holds two descriptors: keep 2 x maxconn under LimitNOFILE

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout tunnel 1h
    timeout client-fin 5s
    option redispatch
    retries 2

frontend madoguchi
    bind 127.0.0.1:{port}
    option forwardfor
    default_backend nodes

backend nodes
    balance leastconn
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter {CHECK_INTERVAL} fall 1 rise 1
{servers}
"""


class Haproxy:
    """``start``, ``stop``, its ``url`` (ws://…/ws), the health checks' verdicts and its log."""

    def __init__(self, directory: Path, backends: dict[str, int]):
        self.directory = directory
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.http = f"http://127.0.0.1:{self.port}"
        self.admin_socket = directory / "haproxy.sock"
        self.config = directory / "haproxy.cfg"
        self.config.write_text(haproxy_config(self.port, backends, self.admin_socket), encoding="utf-8")
        self.process: asyncio.subprocess.Process | None = None
        self.log: list[str] = []
        self._lines = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Haproxy:
        assert HAPROXY is not None
        self.process = await asyncio.create_subprocess_exec(
            HAPROXY, "-W", "-db", "-f", str(self.config), stderr=asyncio.subprocess.PIPE
        )  # -W -db: master and worker in the foreground; the worker ends with its master
        assert self.process.stderr is not None
        self._reader = asyncio.create_task(self._read(self.process.stderr))
        await self.logged("Loading success.", STARTUP_S)  # the master's word: sockets bound, worker forked
        return self

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := (await stream.readline()).decode(errors="replace"):
            self.log.append(line.rstrip())
            async with self._lines:
                self._lines.notify_all()
        self.log.append("(haproxy exited)")
        async with self._lines:
            self._lines.notify_all()

    async def logged(self, text: str, timeout: float = 30.0, after: int = 0) -> str:
        """The first log line (from index ``after``) containing ``text``, once haproxy has written it."""

        def found() -> str | None:
            seen = next((line for line in self.log[after:] if text in line), None)
            assert seen or "(haproxy exited)" not in self.log, self.log[-20:]
            return seen

        async with self._lines:
            await asyncio.wait_for(self._lines.wait_for(found), timeout)
        line = found()
        assert line is not None
        return line

    async def command(self, command: str) -> str:
        reader, writer = await asyncio.open_unix_connection(str(self.admin_socket))
        try:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            return (await reader.read()).decode()
        finally:
            writer.close()

    async def server_status(self) -> dict[str, str]:
        """Each backend server's state as the health checks see it (``UP``, ``DOWN``, ...)."""
        lines = (await self.command("show stat")).splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        return {
            row["svname"]: row["status"]
            for row in rows
            if row.get("pxname") == "nodes" and row["svname"] not in ("BACKEND", "FRONTEND")
        }

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._reader is not None:
            await self._reader


@pytest.fixture
async def haproxy(tmp_path: Path) -> AsyncIterator[Callable[[dict[str, int]], Haproxy]]:
    """A factory: ``await haproxy({"node1": port1, "node2": port2}).start()``; every one stopped after."""
    if HAPROXY is None:
        pytest.skip("haproxy is not installed (Debian package haproxy; scripts/bootstrap.sh installs it)")
    made: list[Haproxy] = []

    def make(backends: dict[str, int]) -> Haproxy:
        directory = tmp_path / f"haproxy{len(made)}"
        directory.mkdir()
        made.append(Haproxy(directory, backends))
        return made[-1]

    try:
        yield make
    finally:
        for proxy in made:
            await proxy.stop()
