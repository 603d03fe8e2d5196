"""Delayed SACK (remote_call.sctp_ack): the rules on a stand-in transport, then a real transfer between two
aiortc peers that must arrive whole with about a quarter of aiortc's SACKs."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from typing import Any

import pytest

from devtools.sessions import session_pair
from remote_call.documents import DocumentReceiver, send_document
from remote_call.incall import DocumentOffer
from remote_call.sctp_ack import ACK_EVERY_PACKETS, DelayedAcknowledgement, delay_acknowledgements

TIMEOUT = 20.0


class Association:
    """What DelayedAcknowledgement reads and calls of aiortc's RTCSctpTransport."""

    def __init__(self) -> None:
        self.state = "connected"
        self._sack_needed = False
        self._sack_misordered: set[int] = set()
        self._sack_duplicates: list[int] = []
        self.sacks = 0
        self.sent = asyncio.Event()

    async def _send_sack(self) -> None:
        self.sacks += 1
        self._sack_needed = False
        self._sack_duplicates.clear()
        self.sent.set()

    async def packet(self) -> None:
        """aiortc's _handle_data after a packet with DATA."""
        self._sack_needed = True
        await self._send_sack()


async def installed() -> tuple[Association, DelayedAcknowledgement]:
    association = Association()
    delayed = delay_acknowledgements(association)
    assert isinstance(delayed, DelayedAcknowledgement)
    return association, delayed


async def test_every_fourth_packet_is_acknowledged_at_once() -> None:
    association, delayed = await installed()
    for _ in range(ACK_EVERY_PACKETS - 1):
        await association.packet()
    assert association.sacks == 0 and association._sack_needed  # waiting for the fourth
    for _ in range(9 * ACK_EVERY_PACKETS + 1):
        await association.packet()
    assert association.sacks == 10 == delayed.sacks_sent
    assert delayed._timer is None  # nothing left waiting


async def test_a_lone_packet_is_acknowledged_after_the_delay() -> None:
    association, _ = await installed()
    await association.packet()
    assert association.sacks == 0 and association._sack_needed
    await asyncio.wait_for(association.sent.wait(), TIMEOUT)
    assert association.sacks == 1 and not association._sack_needed


@pytest.mark.parametrize("news", ["gap", "duplicate"])
async def test_a_gap_or_a_duplicate_is_reported_at_once(news: str) -> None:
    association, _ = await installed()
    if news == "gap":
        association._sack_misordered.add(7)  # a TSN past a hole: the sender should retransmit fast
    else:
        association._sack_duplicates.append(3)  # our SACK got lost: the sender resent
    await association.packet()
    assert association.sacks == 1


async def test_a_closed_association_gets_no_late_acknowledgement() -> None:
    association, delayed = await installed()
    await association.packet()
    association.state = "closed"  # a hang-up before the timer fires
    assert delayed._timer is not None
    while delayed._timer is not None or delayed._timer_tasks:  # until the timer fired and its task ended
        await asyncio.sleep(0)
    assert association.sacks == 0


async def test_installing_twice_keeps_one_and_an_unknown_aiortc_is_left_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    association, delayed = await installed()
    assert delay_acknowledgements(association) is delayed
    with caplog.at_level(logging.WARNING, logger="remote_call.sctp_ack"):
        assert delay_acknowledgements(object()) is None
    assert "SACKs stay one per packet" in caplog.text


async def test_a_document_arrives_whole_with_a_quarter_of_the_acknowledgements() -> None:
    kiosk, officer = session_pair()
    verdicts: asyncio.Queue = asyncio.Queue()
    officer.document_handlers.append(DocumentReceiver(lambda *verdict: verdicts.put_nowait(verdict)).feed)
    in_order = with_news = 0  # packets aiortc handed the delay, with nothing to report / with a gap or a dup
    try:
        await kiosk.start()
        await asyncio.wait_for(
            asyncio.gather(kiosk.documents_open.wait(), officer.documents_open.wait()), TIMEOUT
        )
        officer_sctp: Any = officer.pc.sctp
        kiosk_sctp: Any = kiosk.pc.sctp
        delayed = officer_sctp._send_sack
        assert isinstance(delayed, DelayedAcknowledgement)
        assert isinstance(kiosk_sctp._send_sack, DelayedAcknowledgement)  # the offerer's side too
        # Counting what aiortc hands the delay also proves that aiortc still calls it once per packet.
        counted = delayed.__call__

        async def count_packet() -> None:
            nonlocal in_order, with_news
            if delayed._has_news():  # loopback UDP drops some of a 2 MiB burst: those gaps are SACKed at once
                with_news += 1
            else:
                in_order += 1
            await counted()

        officer_sctp._send_sack = count_packet
        sacks_before = delayed.sacks_sent
        data = os.urandom(2 * 1024 * 1024)
        digest = hashlib.sha256(data).hexdigest()
        offer = DocumentOffer(doc_id="plan", purpose="scan", mime="image/png", size=len(data), sha256=digest)
        assert kiosk.documents is not None
        await send_document(kiosk.documents, offer, data)
        _, got, ok, detail = await asyncio.wait_for(verdicts.get(), TIMEOUT)
        assert ok and got == data, detail
        sacks = delayed.sacks_sent - sacks_before
        assert in_order + with_news > 1000  # 2 MiB in ~1,200-byte chunks: a real transfer
        assert in_order > 200  # measured here: 1,200-1,550 of 2,550-2,600
        # aiortc alone: one SACK per packet (in_order + with_news).
        assert sacks <= with_news + in_order / ACK_EVERY_PACKETS + 10, (sacks, in_order, with_news)
    finally:
        await asyncio.gather(kiosk.close(), officer.close())
