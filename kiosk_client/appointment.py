"""「予約のある方」: a resident with a booking checks in with its PIN — typed on the large pad, or read
from the QR code on the confirmation held up to the kiosk's camera (OpenCV's ArUco-based QR detector).

Qt-free, like the rest of the controller: the view forwards touches here, the tests drive the same
methods. The check-in is a ``request_call`` with ``appointment_pin``; the server answers
``appointment_checked_in`` (the resident waits, with the slot time shown, then is queued ahead of walk-ins
with the booked officer rung first) or ``call_refused`` with an ``appointment_*`` reason, shown on the pad.
The kiosk does not need to know the booking's department: it sends the PIN alone and the server checks
the booking in at its own department (``appointment_checked_in`` names it). The resident's language goes
with it, and after the check-in the kiosk prints a confirmation slip (printing.py) when it has a printer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import av
import cv2
import numpy as np

from kiosk_client.appointment_slip import BookingSlipPrinter, masked_pin
from kiosk_client.flow import KioskFlow, KioskState, Screen
from kiosk_client.media import KioskMedia
from kiosk_client.resident import Notice, ResidentSession
from remote_call import protocol as p

log = logging.getLogger(__name__)

PIN_DIGITS = 6
QR_PREFIX = "MADOGUCHI-APPT:"
QR_FRAMES = 90  # frames looked at before giving up (6 s at 15 fps)


def qr_detector() -> Any:
    """OpenCV's ArUco-based QR detector, not its classic ``QRCodeDetector``: the classic one could not read
    6 of 1,000 confirmations drawn as the server draws them (a clean 640×480 frame; a CI run failed on
    PIN 741350), and missed 27 of 1,800 under blur, noise, rotation and dim light where this one missed 2
    (noise alone); it is also faster here (23 against 30 ms a frame)."""
    return cv2.QRCodeDetectorAruco()


def pin_from_qr(image: np.ndarray, detector: Any | None = None) -> str | None:
    """The booking PIN in a QR code seen in ``image`` (BGR), or None."""
    detector = detector or qr_detector()
    try:
        text, _points, _code = detector.detectAndDecode(image)
    except cv2.error:
        return None
    if not text or not text.startswith(QR_PREFIX):
        return None
    pin = text[len(QR_PREFIX) :]
    return pin if len(pin) == PIN_DIGITS and pin.isdigit() else None


class AppointmentCheckIn:
    def __init__(
        self,
        flow: KioskFlow,
        media: KioskMedia,
        *,
        send: Callable[[p.Wire], Awaitable[None]],
        resident: Callable[[], ResidentSession],
        notify: Callable[[Notice | None], None],
        online: Callable[[], bool],
        spawn: Callable[[Any, str], None],
        slips: BookingSlipPrinter | None = None,
    ) -> None:
        self._flow = flow
        self._media = media
        self._send = send
        self._resident = resident
        self._notify = notify
        self._online = online
        self._slips = slips  # the confirmation slip after a check-in (None: a kiosk without a printer)
        self._spawn = spawn
        self._retried = False
        self.scanning = False

    # ------------------------------------------------------------------ the resident's touches

    def open(self) -> None:
        """The welcome screen's 「予約のある方」."""
        self._notify(None)
        self._resident().appointment_pin = ""
        self._flow.set_screen(Screen.APPOINTMENT)

    def type_digit(self, digit: str) -> None:
        resident = self._resident()
        if digit.isdigit() and len(digit) == 1 and len(resident.appointment_pin) < PIN_DIGITS:
            resident.appointment_pin += digit
        self._flow.events.emit("appointment_pin", digits=len(resident.appointment_pin))

    def erase(self) -> None:
        resident = self._resident()
        resident.appointment_pin = resident.appointment_pin[:-1]
        self._flow.events.emit("appointment_pin", digits=len(resident.appointment_pin))

    async def submit(self) -> None:
        resident = self._resident()
        if len(resident.appointment_pin) != PIN_DIGITS:
            self._notify(Notice("appointment.short"))
            return
        if not self._online():
            self._notify(Notice("trouble.offline"))
            return
        self._retried = False
        await self._check_in(None)

    async def scan_qr(self) -> bool:
        """Read the QR code held up to the camera and check in with its PIN; False when none was seen."""
        if self.scanning:
            return False
        track = self._media.camera_track()
        if track is None:
            self._notify(Notice("trouble.camera"))
            return False
        self.scanning = True
        self._flow.events.emit("appointment_scan", scanning=True)
        detector = qr_detector()
        pin = None
        try:
            for _ in range(QR_FRAMES):
                frame = await asyncio.wait_for(track.recv(), 2.0)
                if not isinstance(frame, av.VideoFrame):
                    continue
                pin = pin_from_qr(frame.to_ndarray(format="bgr24"), detector)
                if pin is not None:
                    break
        except Exception as exc:  # a camera that stops or stalls is a camera without a code
            log.info("QR reading stopped: %s", exc)
        finally:
            track.stop()  # the frames were looked at in memory only, never kept
            self.scanning = False
            self._flow.events.emit("appointment_scan", scanning=False)
        if pin is None:
            self._notify(Notice("appointment.no_qr"))
            return False
        self._resident().appointment_pin = pin
        await self.submit()
        return True

    async def _check_in(self, department: str | None) -> None:
        """Ask the server; ``department`` None: the booking's own (the server finds it)."""
        resident = self._resident()
        resident.department = department
        resident.requested = True
        caller = p.CallerInfo(language=resident.language)
        await self._send(
            p.RequestCall(department=department, caller=caller, appointment_pin=resident.appointment_pin)
        )

    # ------------------------------------------------------------------ the server's answers

    def server_handlers(
        self, refused: Callable[[p.CallRefused], None]
    ) -> dict[type[Any], Callable[[Any], None]]:
        """Its own messages, and call_refused: an appointment's refusal here, any other to ``refused``."""

        def on_refused(message: p.CallRefused) -> None:
            if message.reason.startswith("appointment_"):
                self._on_refused(message)
            else:
                refused(message)

        return {p.AppointmentCheckedIn: self._on_checked_in, p.CallRefused: on_refused}

    def _on_checked_in(self, message: p.AppointmentCheckedIn) -> None:
        resident = self._resident()
        resident.call_id = message.call_id
        resident.department = message.department
        resident.appointment_slot = message.slot_start
        if self._slips is not None:
            masked = masked_pin(resident.appointment_pin)  # the slip shows only the last two digits
            self._spawn(self._print(message, masked, resident.language), "appointment slip")
        resident.appointment_pin = ""  # nothing of the booking stays on the kiosk but the slot time
        self._notify(None)
        self._flow.set_state(KioskState.WAITING)
        self._flow.set_screen(Screen.WAITING)
        self._flow.events.emit("appointment", slot_start=message.slot_start, early=message.early)

    async def _print(self, message: p.AppointmentCheckedIn, masked: str, language: str) -> None:
        assert self._slips is not None
        outcome = await self._slips.print(message, masked, language)
        if not outcome.ok:
            log.warning("booking slip not printed: %s %s", outcome.printer_status, outcome.detail)
        self._flow.events.emit("appointment_slip", ok=outcome.ok, printer_status=outcome.printer_status)

    def _on_refused(self, message: p.CallRefused) -> None:
        resident = self._resident()
        resident.requested = False
        if message.reason == "appointment_other_department" and not self._retried:
            self._retried = True  # the server named the booking's department: ask there once
            self._spawn(self._check_in(message.department), "appointment check-in")
            return
        resident.appointment_pin = ""
        self._flow.events.emit("refused", reason=message.reason, next_open=message.slot_start)
        self._notify(Notice(f"appointment.{message.reason}", message.department, message.slot_start))
