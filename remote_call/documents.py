"""Documents over the call's "documents" data channel: chunked, flow-controlled, SHA-256 checked, in memory.

Framing (binary messages on one ordered, reliable channel, so no cross-channel ordering is assumed):
- ``b"O" + JSON``: a DocumentOffer announcing size and SHA-256;
- ``b"C" + len(doc_id) (1 byte) + doc_id + payload``: the next chunk of that document.
The receiver assembles bytes in memory only (never on disk), refuses more than was announced, and reports
a verdict; the sender waits on ``bufferedAmount`` so a large scan never floods the SCTP buffer.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiortc import RTCDataChannel

from remote_call.incall import DocumentOffer, InCallError, incall_dict, parse_incall
from remote_call.session import DOCUMENTS_CHANNEL

__all__ = ["DOCUMENTS_CHANNEL", "DocumentReceiver", "send_document", "sha256_hex"]

log = logging.getLogger(__name__)


CHUNK_BYTES = 16 * 1024
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024
MAX_IN_FLIGHT = 4


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def send_document(
    channel: RTCDataChannel, offer: DocumentOffer, data: bytes, chunk_bytes: int = CHUNK_BYTES
) -> None:
    """Send one document; returns when every byte is handed to the channel."""
    if len(data) != offer.size or sha256_hex(data) != offer.sha256:
        raise ValueError("the offer's size or SHA-256 does not match the data")
    if channel.readyState != "open":
        raise RuntimeError("the documents channel is not open")
    channel.bufferedAmountLowThreshold = LOW_WATER
    drained = asyncio.Event()
    channel.on("bufferedamountlow", drained.set)
    try:
        channel.send(b"O" + json.dumps(incall_dict(offer)).encode())
        prefix = b"C" + bytes([len(offer.doc_id)]) + offer.doc_id.encode()
        view = memoryview(data)
        for start in range(0, len(data), chunk_bytes):
            while channel.bufferedAmount > HIGH_WATER:
                drained.clear()
                await drained.wait()
            if channel.readyState != "open":
                raise ConnectionError("the documents channel closed during the transfer")
            channel.send(prefix + bytes(view[start : start + chunk_bytes]))
    finally:
        channel.remove_listener("bufferedamountlow", drained.set)


@dataclass
class Incoming:
    offer: DocumentOffer
    buffer: bytearray


Verdict = Callable[[DocumentOffer, bytes | None, bool, str], None]


class DocumentReceiver:
    """Assembles documents arriving on a channel; calls ``on_document(offer, data, ok, detail)`` once per
    document: ``ok`` True only when every byte arrived and the SHA-256 matches (``data`` is None if not)."""

    def __init__(self, on_document: Verdict, *, max_in_flight: int = MAX_IN_FLIGHT):
        self.on_document = on_document
        self.max_in_flight = max_in_flight
        self.incoming: dict[str, Incoming] = {}

    def feed(self, message: bytes | str) -> None:
        if isinstance(message, str) or not message:
            log.warning("documents channel: ignored a non-binary message")
            return
        kind = message[:1]
        if kind == b"O":
            self._offer(message[1:])
        elif kind == b"C" and len(message) > 2:
            length = message[1]
            doc_id = message[2 : 2 + length].decode(errors="replace")
            self._chunk(doc_id, message[2 + length :])
        else:
            log.warning("documents channel: ignored a frame of unknown kind")

    def _offer(self, raw: bytes) -> None:
        try:
            offer = parse_incall(raw.decode())
        except (InCallError, UnicodeDecodeError) as exc:
            log.warning("documents channel: bad offer: %s", exc)
            return
        if not isinstance(offer, DocumentOffer):
            return
        if offer.doc_id in self.incoming or len(self.incoming) >= self.max_in_flight:
            self.on_document(offer, None, False, "too many documents at once or a repeated id")
            return
        self.incoming[offer.doc_id] = Incoming(offer, bytearray())

    def _chunk(self, doc_id: str, payload: bytes) -> None:
        entry = self.incoming.get(doc_id)
        if entry is None:
            return  # an unannounced or already failed document: drop silently (logged once at offer)
        entry.buffer += payload
        if len(entry.buffer) > entry.offer.size:
            del self.incoming[doc_id]
            self.on_document(entry.offer, None, False, "more bytes arrived than were announced")
        elif len(entry.buffer) == entry.offer.size:
            del self.incoming[doc_id]
            data = bytes(entry.buffer)
            if sha256_hex(data) != entry.offer.sha256:
                self.on_document(entry.offer, None, False, "SHA-256 mismatch: the document was damaged")
            else:
                self.on_document(entry.offer, data, True, "")

    def discard_all(self) -> None:
        """Forget partial documents (end of call)."""
        self.incoming.clear()
