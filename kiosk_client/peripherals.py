"""The kiosk's scanner, slip printer and speaker behind one small adapter over ``hardware.devices``.

The controller sees only ``Peripherals``: ``scanner.scan()`` → ``ScannedPage`` (encoded bytes in memory,
never on disk) or ``DeviceUnavailable``; ``printer.print_slip(PrintSlip, city)`` → ``PrintOutcome``;
``printer.status()``; ``health()``; ``cue_output`` for sound cues. Switching the device layer means changing
``Peripherals.from_devices`` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hardware.devices import KioskDevices
from hardware.health import DeviceHealth
from hardware.printer import SimulatedPrinter
from hardware.receipt import MAX_MESSAGE_CHARS, Slip
from hardware.scanner import ScannerError, SimulatedScanner
from remote_call.incall import PrintSlip

log = logging.getLogger(__name__)


class DeviceUnavailable(Exception):
    """A device the step needs is not there or not working; the message says which and why."""


@dataclass(frozen=True)
class ScannedPage:
    data: bytes
    mime: str
    width: int
    height: int
    dpi: int


@dataclass(frozen=True)
class PrintOutcome:
    ok: bool
    printer_status: str  # ok, paper_near_end, paper_out, cover_open, offline, error, unknown, absent
    detail: str = ""


class ScannerAdapter:
    def __init__(self, scanner: Any):
        self.device = scanner

    def health(self) -> DeviceHealth:
        return self.device.health()

    async def scan(self) -> ScannedPage:
        try:
            page = await self.device.scan()
        except ScannerError as exc:
            raise DeviceUnavailable(str(exc)) from None
        return ScannedPage(page.data, page.mime_type, page.width, page.height, page.dpi)


def slip_for(slip: PrintSlip, city_name: str) -> Slip:
    """The officer's PrintSlip as the printer's Slip: items to bring and next steps go into the message."""
    parts = [slip.message.strip()] if slip.message.strip() else []
    if slip.items_to_bring:
        parts.append("持ち物: " + "、".join(item.strip() for item in slip.items_to_bring if item.strip()))
    if slip.next_steps.strip():
        parts.append("次の手続き: " + slip.next_steps.strip())
    message = "\n".join(parts)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    clean = "".join(c for c in message if c == "\n" or c >= " ")
    qr = slip.qr_url if slip.qr_url and len(slip.qr_url.encode()) <= 500 else None
    return Slip(
        reception_number=slip.slip_id[:16],
        department=slip.department[:100] or "-",
        message=clean,
        qr_data=qr,
        city_name=city_name,
    )


class PrinterAdapter:
    def __init__(self, printer: Any):
        self.device = printer

    def health(self) -> DeviceHealth:
        return self.device.health()

    async def status(self) -> str:
        return (await self.device.status()).state

    async def print_slip(self, slip: PrintSlip, city_name: str) -> PrintOutcome:
        try:
            receipt = slip_for(slip, city_name)
        except ValueError as exc:
            return PrintOutcome(False, "error", f"not printed: {exc}")
        return await self.print_receipt(receipt)

    async def print_receipt(self, receipt: Slip) -> PrintOutcome:
        """A slip already laid out (e.g. ``kiosk_client.slips.localized_slip``) through the printer."""
        try:
            result = await self.device.print_slip(receipt)
        except (ValueError, OSError, RuntimeError) as exc:
            return PrintOutcome(False, "error", f"not printed: {exc}")
        status = result.status_after or result.status_before
        return PrintOutcome(result.ok, status.state, result.detail)


@dataclass
class Peripherals:
    scanner: ScannerAdapter
    printer: PrinterAdapter
    cue_output: Callable[[np.ndarray], None] | None = None
    devices: KioskDevices | None = None
    _extra_health: dict[str, DeviceHealth] = field(default_factory=dict)

    @classmethod
    def from_devices(cls, devices: KioskDevices) -> Peripherals:
        return cls(
            ScannerAdapter(devices.scanner),
            PrinterAdapter(devices.printer),
            _speaker_output(devices.speaker),
            devices,
        )

    @classmethod
    def simulated(cls) -> Peripherals:
        """For kiosks built without a device layer (the load simulator): in-memory scanner and printer."""
        return cls(ScannerAdapter(SimulatedScanner(150)), PrinterAdapter(SimulatedPrinter()))

    def health(self) -> dict[str, DeviceHealth]:
        if self.devices is not None:
            return self.devices.health()
        return {"scanner": self.scanner.health(), "printer": self.printer.health()}

    async def close(self) -> None:
        if self.devices is not None:
            await self.devices.close()


def _speaker_output(speaker: Any) -> Callable[[np.ndarray], None] | None:
    """Sound cues go to the kiosk speaker: the real one queues samples, the simulated one plays them."""
    if speaker is None:
        return None
    enqueue = getattr(speaker, "enqueue", None)
    if enqueue is not None:
        return enqueue
    play = getattr(speaker, "play", None)
    if play is None:
        return None

    def output(samples: np.ndarray) -> None:
        with contextlib.suppress(RuntimeError):
            task = asyncio.get_running_loop().create_task(play(samples, timeout=2.0))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    return output
