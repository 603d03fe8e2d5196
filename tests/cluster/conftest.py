"""A real redis-server for the cluster tests: on a unix socket in the test's temporary directory (nothing on
the network), no persistence (a restart loses every key, as the worst case), stopped after the test."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

REDIS = shutil.which("redis-server")
STARTUP_S = 15.0


class RedisServer:
    """``start()``, ``stop()`` (SIGKILL or SIGTERM) and ``url``; the same socket across restarts."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.process: asyncio.subprocess.Process | None = None
        self._drainer: asyncio.Future[None] | None = None

    async def start(self) -> None:
        assert REDIS is not None
        self.process = await asyncio.create_subprocess_exec(
            REDIS,
            "--port", "0",  # no TCP listener at all
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--loglevel", "notice",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await asyncio.wait_for(self._ready(), STARTUP_S)
        except BaseException:  # never leave a server behind
            await self.stop(kill=True)
            raise

    async def _ready(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                raise RuntimeError("redis-server exited before it was ready")
            if b"ready to accept connections" in line.lower():
                self._drainer = asyncio.ensure_future(self._drain())  # its log, read to the end
                return

    async def _drain(self) -> None:
        process = self.process
        assert process is not None and process.stdout is not None
        while await process.stdout.readline():
            pass

    async def stop(self, *, kill: bool = False) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.kill() if kill else process.terminate()
        await process.wait()


@pytest.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    if REDIS is None:
        pytest.skip(
            "redis-server is not installed (Debian package redis-server; scripts/bootstrap.sh installs it)"
        )
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
