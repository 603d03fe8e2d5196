"""The officer's controller with a headless business (devtools.business_peer, real aiortc): the ring says it
is a business, the shared screen arrives on its own track, uploads are verified (and refused with a reason),
scan-only actions are refused, chat and the outcome work as for kiosks."""

from __future__ import annotations

import asyncio
import json

import pytest

from devtools.business_peer import BusinessPeer, join, sample_pdf
from devtools.headless import TIMEOUT, scan_png, start_console
from remote_call import incall as ic
from staff_console.controller import ConsoleController
from staff_console.uploads import UploadRefused, check_upload, refused_offer, sniff

DEPARTMENT = "kenchiku-shido"


async def business_call(server, console: ConsoleController) -> BusinessPeer:
    """A business rings hanako's console and she answers; both ends in call with the channels open."""
    peer = await join(console, DEPARTMENT)
    await console.set_available()
    ring = asyncio.ensure_future(console.events.wait("ring", TIMEOUT))
    await peer.request_call(DEPARTMENT)
    data = await ring
    assert data["business"] == "株式会社みちのく設計"
    started = asyncio.ensure_future(console.events.wait("call_started", TIMEOUT))
    await console.accept()
    await started
    session = console.party.session
    assert session is not None
    await asyncio.wait_for(session.channel_open.wait(), TIMEOUT)
    await peer.ready()
    return peer


async def wait_frames(source, count: int) -> None:
    got = asyncio.Event()

    def listener(_frame) -> None:
        if source.count >= count:
            got.set()

    source.listeners.append(listener)
    try:
        if source.count < count:
            await asyncio.wait_for(got.wait(), TIMEOUT)
    finally:
        source.listeners.remove(listener)


async def test_business_call_screen_share_upload_chat_and_outcome(server):
    console = await start_console(server, "hanako")
    peer = None
    try:
        peer = await business_call(server, console)
        assert console.business is not None and console.business.company == "株式会社みちのく設計"
        assert console.desk.business
        session = console.party.session
        assert session is not None

        # Camera first, then the shared screen on the third transceiver (its own LatestFrame).
        await wait_frames(session.remote_video, 5)
        shared = asyncio.ensure_future(console.events.wait("screen_share", TIMEOUT, active=True))
        await peer.share_screen(True)
        await shared
        assert console.desk.screen_share
        await wait_frames(session.remote_screen, 5)
        frame = session.remote_screen.frame
        assert (frame.width, frame.height) == (1280, 720)  # the screen, not the 320x240 camera
        stopped = asyncio.ensure_future(console.events.wait("screen_share", TIMEOUT, active=False))
        await peer.share_screen(False)
        await stopped
        assert not console.desk.screen_share

        # A three-page PDF upload: verified, counted, answered, audited like a scan.
        pdf = sample_pdf(3)
        audited = asyncio.ensure_future(console.events.wait("audit", TIMEOUT, action="document_received"))
        await peer.upload(pdf, "配置図.pdf", doc_id="up-1")
        verdict = await peer.verdict("up-1")
        assert verdict.ok, verdict.detail
        document = console.desk.documents["up-1"]
        assert document.upload and document.pages == 3 and document.data == pdf
        await audited
        record = console.desk.audit_log[-1]
        assert (record.action, record.doc_id, record.size) == ("document_received", "up-1", len(pdf))

        # Chat both ways.
        heard = asyncio.ensure_future(console.events.wait("chat", TIMEOUT, sender="resident"))
        await peer.say("図面を共有しました。")
        await heard
        await console.desk.send_chat("拝見しました。")
        await peer.events.wait("chat", TIMEOUT, text="拝見しました。")

        # No scanner, no printer at a business.
        with pytest.raises(RuntimeError, match="no scanner"):
            await console.desk.request_scan()
        with pytest.raises(RuntimeError, match="no printer"):
            await console.desk.print_slip(department="建築指導課", message="控え")

        ended = asyncio.ensure_future(peer.events.wait("call_ended", TIMEOUT))
        await console.end_call("resolved", "事前相談済み")
        await ended
        await console.events.wait("call_ended", TIMEOUT) if console.call_id else None
        entry = console.history.entries[-1]
        assert entry.business and entry.kiosk_name == "株式会社みちのく設計"
        assert entry.outcome == "resolved" and entry.documents_saved == 0
        assert not console.desk.documents  # forgotten at the end of the call (never saved)
    finally:
        if peer is not None:
            await peer.stop()
        await console.stop()


async def test_refused_uploads_get_a_reason(server):
    console = await start_console(server, "hanako")
    peer = None
    try:
        peer = await business_call(server, console)
        # A renamed .exe announced as a PDF: whole and hash-correct, but not a PDF.
        exe = b"MZ\x90\x00" + bytes(4000)
        await peer.upload(exe, "drawing.pdf", doc_id="up-exe")
        verdict = await peer.verdict("up-exe")
        assert not verdict.ok and verdict.detail.startswith("wrong_type")
        assert "up-exe" not in console.desk.documents

        # Bytes damaged in transfer: the SHA-256 does not match.
        png = scan_png(200, 200)
        offer = ic.DocumentOffer(
            doc_id="up-bad",
            purpose="upload",
            name="photo.png",
            mime="image/png",
            size=len(png),
            sha256="0" * 64,
        )
        peer.send_raw_document_frame(b"O" + json.dumps(ic.incall_dict(offer)).encode())
        peer.send_raw_document_frame(b"C" + bytes([6]) + b"up-bad" + png)
        verdict = await peer.verdict("up-bad")
        assert not verdict.ok and verdict.detail.startswith("damaged")

        # 2 GB announced: refused at the offer, before a single chunk.
        too_big = {**ic.incall_dict(offer), "doc_id": "up-big", "size": 2 * 1024**3}
        peer.send_raw_document_frame(b"O" + json.dumps(too_big).encode())
        verdict = await peer.verdict("up-big")
        assert not verdict.ok and verdict.detail.startswith("too_large")

        # A broken PDF (right magic, no document).
        broken = b"%PDF-1.7\n" + bytes(range(256)) * 8
        await peer.upload(broken, "broken.pdf", doc_id="up-broken")
        verdict = await peer.verdict("up-broken")
        assert not verdict.ok and verdict.detail.startswith("unreadable")
        assert set(console.desk.failed_documents) >= {"up-exe", "up-bad", "up-big", "up-broken"}
    finally:
        if peer is not None:
            await peer.stop()
        await console.stop()


def test_upload_checks_without_a_call():
    pdf = sample_pdf(2)
    assert sniff(pdf) == "application/pdf" and sniff(b"MZ") is None
    offer = ic.DocumentOffer(
        doc_id="d", purpose="upload", mime="application/pdf", size=len(pdf), sha256="a" * 64
    )
    assert check_upload(offer, pdf) == 2
    with pytest.raises(UploadRefused) as refused:
        check_upload(offer.model_copy(update={"mime": "image/png"}), pdf)
    assert refused.value.reason == "wrong_type"
    frame = b"O" + json.dumps({**ic.incall_dict(offer), "mime": "application/x-msdownload"}).encode()
    assert refused_offer(frame) == (
        "d",
        "",
        "wrong_type: 'application/x-msdownload' is not a PDF, PNG or JPEG",
    )
    assert refused_offer(b"O" + json.dumps(ic.incall_dict(offer)).encode()) is None  # valid: the receiver's
    assert refused_offer(b"C\x01dxxxx") is None
