"""Server nodes as processes for the failover, drain and haproxy tests: ``madoguchi-server`` on free loopback
ports over one SQLite file, started and stopped for real (SIGTERM, SIGKILL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

from config.loader import dump_config
from config.schema import AppConfig
from signaling_server.embedded import Fleet, provision
from signaling_server.store import Store
from signaling_server.testing import test_config

PASSWORD = "failover-test-pw"
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def city(tmp_path: Path, kiosks: list[str], officers: list[str], **server: object) -> tuple[Path, Fleet]:
    """A configuration file (its database in ``tmp_path``) with the kiosks and officers provisioned."""
    config: AppConfig = test_config(database=str(tmp_path / "madoguchi.sqlite3"), **server)
    path = tmp_path / "city.toml"
    path.write_text(dump_config(config), encoding="utf-8")
    store = Store(config.server.database)
    try:
        fleet = provision(store, config, kiosk_ids=kiosks, officers=officers, password=PASSWORD)
    finally:
        store.close()
    return path, fleet


class NodeProcess:
    """One server process on its own port; ``start`` returns once it has announced its address."""

    def __init__(self, config_path: Path, port: int | None = None):
        self.config_path = config_path
        self.port = port or free_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.http = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None
        self.output: list[str] = []  # its stdout and stderr, as lines
        self._reader: asyncio.Task[None] | None = None
        self._lines = asyncio.Condition()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> NodeProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "signaling_server.cli",
            "--config",
            str(self.config_path),
            "--port",
            str(self.port),
            "--log-level",
            "INFO",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert self.proc.stdout is not None
        announced = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(self.proc.stdout, announced))
        await asyncio.wait_for(announced, START_TIMEOUT)
        return self

    async def _read(self, stdout: asyncio.StreamReader, announced: asyncio.Future[None]) -> None:
        while line := (await stdout.readline()).decode(errors="replace"):
            self.output.append(line.rstrip())
            async with self._lines:
                self._lines.notify_all()
            if "Running on" in line and f":{self.port}" in line and not announced.done():
                announced.set_result(None)
        if not announced.done():
            announced.set_exception(RuntimeError("the server exited:\n" + "\n".join(self.output[-20:])))

    async def logged(self, text: str, timeout: float = START_TIMEOUT) -> str:
        """The first line of its output containing ``text``, once it has been written."""

        def found() -> str | None:
            return next((line for line in self.output if text in line), None)

        async with self._lines:
            await asyncio.wait_for(self._lines.wait_for(found), timeout)
        line = found()
        assert line is not None
        return line

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def send_signal(self, signum: int) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signum)

    async def wait(self, timeout: float = START_TIMEOUT) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._reader is not None:
            await self._reader
        return code

    async def stop(self, signum: int = signal.SIGTERM, timeout: float = START_TIMEOUT) -> int:
        """Send ``signum`` and wait for the exit; its code (negative: the signal that ended it)."""
        self.send_signal(signum)
        return await self.wait(timeout)

    async def close(self) -> None:
        """Teardown on every path: SIGKILL if still running."""
        if self.proc is not None and self.proc.returncode is None:
            await self.stop(signal.SIGKILL)
