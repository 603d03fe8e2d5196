"""Headless parties for tests, screenshots and demos: kiosks and consoles against a (test) server, and the
resident's end of a call's channels driven directly (``KioskInbox``).

Used by tests/staff_console and the console's screenshots (``devtools.console_shots``)."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

from PIL import Image

from hardware.simulated import SimulatedMedia
from kiosk_client.controller import KioskController, KioskState
from remote_call import incall as ic
from remote_call.documents import send_document, sha256_hex
from staff_console.controller import ConsoleController
from staff_console.media import ConsoleMedia

TIMEOUT = 20.0
PASSWORD = "correct horse battery"


def kiosk_media() -> SimulatedMedia:
    return SimulatedMedia("kiosk", 320, 240, 15, 440.0)


def console_media() -> ConsoleMedia:
    return ConsoleMedia(SimulatedMedia("officer", 320, 240, 15, 660.0))


async def start_kiosk(server: Any, kiosk_id: str = "kiosk-ueda") -> KioskController:
    kiosk = KioskController(server.url, kiosk_id, server.fleet.kiosk_tokens[kiosk_id], kiosk_media())
    await kiosk.start(TIMEOUT)
    return kiosk


async def start_console(server: Any, username: str = "hanako", *, role: str = "officer") -> ConsoleController:
    console = ConsoleController(
        server.url, username, PASSWORD, console_media(), role=role, config=server.config
    )
    await console.start(TIMEOUT)
    return console


class KioskInbox:
    """The kiosk's end of the call's control channel: every in-call message the console sent."""

    def __init__(self, kiosk: KioskController):
        session = kiosk.party.session
        assert session is not None
        self.session = session
        self.messages: list[ic.InCall] = []
        self._waiters: list[tuple[type, asyncio.Future]] = []
        session.control_handlers.append(self._on)

    def _on(self, raw: dict) -> None:
        message = ic.parse_incall(raw)
        self.messages.append(message)
        for kind, future in list(self._waiters):
            if isinstance(message, kind) and not future.done():
                future.set_result(message)

    async def expect(self, kind: type, timeout: float = TIMEOUT) -> Any:
        for message in self.messages:
            if isinstance(message, kind):
                self.messages.remove(message)
                return message
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.append((kind, future))
        try:
            message = await asyncio.wait_for(future, timeout)
        finally:
            self._waiters.remove((kind, future))
        self.messages.remove(message)
        return message

    def send(self, message: ic.InCall) -> None:
        self.session.send_control(ic.incall_dict(message))

    async def send_scan(
        self, data: bytes, request_id: str | None, *, doc_id: str = "scan-1", **fields: Any
    ) -> ic.DocumentOffer:
        """Send ``data`` as the scan for ``request_id``; ``fields`` override the offer (name, dpi, ...)."""
        await asyncio.wait_for(self.session.documents_open.wait(), TIMEOUT)
        offer = scan_offer(data, request_id, doc_id, **fields)
        assert self.session.documents is not None
        await send_document(self.session.documents, offer, data)
        return offer


async def send_damaged_scan(inbox: KioskInbox, data: bytes, request_id: str | None, doc_id: str) -> None:
    """Frames a document by hand (remote_call.documents framing) whose bytes do not match its SHA-256."""
    await asyncio.wait_for(inbox.session.documents_open.wait(), TIMEOUT)
    channel = inbox.session.documents
    assert channel is not None
    offer = scan_offer(data, request_id, doc_id)
    channel.send(b"O" + json.dumps(ic.incall_dict(offer)).encode())
    damaged = bytes([data[0] ^ 0xFF]) + data[1:]
    channel.send(b"C" + bytes([len(doc_id)]) + doc_id.encode() + damaged)


def scan_offer(data: bytes, request_id: str | None, doc_id: str, **fields: Any) -> ic.DocumentOffer:
    """The offer a kiosk makes for a scanned PNG page (``fields`` override any of its fields)."""
    offer = {"doc_id": doc_id, "purpose": "scan", "request_id": request_id, "name": "scan.png"}
    offer |= {"mime": "image/png", "size": len(data), "sha256": sha256_hex(data)}
    return ic.DocumentOffer.model_validate(offer | fields)


def scan_png(width: int = 620, height: int = 877) -> bytes:
    """A small but real PNG page."""
    image = Image.new("RGB", (width, height), "white")
    for y in range(40, height - 40, 30):
        image.paste((40, 40, 40), (60, y, width - 60, y + 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


async def connect_call(
    server: Any,
    kiosk: KioskController,
    console: ConsoleController,
    department: str = "shimin-toroku",
    procedure: str | None = None,
    accessibility: list[str] | None = None,
) -> str:
    """Kiosk asks, the console rings and accepts; both ends in call with the control channel open."""
    await console.set_available()
    ring = asyncio.ensure_future(console.events.wait("ring", TIMEOUT))
    await kiosk.request_call(department, procedure=procedure, language="en", accessibility=accessibility)
    data = await ring
    started = asyncio.ensure_future(console.events.wait("call_started", TIMEOUT))
    await console.accept()
    await started
    await kiosk.wait_for_state(KioskState.IN_CALL, TIMEOUT)
    session = console.party.session
    assert session is not None
    await asyncio.wait_for(session.channel_open.wait(), TIMEOUT)
    assert kiosk.party.session is not None
    await asyncio.wait_for(kiosk.party.session.channel_open.wait(), TIMEOUT)
    return data["call_id"]
