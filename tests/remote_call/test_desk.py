"""The shared in-call desk (remote_call.desk): sending once the channel is open, the dispatch table, chat
lines, document verdicts, and letting go of a call. Driven with a stand-in session (no aiortc), so every
path is deterministic."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from remote_call import incall as ic
from remote_call.desk import CallDesk, Handler, ShownDocument
from remote_call.documents import sha256_hex
from remote_call.events import EventHub


class Channel:
    def __init__(self, state: str) -> None:
        self.readyState = state


class FakeSession:
    """What a desk uses of a CallSession: the handler lists, the control channel and its open event."""

    def __init__(self, call_id: str = "c1", *, open_: bool = True) -> None:
        self.call_id = call_id
        self.control_handlers: list[Any] = []
        self.document_handlers: list[Any] = []
        self.channel = Channel("open" if open_ else "connecting")
        self.channel_open = asyncio.Event()
        if open_:
            self.channel_open.set()
        self.sent: list[dict[str, Any]] = []
        self.something_sent = asyncio.Event()

    def open(self) -> None:
        self.channel.readyState = "open"
        self.channel_open.set()

    def send_control(self, message: dict[str, Any]) -> None:
        if self.channel.readyState != "open":
            raise RuntimeError("the control channel is not open")
        self.sent.append(message)
        self.something_sent.set()


class OfficerDesk(CallDesk):
    """A minimal party: hears the resident, answers scans, keeps what it took."""

    me = "officer"
    peer = "resident"

    def __init__(self, events: EventHub) -> None:
        self.heard_lines: list[str] = []
        self.statuses: list[ic.ScanStatus] = []
        self.taken: list[tuple[str, bytes | None]] = []
        super().__init__(events)

    def handlers(self) -> dict[type[ic.InCall], Handler]:
        return {**super().handlers(), ic.ScanStatus: self.statuses.append}

    def heard(self, text: str) -> None:
        self.heard_lines.append(text)

    def take_document(self, offer: ic.DocumentOffer, data: bytes | None, detail: str) -> str | None:
        self.taken.append((offer.doc_id, data))
        return detail


def desk_on(session: FakeSession) -> OfficerDesk:
    desk = OfficerDesk(EventHub())
    desk.attach(session)  # type: ignore[arg-type]  # a stand-in for CallSession
    return desk


def deliver(session: FakeSession, message: ic.InCall | dict[str, Any]) -> None:
    raw = message if isinstance(message, dict) else ic.incall_dict(message)
    for handler in list(session.control_handlers):
        handler(raw)


async def test_a_message_given_before_the_channel_opens_is_sent_when_it_opens():
    session = FakeSession(open_=False)
    desk = desk_on(session)
    assert desk.send_soon(ic.ScanStatus(request_id="r1", stage="placing")) is True
    assert session.sent == []
    session.open()
    await asyncio.wait_for(session.something_sent.wait(), 5)
    assert [m["type"] for m in session.sent] == ["scan_status"]
    assert desk.send_soon(ic.ScanStatus(request_id="r1", stage="done")) is True  # open: at once
    assert [m["stage"] for m in session.sent] == ["placing", "done"]


async def test_without_a_call_nothing_is_sent_and_waiting_for_the_channel_raises():
    desk = OfficerDesk(EventHub())
    assert desk.send_soon(ic.DocumentWithdrawn(doc_id="d1")) is False
    with pytest.raises(RuntimeError, match="no call in progress"):
        await desk.send_when_open(ic.DocumentWithdrawn(doc_id="d1"))


async def test_a_pending_send_goes_nowhere_once_the_desk_lets_go_of_the_call():
    old = FakeSession("c1", open_=False)
    desk = desk_on(old)
    desk.send_soon(ic.DocumentWithdrawn(doc_id="d1"))
    pending = list(desk._pending._tasks)
    new = FakeSession("c1")  # the media was rebuilt: a new session for the same call
    desk.attach(new)  # type: ignore[arg-type]  # a stand-in for CallSession
    old.open()
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert len(results) == 1 and isinstance(results[0], asyncio.CancelledError)
    assert old.sent == [] and new.sent == []
    assert old.control_handlers == [] and new.control_handlers == [desk._on_control]


async def test_messages_go_to_the_handler_listed_for_their_type_and_chat_only_from_the_peer():
    session = FakeSession()
    desk = desk_on(session)
    deliver(session, ic.Chat(id="m1", text="はい", sender="resident"))
    deliver(session, ic.Chat(id="m2", text="echo of my own line", sender="officer"))
    deliver(session, ic.ScanStatus(request_id="r1", stage="scanning"))
    deliver(session, ic.PrintResult(slip_id="s1", ok=True))  # not in this desk's table: ignored
    assert [(line.sender, line.text) for line in desk.chat] == [("resident", "はい")]
    assert desk.heard_lines == ["はい"]
    assert [s.stage for s in desk.statuses] == ["scanning"]


async def test_an_unreadable_message_is_logged_by_its_type_only(caplog):
    session = FakeSession()
    desk = desk_on(session)
    with caplog.at_level(logging.WARNING, logger="remote_call.desk"):
        deliver(session, {"type": "chat", "id": "m1", "text": "私の住所は盛岡市内丸1-1", "sender": "nobody"})
    assert desk.chat == [] and "ignored an unreadable in-call message of type 'chat'" in caplog.text
    assert "盛岡市" not in caplog.text


async def test_own_lines_are_sent_and_kept_and_say_when_open_raises_before_keeping_anything():
    session = FakeSession()
    desk = desk_on(session)
    line = await desk.say_when_open("ご用件をどうぞ")
    assert (line.sender, line.text) == ("officer", "ご用件をどうぞ") and desk.chat == [line]
    assert session.sent[-1]["sender"] == "officer" and session.sent[-1]["text"] == "ご用件をどうぞ"
    desk.detach()
    with pytest.raises(RuntimeError):
        await desk.say_when_open("nobody hears this")
    assert desk.chat == []


async def test_every_arriving_document_is_answered_with_the_takers_verdict():
    session = FakeSession()
    desk = desk_on(session)
    data = b"\x89PNG" + bytes(100)
    offer = ic.DocumentOffer(
        doc_id="scan-1", purpose="scan", mime="image/png", size=len(data), sha256=sha256_hex(data)
    )
    desk._on_document(offer, data, True, "")
    desk._on_document(offer.model_copy(update={"doc_id": "scan-2"}), None, False, "SHA-256 mismatch")
    assert desk.taken == [("scan-1", data), ("scan-2", None)]
    verdicts = [m for m in session.sent if m["type"] == "document_received"]
    assert [(v["doc_id"], v["ok"], v.get("detail", "")) for v in verdicts] == [
        ("scan-1", True, ""),
        ("scan-2", False, "SHA-256 mismatch"),
    ]


async def test_detach_forgets_the_calls_notes():
    session = FakeSession()
    desk = desk_on(session)
    data = b"x" * 10
    offer = ic.DocumentOffer(
        doc_id="show-1", purpose="show", mime="image/png", size=len(data), sha256=sha256_hex(data)
    )
    desk.shown["show-1"] = ShownDocument(offer, data)
    deliver(session, ic.Chat(id="m1", text="はい", sender="resident"))
    assert desk.shown["show-1"].doc_id == "show-1" and desk.shown["show-1"].mime == "image/png"
    desk.detach()
    assert desk.chat == [] and desk.shown == {} and desk.session is None and desk.call_id is None
    assert session.control_handlers == [] and session.document_handlers == []
