"""Receipt printers: ESC/POS over the network (port 9100), USB, serial or a file, plus a simulated printer.

Every printer has `async print_slip(slip) -> PrintResult`, `async status() -> PrinterStatus` and `health()`.
Status is read back with DLE EOT 1/2/3/4 under a timeout; a printer that does not answer is "unknown", never
"OK" (python-escpos' own `paper_status()` says OK when nothing answers, so it is not used).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from hardware.health import DeviceHealth, HealthTracker
from hardware.printer_status import PrinterStatus
from hardware.receipt import Slip, build_slip_job, png_bytes, render_preview

log = logging.getLogger(__name__)

DLE_EOT = b"\x10\x04"


class PrinterError(RuntimeError):
    """The printer is misconfigured or unreachable; the message names it."""


@dataclass(frozen=True)
class PrintResult:
    sent: bool  # the job went out to the printer
    confirmed: bool  # ...and the printer answered afterwards that it is fine
    bytes_sent: int
    status_before: PrinterStatus
    status_after: PrinterStatus | None
    detail: str

    @property
    def ok(self) -> bool:
        return self.sent and self.confirmed

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "sent": self.sent,
            "confirmed": self.confirmed,
            "bytes_sent": self.bytes_sent,
            "status_before": self.status_before.to_dict(),
            "status_after": self.status_after.to_dict() if self.status_after else None,
            "detail": self.detail,
        }


class ReceiptPrinter(Protocol):
    async def print_slip(self, slip: Slip) -> PrintResult: ...

    async def status(self) -> PrinterStatus: ...

    def health(self) -> DeviceHealth: ...

    async def close(self) -> None: ...


def _result(sent: bool, size: int, before: PrinterStatus, after: PrinterStatus | None) -> PrintResult:
    if not sent:
        return PrintResult(False, False, 0, before, after, f"not printed: {before.describe()}")
    if after is None or not after.answered:
        detail = "sent, but the printer did not confirm (status unknown): check that the slip came out"
        return PrintResult(True, False, size, before, after, detail)
    if not after.can_print:
        return PrintResult(True, False, size, before, after, f"sent, then: {after.describe()}")
    return PrintResult(True, True, size, before, after, "printed")


def parse_network_address(address: str) -> tuple[str, int]:
    """'192.168.10.20:9100', 'printer.local' (port 9100) or '[::1]:9100'."""
    text = address.strip()
    if not text:
        raise PrinterError("printer address is empty")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") or "9100"
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, "9100"
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise PrinterError(f"printer address {address!r} is not host:port")
    return host, int(port_text)


class NetworkPrinter:
    """An ESC/POS printer on a raw TCP port (Epson's 9100), one connection per job or status check."""

    def __init__(
        self,
        address: str,
        width_px: int = 512,
        profile: str = "TM-T88V",
        status_timeout_s: float = 1.0,
        connect_timeout_s: float = 3.0,
    ) -> None:
        self.host, self.port = parse_network_address(address)
        self.width_px = width_px
        self.profile = profile
        self.status_timeout_s = status_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._health = HealthTracker("degraded", "not checked yet")
        self._lock = asyncio.Lock()
        self.jobs = 0

    @property
    def name(self) -> str:
        return f"printer {self.host}:{self.port}"

    def health(self) -> DeviceHealth:
        return self._health.get()

    def _record(self, status: PrinterStatus) -> None:
        health = status.to_health()
        self._health.set(health.status, f"{self.name}: {health.detail}")

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            connecting = asyncio.open_connection(self.host, self.port)
            return await asyncio.wait_for(connecting, self.connect_timeout_s)
        except (TimeoutError, OSError) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
            raise PrinterError(f"cannot connect to {self.name}: {reason}") from exc

    async def _query(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> PrinterStatus:
        answers: list[int] = []
        for n in (1, 2, 3, 4):
            writer.write(DLE_EOT + bytes([n]))
            await writer.drain()
            try:
                async with asyncio.timeout(self.status_timeout_s):
                    answer = await reader.readexactly(1)
            except TimeoutError:
                return PrinterStatus.unknown(f"no answer to DLE EOT {n} within {self.status_timeout_s:g} s")
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                return PrinterStatus.unknown(f"connection closed while reading status ({exc})")
            answers.append(answer[0])
        return PrinterStatus.from_bytes(*answers)

    @staticmethod
    async def _close(writer: asyncio.StreamWriter) -> None:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def status(self) -> PrinterStatus:
        async with self._lock:
            try:
                reader, writer = await self._connect()
            except PrinterError as exc:
                status = PrinterStatus.unknown(str(exc))
            else:
                try:
                    status = await self._query(reader, writer)
                finally:
                    await self._close(writer)
        self._record(status)
        return status

    async def print_slip(self, slip: Slip) -> PrintResult:
        job = await asyncio.to_thread(build_slip_job, slip, self.width_px, self.profile)
        async with self._lock:
            try:
                reader, writer = await self._connect()
            except PrinterError as exc:
                before = PrinterStatus.unknown(str(exc))
                self._record(before)
                return _result(False, 0, before, None)
            try:
                before = await self._query(reader, writer)
                if before.answered and not before.can_print:
                    self._record(before)
                    return _result(False, 0, before, None)
                if not before.answered:
                    # Close and reconnect so a late answer cannot be mistaken for the next one.
                    await self._close(writer)
                    reader, writer = await self._connect()
                writer.write(job)
                await writer.drain()
                self.jobs += 1
                after = await self._query(reader, writer)
            except (ConnectionError, PrinterError) as exc:
                after = PrinterStatus.unknown(f"connection lost while printing: {exc}")
                self._record(after)
                return PrintResult(False, False, 0, before, after, f"not printed: {after.detail}")
            finally:
                await self._close(writer)
        self._record(after)
        return _result(True, len(job), before, after)

    async def close(self) -> None:
        return None


class EscposDevicePrinter:
    """USB, serial or file printers through python-escpos' own transports (blocking: run in a thread)."""

    def __init__(
        self,
        connection: str,
        address: str,
        width_px: int = 512,
        profile: str = "TM-T88V",
        status_timeout_s: float = 1.0,
    ) -> None:
        if connection not in ("usb", "serial", "file"):
            raise PrinterError(f"unknown printer connection {connection!r} (network, usb, serial or file)")
        self.connection = connection
        self.address = address.strip()
        if not self.address:
            raise PrinterError(f"{connection} printer address is empty")
        self.width_px = width_px
        self.profile = profile
        self.status_timeout_s = status_timeout_s
        self._device: Any = None
        self._lock = asyncio.Lock()
        self._health = HealthTracker("degraded", "not checked yet")
        self.jobs = 0

    @property
    def name(self) -> str:
        return f"{self.connection} printer {self.address}"

    def health(self) -> DeviceHealth:
        return self._health.get()

    def _open(self) -> Any:
        if self._device is not None:
            return self._device
        try:
            if self.connection == "usb":
                from escpos.printer import Usb

                vendor, _, product = self.address.partition(":")
                device = Usb(
                    int(vendor, 16),
                    int(product, 16),
                    timeout=int(self.status_timeout_s * 1000),
                    profile=self.profile,
                )
            elif self.connection == "serial":
                from escpos.printer import Serial

                port, _, baud = self.address.partition("@")
                device = Serial(
                    devfile=port,
                    baudrate=int(baud or 38400),
                    timeout=self.status_timeout_s,
                    profile=self.profile,
                )
            else:
                from escpos.printer import File

                device = File(devfile=self.address, profile=self.profile)
            opener = getattr(device, "open", None)
            if callable(opener):
                opener()
        except ValueError as exc:
            raise PrinterError(f"{self.name}: bad address ({exc})") from exc
        except Exception as exc:  # missing pyusb/pyserial, no such device, permission denied...
            raise PrinterError(f"cannot open {self.name}: {exc}") from exc
        self._device = device
        return device

    def _status_blocking(self) -> PrinterStatus:
        if self.connection == "file":
            return PrinterStatus.unknown("a file connection cannot read printer status")
        device = self._open()
        answers = []
        for n in (1, 2, 3, 4):
            try:
                device._raw(DLE_EOT + bytes([n]))
                # python-escpos' Serial._read waits for 16 bytes (the whole timeout); a status is 1 byte.
                answer = device.device.read(1) if self.connection == "serial" else device._read()
            except Exception as exc:
                return PrinterStatus.unknown(f"reading status failed: {exc}")
            if not answer:
                return PrinterStatus.unknown(f"no answer to DLE EOT {n} within {self.status_timeout_s:g} s")
            answers.append(answer[0])
        return PrinterStatus.from_bytes(*answers)

    def _record(self, status: PrinterStatus) -> None:
        health = status.to_health()
        detail = f"{self.name}: {health.detail}"
        if self.connection == "file" and self._device is not None:
            # Printing to a file works; only the status is unreadable.
            self._health.set("degraded", detail)
        else:
            self._health.set(health.status, detail)

    async def status(self) -> PrinterStatus:
        async with self._lock:
            try:
                status = await asyncio.to_thread(self._status_blocking)
            except PrinterError as exc:
                status = PrinterStatus.unknown(str(exc))
                self._health.set("error", str(exc))
                return status
        self._record(status)
        return status

    async def print_slip(self, slip: Slip) -> PrintResult:
        job = await asyncio.to_thread(build_slip_job, slip, self.width_px, self.profile)
        async with self._lock:
            try:
                before = await asyncio.to_thread(self._status_blocking)
                if before.answered and not before.can_print:
                    self._record(before)
                    return _result(False, 0, before, None)
                await asyncio.to_thread(lambda: self._open()._raw(job))
                self.jobs += 1
                after = await asyncio.to_thread(self._status_blocking)
            except PrinterError as exc:
                status = PrinterStatus.unknown(str(exc))
                self._health.set("error", str(exc))
                return _result(False, 0, status, None)
            except Exception as exc:
                status = PrinterStatus.unknown(f"{self.name}: write failed: {exc}")
                self._health.set("error", status.detail)
                self._device = None
                return _result(False, 0, status, None)
        self._record(after)
        return _result(True, len(job), before, after)

    async def close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(device.close)


class SimulatedPrinter:
    """For demos: keeps the last slip (PNG preview and ESC/POS bytes) in memory; status from a chosen mode."""

    def __init__(self, width_px: int = 512, profile: str = "TM-T88V", mode: str = "ok") -> None:
        from hardware.fake_escpos_printer import STATUS_BYTES

        if mode not in STATUS_BYTES and mode != "silent":
            raise PrinterError(
                f"simulated printer mode must be one of {[*STATUS_BYTES, 'silent']}, got {mode!r}"
            )
        self._status_bytes = STATUS_BYTES
        self.width_px = width_px
        self.profile = profile
        self.mode = mode
        self.last_slip: Slip | None = None
        self.last_png: bytes | None = None
        self.last_job: bytes | None = None
        self.jobs = 0
        self._health = HealthTracker("ok", "simulated printer")

    def health(self) -> DeviceHealth:
        return self._health.get()

    async def status(self) -> PrinterStatus:
        if self.mode == "silent":
            status = PrinterStatus.unknown("simulated printer is silent")
        else:
            status = PrinterStatus.from_bytes(*(self._status_bytes[self.mode][n] for n in (1, 2, 3, 4)))
        health = status.to_health()
        self._health.set(health.status, f"simulated printer: {health.detail}")
        return status

    async def print_slip(self, slip: Slip) -> PrintResult:
        before = await self.status()
        if not before.can_print:
            return _result(False, 0, before, None)
        job = await asyncio.to_thread(build_slip_job, slip, self.width_px, self.profile)
        preview = await asyncio.to_thread(lambda: png_bytes(render_preview(slip, self.width_px)))
        self.last_slip, self.last_job, self.last_png = slip, job, preview
        self.jobs += 1
        return _result(True, len(job), before, await self.status())

    async def close(self) -> None:
        return None


def printer_from_config(config: Any) -> NetworkPrinter | EscposDevicePrinter | SimulatedPrinter:
    """A printer for a `config.schema.PrinterConfig` whose driver is real or simulated."""
    if config.driver == "simulated":
        return SimulatedPrinter(config.width_px, config.profile)
    if config.connection == "network":
        return NetworkPrinter(config.address, config.width_px, config.profile, config.status_timeout_s)
    return EscposDevicePrinter(
        config.connection, config.address, config.width_px, config.profile, config.status_timeout_s
    )
