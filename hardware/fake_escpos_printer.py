"""A fake Epson receipt printer on TCP (like port 9100) for tests and demos.

It records every byte it receives, parses the ESC/POS stream, and answers DLE EOT n status requests the way
an Epson TM printer does, according to its mode: ok, near_end (paper near end), paper_out, cover_open, or
silent (never answers, like a printer that is off or a wrong address that still accepts connections).

    python -m hardware.fake_escpos_printer --port 9100 --mode ok
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import pty
import select
import threading
import tty
from typing import Literal

from hardware.escpos_parse import Command, parse

log = logging.getLogger(__name__)

Mode = Literal["ok", "near_end", "paper_out", "cover_open", "silent"]
MODES: tuple[str, ...] = ("ok", "near_end", "paper_out", "cover_open", "silent")

# The answers to DLE EOT 1, 2, 3, 4 in each mode (Epson TM-T88 semantics).
STATUS_BYTES: dict[str, dict[int, int]] = {
    "ok": {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12},
    "near_end": {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x1E},
    "paper_out": {1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x72},
    "cover_open": {1: 0x1A, 2: 0x16, 3: 0x12, 4: 0x12},
}


class FakePrinterCore:
    """The printer itself, independent of the transport: feed it bytes, get back its answers."""

    def __init__(self, mode: Mode = "ok") -> None:
        self.mode: Mode = mode
        self.set_mode(mode)
        self.received = bytearray()  # everything, across connections
        self.commands: list[Command] = []
        self.status_queries: list[int] = []
        self.jobs_cut = 0
        self._pending = b""

    def set_mode(self, mode: Mode) -> None:
        if mode not in MODES:
            raise ValueError(f"fake printer mode must be one of {MODES}, got {mode!r}")
        self.mode = mode

    def reset_stream(self) -> None:
        """A new connection starts a new command stream."""
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        """Take received bytes; return the bytes the printer sends back (status answers)."""
        self.received += chunk
        commands, used = parse(self._pending + chunk)
        self._pending = (self._pending + chunk)[used:]
        answers = bytearray()
        for command in commands:
            self.commands.append(command)
            if command.name == "DLE EOT":
                n = command.payload[0]
                self.status_queries.append(n)
                answer = STATUS_BYTES.get(self.mode, {}).get(n)
                if answer is not None:  # silent mode (or an unknown n) never answers
                    answers.append(answer)
            elif command.name == "GS V":
                self.jobs_cut += 1
        return bytes(answers)


class FakeEscposPrinter(FakePrinterCore):
    """The fake printer served on TCP (asyncio)."""

    def __init__(self, mode: Mode = "ok", host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(mode)
        self.host = host
        self.port = port
        self.connections = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> FakeEscposPrinter:
        self.set_mode(self.mode)
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeEscposPrinter:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        self.reset_stream()
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                answers = self.feed(chunk)
                if answers:
                    writer.write(answers)
                    await writer.drain()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class FakeSerialPrinter(FakePrinterCore):
    """The fake printer behind a pseudo-terminal: `port` (e.g. /dev/pts/5) is what a serial driver opens."""

    def __init__(self, mode: Mode = "ok") -> None:
        super().__init__(mode)
        self._master: int | None = None
        self._slave: int | None = None
        self.port = ""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> FakeSerialPrinter:
        self._master, self._slave = pty.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._serve, name="fake-serial-printer", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._master is not None
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(self._master, 65536)
            except OSError:
                return
            answers = self.feed(chunk)
            if answers:
                os.write(self._master, answers)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def __enter__(self) -> FakeSerialPrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _main(port: int, mode: Mode) -> None:
    printer = await FakeEscposPrinter(mode, port=port).start()
    print(f"fake ESC/POS printer on {printer.address}, mode {mode}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await printer.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--mode", choices=MODES, default="ok")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.port, args.mode))


if __name__ == "__main__":
    main()
