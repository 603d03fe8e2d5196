"""Document transfer (remote_call.documents) frame by frame: what the sender puts on the channel and when it
waits, and every verdict the receiver gives. A stand-in channel, so each path is deterministic; the real
data channel is tested in test_session.py."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from remote_call.documents import HIGH_WATER, LOW_WATER, DocumentReceiver, send_document, sha256_hex
from remote_call.incall import Chat, DocumentOffer, incall_dict


class Channel:
    """What send_document uses of an RTCDataChannel: state, buffered amount, send, bufferedamountlow."""

    def __init__(self, state: str = "open") -> None:
        self.readyState = state
        self.bufferedAmount = 0
        self.bufferedAmountLowThreshold = 0
        self.sent: list[bytes] = []
        self.listeners: dict[str, list[Callable[[], Any]]] = {}
        self.on_send: Callable[[bytes], None] = lambda _frame: None
        self.arrived = asyncio.Event()

    def on(self, event: str, listener: Callable[[], Any]) -> None:
        self.listeners.setdefault(event, []).append(listener)

    def remove_listener(self, event: str, listener: Callable[[], Any]) -> None:
        self.listeners[event].remove(listener)

    def send(self, frame: bytes) -> None:
        self.sent.append(frame)
        self.on_send(frame)
        self.arrived.set()

    async def frames(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` frames were sent (TimeoutError after ``timeout``)."""

        async def enough() -> None:
            while len(self.sent) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)

    def drain(self) -> None:
        self.bufferedAmount = 0
        for listener in list(self.listeners.get("bufferedamountlow", [])):
            listener()


def offer_for(data: bytes, doc_id: str = "scan1") -> DocumentOffer:
    return DocumentOffer(
        doc_id=doc_id, purpose="scan", mime="image/png", size=len(data), sha256=sha256_hex(data)
    )


def offer_frame(offer: DocumentOffer) -> bytes:
    return b"O" + json.dumps(incall_dict(offer)).encode()


def chunk_frame(doc_id: str, payload: bytes) -> bytes:
    return b"C" + bytes([len(doc_id)]) + doc_id.encode() + payload


class Verdicts(list):
    def __call__(self, offer: DocumentOffer, data: bytes | None, ok: bool, detail: str) -> None:
        self.append((offer.doc_id, data, ok, detail))


# ------------------------------------------------------------------ sending


async def test_the_offer_goes_first_then_numbered_chunks_of_the_chosen_size() -> None:
    channel = Channel()
    data = os.urandom(2500)
    offer = offer_for(data, "d7")
    await send_document(channel, offer, data, chunk_bytes=1000)  # type: ignore[arg-type]
    assert channel.sent[0] == offer_frame(offer)
    assert channel.sent[1:] == [chunk_frame("d7", data[i : i + 1000]) for i in (0, 1000, 2000)]
    assert channel.bufferedAmountLowThreshold == LOW_WATER
    assert channel.listeners["bufferedamountlow"] == []  # the sender's listener is gone afterwards


async def test_the_default_chunk_is_16_kib() -> None:
    channel = Channel()
    data = os.urandom(16 * 1024 + 1)
    await send_document(channel, offer_for(data), data)  # type: ignore[arg-type]
    assert [len(frame) for frame in channel.sent[1:]] == [7 + 16 * 1024, 7 + 1]


@pytest.mark.parametrize("lie", ["size", "sha256"])
async def test_an_offer_that_does_not_match_the_data_is_refused_before_sending(lie: str) -> None:
    channel = Channel()
    data = os.urandom(100)
    wrong = {"size": 99} if lie == "size" else {"sha256": sha256_hex(b"other")}
    with pytest.raises(ValueError, match=r"^the offer's size or SHA-256 does not match the data$"):
        await send_document(channel, offer_for(data).model_copy(update=wrong), data)  # type: ignore[arg-type]
    assert channel.sent == []


async def test_a_channel_that_is_not_open_is_refused() -> None:
    channel = Channel("connecting")
    data = b"x"
    with pytest.raises(RuntimeError, match=r"^the documents channel is not open$"):
        await send_document(channel, offer_for(data), data)  # type: ignore[arg-type]
    assert channel.sent == []


async def test_the_sender_waits_above_the_high_water_mark_until_the_channel_drains() -> None:
    channel = Channel()
    data = os.urandom(3000)
    channel.on_send = lambda frame: setattr(channel, "bufferedAmount", HIGH_WATER + 1)
    sending = asyncio.ensure_future(send_document(channel, offer_for(data), data, chunk_bytes=1000))  # type: ignore[arg-type]
    await channel.frames(1)  # the offer, which filled the buffer
    with pytest.raises(TimeoutError):
        await channel.frames(2, timeout=0.2)  # no chunk while the buffer is over the mark
    channel.drain()
    await channel.frames(2)  # one chunk, and the buffer is full again
    with pytest.raises(TimeoutError):
        await channel.frames(3, timeout=0.2)
    channel.on_send = lambda frame: None
    channel.drain()
    await asyncio.wait_for(sending, 5)
    assert len(channel.sent) == 4


async def test_exactly_at_the_high_water_mark_the_sender_goes_on() -> None:
    channel = Channel()
    data = os.urandom(2000)
    channel.on_send = lambda frame: setattr(channel, "bufferedAmount", HIGH_WATER)
    await asyncio.wait_for(send_document(channel, offer_for(data), data, chunk_bytes=1000), 1)  # type: ignore[arg-type]
    assert len(channel.sent) == 3


async def test_a_channel_closing_during_the_transfer_raises_and_lets_go_of_the_channel() -> None:
    channel = Channel()
    data = os.urandom(3000)

    def close_after_the_first_chunk(frame: bytes) -> None:
        if frame.startswith(b"C"):
            channel.readyState = "closing"

    channel.on_send = close_after_the_first_chunk
    with pytest.raises(ConnectionError, match=r"^the documents channel closed during the transfer$"):
        await send_document(channel, offer_for(data), data, chunk_bytes=1000)  # type: ignore[arg-type]
    assert len(channel.sent) == 2 and channel.listeners["bufferedamountlow"] == []


# ------------------------------------------------------------------ receiving


def test_a_document_in_chunks_is_delivered_once_whole_and_forgotten() -> None:
    verdicts = Verdicts()
    receiver = DocumentReceiver(verdicts)
    data = os.urandom(2500)
    receiver.feed(offer_frame(offer_for(data)))
    for start in range(0, 2500, 1000):
        assert verdicts == []
        receiver.feed(chunk_frame("scan1", data[start : start + 1000]))
    assert verdicts == [("scan1", data, True, "")]
    assert receiver.incoming == {}


def test_a_damaged_document_is_refused_and_forgotten() -> None:
    verdicts = Verdicts()
    receiver = DocumentReceiver(verdicts)
    data = os.urandom(100)
    receiver.feed(offer_frame(offer_for(data)))
    receiver.feed(chunk_frame("scan1", bytes([data[0] ^ 1]) + data[1:]))
    assert verdicts == [("scan1", None, False, "SHA-256 mismatch: the document was damaged")]
    assert receiver.incoming == {}


def test_more_bytes_than_announced_are_refused_and_the_rest_dropped() -> None:
    verdicts = Verdicts()
    receiver = DocumentReceiver(verdicts)
    data = os.urandom(100)
    receiver.feed(offer_frame(offer_for(data)))
    receiver.feed(chunk_frame("scan1", data[:60]))
    receiver.feed(chunk_frame("scan1", data[60:] + b"!"))
    receiver.feed(chunk_frame("scan1", b"more"))  # the document is gone: dropped silently
    assert verdicts == [("scan1", None, False, "more bytes arrived than were announced")]
    assert receiver.incoming == {}


def test_at_most_four_documents_at_once_and_no_repeated_id() -> None:
    verdicts = Verdicts()
    receiver = DocumentReceiver(verdicts)
    data = os.urandom(10)
    for i in range(4):
        receiver.feed(offer_frame(offer_for(data, f"d{i}")))
    assert verdicts == [] and list(receiver.incoming) == ["d0", "d1", "d2", "d3"]
    receiver.feed(offer_frame(offer_for(data, "d4")))
    receiver.feed(chunk_frame("d4", data))
    refusal = "too many documents at once or a repeated id"
    assert verdicts == [("d4", None, False, refusal)]
    receiver.feed(chunk_frame("d0", data))
    receiver.feed(offer_frame(offer_for(data, "d1")))  # d1 is still arriving
    assert verdicts[1:] == [("d0", data, True, ""), ("d1", None, False, refusal)]
    assert list(receiver.incoming) == ["d1", "d2", "d3"]


def test_the_limit_in_flight_is_a_setting() -> None:
    verdicts = Verdicts()
    receiver = DocumentReceiver(verdicts, max_in_flight=1)
    data = os.urandom(10)
    receiver.feed(offer_frame(offer_for(data, "a")))
    receiver.feed(offer_frame(offer_for(data, "b")))
    assert [(doc_id, ok) for doc_id, _, ok, _ in verdicts] == [("b", False)]


def test_discard_all_forgets_partial_documents() -> None:
    verdicts = Verdicts()
    receiver = DocumentReceiver(verdicts)
    data = os.urandom(100)
    receiver.feed(offer_frame(offer_for(data)))
    receiver.feed(chunk_frame("scan1", data[:50]))
    receiver.discard_all()
    receiver.feed(chunk_frame("scan1", data[50:]))
    assert verdicts == [] and receiver.incoming == {}


@pytest.mark.parametrize(
    "frame",
    [
        "O{}",  # text, not binary
        b"",
        b"X" + b"whatever",  # unknown kind
        b"C\x01",  # a chunk frame too short to name a document
        b"O{not json",
        b"O\xff\xfe",  # not UTF-8
        b"O" + json.dumps(incall_dict(Chat(id="1", text="hello", sender="officer"))).encode(),  # not an offer
    ],
)
def test_frames_that_are_not_documents_are_ignored(frame: bytes | str) -> None:
    verdicts = Verdicts()
    receiver = DocumentReceiver(verdicts)
    receiver.feed(frame)
    assert verdicts == [] and receiver.incoming == {}


def test_a_one_byte_chunk_of_a_one_letter_id_arrives() -> None:
    verdicts = Verdicts()
    receiver = DocumentReceiver(verdicts)
    receiver.feed(offer_frame(offer_for(b"z", "a")))
    receiver.feed(b"C\x01az")  # the shortest chunk frame there is
    assert verdicts == [("a", b"z", True, "")]


def test_a_chunk_for_an_unannounced_document_is_dropped() -> None:
    verdicts = Verdicts()
    receiver = DocumentReceiver(verdicts)
    receiver.feed(chunk_frame("ghost", b"abc"))
    assert verdicts == [] and receiver.incoming == {}


def test_a_frame_of_another_kind_never_feeds_a_document_in_flight() -> None:
    verdicts = Verdicts()
    receiver = DocumentReceiver(verdicts)
    data = os.urandom(10)
    receiver.feed(offer_frame(offer_for(data, "ab")))
    receiver.feed(b"X\x02ab" + b"junk")  # shaped like a chunk of "ab", but not one
    receiver.feed(chunk_frame("ab", data))
    assert verdicts == [("ab", data, True, "")]


def test_a_chunk_whose_id_is_not_utf8_is_dropped() -> None:
    verdicts = Verdicts()
    receiver = DocumentReceiver(verdicts)
    receiver.feed(b"C\x02\xff\xfe" + b"data")
    assert verdicts == [] and receiver.incoming == {}
