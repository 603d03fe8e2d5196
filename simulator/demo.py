"""`madoguchi-demo`: the whole system on one machine — the signaling server (embedded SQLite), one kiosk
window and one officer console window, with simulated devices. Ctrl-C (or closing both windows) stops it.

Credentials are provisioned into ``var/demo/`` (0600 files): the kiosk's device token and the demo
officer's password. Every department is open around the clock unless ``--real-hours`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
from pathlib import Path

from config import ConfigError, load_config
from remote_call.session import restrict_to_loopback
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.testing import always_open

log = logging.getLogger("madoguchi.demo")

DEMO_OFFICER = "demo-officer"
DEMO_PASSWORD = "madoguchi-demo"


def _private_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path


def _tool(name: str) -> list[str]:
    """The console script next to this Python (the venv), else on PATH."""
    local = Path(sys.executable).with_name(name)
    if local.exists():
        return [str(local)]
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is not installed; run ./run-demo from the project folder")
    return [found]


async def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if not args.real_hours:
        config = always_open(config)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    kiosk_id = args.kiosk or config.kiosks[0].id
    async with EmbeddedServer(config, workdir / "madoguchi.sqlite3", port=args.port) as server:
        fleet = provision(
            server.store, config, kiosk_ids=[kiosk_id], officers=[DEMO_OFFICER], password=DEMO_PASSWORD
        )
        token_file = _private_file(workdir / f"{kiosk_id}.token", fleet.kiosk_tokens[kiosk_id])
        password_file = _private_file(workdir / "demo-officer.password", DEMO_PASSWORD)
        print(f"server: {server.url}  (health: {server.http_url}/healthz)", flush=True)
        commands = [
            [
                *_tool("madoguchi-kiosk"),
                "--server",
                server.url,
                "--kiosk-id",
                kiosk_id,
                "--token-file",
                str(token_file),
                "--windowed",
            ],
            [
                *_tool("madoguchi-console"),
                "--server",
                server.url,
                "--username",
                DEMO_OFFICER,
                "--password-file",
                str(password_file),
                "--media",
                "simulated",
            ],
        ]
        if args.config:
            for command in commands:
                command += ["--config", args.config]
        processes = [await asyncio.create_subprocess_exec(*command) for command in commands]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        waits = [asyncio.ensure_future(proc.wait()) for proc in processes]
        stopper = asyncio.ensure_future(stop.wait())
        try:
            # Until both windows are closed, or Ctrl-C.
            pending = set(waits)
            while pending and not stop.is_set():
                _, pending = await asyncio.wait({*pending, stopper}, return_when=asyncio.FIRST_COMPLETED)
                pending.discard(stopper)
        finally:
            for proc in processes:
                if proc.returncode is None:
                    proc.terminate()
            for proc in processes:
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
            stopper.cancel()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="madoguchi-demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", help="TOML configuration (default: Morioka defaults)")
    parser.add_argument("--port", type=int, default=8765, help="server port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--kiosk", help="which configured kiosk the window plays (default: the first)")
    parser.add_argument("--workdir", default="var/demo", help="database and demo credentials")
    parser.add_argument("--real-hours", action="store_true", help="keep the configured opening hours")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    restrict_to_loopback()  # the demo's parties all run on this machine: media stays on 127.0.0.1
    try:
        return asyncio.run(run(args))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"madoguchi-demo: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
