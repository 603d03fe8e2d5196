"""A scan is named by its real type: a JPEG page travels as "scan.jpg", never as "scan.png"."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest

from kiosk_client.peripherals import ScannedPage
from kiosk_client.resident import ScanTask
from kiosk_client.scanning import Scanning, scan_name
from remote_call import incall as ic
from remote_call.documents import send_document


class FakeChannel:
    """Just enough of an open RTCDataChannel for remote_call.documents.send_document."""

    readyState = "open"
    bufferedAmount = 0
    bufferedAmountLowThreshold = 0

    def __init__(self, on_frame) -> None:
        self.on_frame = on_frame

    def on(self, _event: str, _handler: Any) -> None:
        pass

    def remove_listener(self, _event: str, _handler: Any) -> None:
        pass

    def send(self, data: bytes) -> None:
        self.on_frame(data)


@pytest.mark.parametrize(
    ("mime", "name"), [("image/png", "scan.png"), ("image/jpeg", "scan.jpg"), ("application/pdf", "scan.pdf")]
)
async def test_the_offer_names_the_scan_by_its_mime_type(mime: str, name: str):
    offers: list[ic.DocumentOffer] = []
    scanning: Scanning

    def on_frame(data: bytes) -> None:
        if data[:1] == b"O":
            offer = ic.DocumentOffer.model_validate(json.loads(data[1:]))
            offers.append(offer)
            scanning.verdict(ic.DocumentReceived(doc_id=offer.doc_id, ok=True))

    opened = asyncio.Event()
    opened.set()
    session = SimpleNamespace(documents_open=opened, documents=FakeChannel(on_frame))
    desk = SimpleNamespace(session=session, send_document=lambda s, o, d: send_document(s.documents, o, d))
    scanning = Scanning(desk, None, None, None, None, None)  # type: ignore[arg-type]
    page = ScannedPage(data=b"\xff\xd8 page bytes", mime=mime, width=100, height=140, dpi=200)
    verdict = await scanning._send(ScanTask("req-1", ""), page)
    assert verdict.ok and [o.name for o in offers] == [name] and offers[0].mime == mime


def test_a_type_that_cannot_be_sent_is_refused():
    with pytest.raises(ValueError, match="image/tiff"):
        scan_name("image/tiff")
