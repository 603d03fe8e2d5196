"""`madoguchi-server --port 0` binds a port the system chooses and tells its URL (a real process)."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import aiohttp

from config.loader import dump_config
from signaling_server.testing import test_config

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0


async def test_port_zero_binds_an_ephemeral_port_and_prints_its_url(tmp_path: Path):
    config = test_config(port=8765, database=str(tmp_path / "madoguchi.sqlite3"))
    config_path = tmp_path / "city.toml"
    config_path.write_text(dump_config(config), encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signaling_server.cli",
        "--config",
        str(config_path),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-level",
        "WARNING",  # the URL is on stdout whatever the log level
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), TIMEOUT)).decode()
        match = re.search(r"Running on (http://127\.0\.0\.1:(\d+))", line)
        assert match, line
        url, port = match.group(1), int(match.group(2))
        assert port not in (0, 8765)
        async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["status"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
