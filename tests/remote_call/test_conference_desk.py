"""The rules of the in-call messages over extra pairs (remote_call.conference_desk), both ends real PeerDesks
over a pair of in-memory channels (what one end sends, the other end's handlers receive; the documents go
through the real chunking and SHA-256 check). The same over real aiortc: test_three_way_desk.py."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

from remote_call import incall as ic
from remote_call import protocol as p
from remote_call.conference_desk import PeerDesk
from remote_call.documents import sha256_hex

TIMEOUT = 5.0


class End:
    """One end of a peer connection's control and documents channels, wired to the other end."""

    def __init__(self) -> None:
        self.control_handlers: list[Any] = []
        self.document_handlers: list[Any] = []
        self.other: End | None = None
        self.channel_open = asyncio.Event()
        self.channel_open.set()
        self.documents_open = asyncio.Event()
        self.documents_open.set()
        self.channel = SimpleNamespace(readyState="open")
        self.documents = SimpleNamespace(
            readyState="open",
            bufferedAmount=0,
            bufferedAmountLowThreshold=0,
            on=lambda *_: None,
            remove_listener=lambda *_: None,
            send=self._send_frame,
        )
        self.sent: list[dict[str, Any]] = []

    def send_control(self, data: dict[str, Any]) -> None:
        self.sent.append(data)
        assert self.other is not None
        for handler in list(self.other.control_handlers):
            handler(json.loads(json.dumps(data)))

    def _send_frame(self, frame: bytes) -> None:
        assert self.other is not None
        for handler in list(self.other.document_handlers):
            handler(frame)


def pair(a: PeerDesk, a_sees: p.PartyId, b: PeerDesk, b_sees: p.PartyId, conferences) -> tuple[End, End]:
    ends = End(), End()
    ends[0].other, ends[1].other = ends[1], ends[0]
    for listener in conferences[0].link_listeners:
        listener(a_sees, ends[0])
    for listener in conferences[1].link_listeners:
        listener(b_sees, ends[1])
    return ends


def offer(purpose: str, data: bytes, warning: str | None = None) -> ic.DocumentOffer:
    return ic.DocumentOffer.model_validate(
        {
            "doc_id": f"{purpose}-1",
            "purpose": purpose,
            "name": "page.jpg",
            "mime": "image/jpeg",
            "size": len(data),
            "sha256": sha256_hex(data),
            "warning": warning,
        }
    )


class Interpreter:
    def __init__(self) -> None:
        self.conference = SimpleNamespace(link_listeners=[])
        self.lines: list[tuple[str, str]] = []
        self.documents: list[tuple[str, str, bytes | None, str]] = []
        self.arrived = asyncio.Event()
        self.desk = PeerDesk(
            self.conference,  # type: ignore[arg-type]
            "interpreter",
            shares_with=frozenset({"caller", "officer"}),
            on_chat=lambda sender, text: self.lines.append((sender, text)),
            on_document=self._document,
        )

    def _document(self, peer: str, offer: ic.DocumentOffer, data: bytes | None, detail: str) -> None:
        self.documents.append((peer, offer.purpose, data, detail))
        self.arrived.set()


async def test_a_scan_reaches_the_interpreter_checked_and_a_card_shaped_one_never_leaves_the_kiosk():
    interpreter = Interpreter()
    kiosk_conference = SimpleNamespace(link_listeners=[])
    kiosk = PeerDesk(kiosk_conference, "resident")
    kiosk_end, _ = pair(
        kiosk, "interpreter", interpreter.desk, "caller", (kiosk_conference, interpreter.conference)
    )
    card = b"\xff\xd8 the back of a card"
    kiosk.share_document(offer("scan", card, warning="mynumber_back"), card)
    page = b"\xff\xd8 a resident's form"
    kiosk.share_document(offer("scan", page), page)
    await asyncio.wait_for(interpreter.arrived.wait(), TIMEOUT)
    assert interpreter.documents == [("caller", "scan", page, "")]
    assert [m["type"] for m in interpreter.desk._peers["caller"].session.sent] == ["document_received"]
    assert kiosk_end.sent == []  # the kiosk sent no control message: only the one document's frames


async def test_a_scan_reaches_the_interpreter_but_never_a_family_member():
    interpreter = Interpreter()
    guest = Interpreter()  # a desk that takes whatever arrives; seen by the kiosk as "guest"
    kiosk_conference = SimpleNamespace(link_listeners=[])
    kiosk = PeerDesk(kiosk_conference, "resident")
    pair(kiosk, "interpreter", interpreter.desk, "caller", (kiosk_conference, interpreter.conference))
    pair(kiosk, "guest", guest.desk, "caller", (kiosk_conference, guest.conference))
    page = b"\xff\xd8 a resident's form"
    kiosk.share_document(offer("scan", page), page)
    assert len(kiosk._tasks) == 1  # one transfer only: to the interpreter
    await asyncio.wait_for(interpreter.arrived.wait(), TIMEOUT)
    assert interpreter.documents == [("caller", "scan", page, "")]
    assert guest.documents == []
    assert kiosk.share_line("ありがとうございます") == 2  # the chat reaches both


async def test_the_interpreter_takes_only_what_each_party_may_show():
    interpreter = Interpreter()
    caller_conference = SimpleNamespace(link_listeners=[])
    caller = PeerDesk(caller_conference, "resident")
    pair(caller, "interpreter", interpreter.desk, "caller", (caller_conference, interpreter.conference))
    data = b"\xff\xd8 not the caller's to show"
    caller.share_document(offer("show", data), data)  # a caller shows nothing: only the officer does
    await asyncio.wait_for(interpreter.arrived.wait(), TIMEOUT)
    assert interpreter.documents == [("caller", "show", None, "show is not shared by caller")]
    answer = interpreter.desk._peers["caller"].session.sent[-1]
    assert (answer["type"], answer["ok"]) == ("document_received", False)


async def test_a_chat_line_counts_only_as_its_own_partys_and_each_party_shares_its_own():
    interpreter = Interpreter()
    officer_conference = SimpleNamespace(link_listeners=[])
    heard: list[tuple[str, str]] = []
    officer = PeerDesk(officer_conference, "officer", on_chat=lambda s, t: heard.append((s, t)))
    officer_end, interpreter_end = pair(
        officer, "interpreter", interpreter.desk, "officer", (officer_conference, interpreter.conference)
    )
    officer_end.send_control({"type": "chat", "id": "m-1", "text": "I am the resident", "sender": "resident"})
    assert interpreter.lines == []  # the officer's connection cannot speak for the resident
    assert officer.share_line("お名前を確認します") == 1
    assert interpreter.lines == [("officer", "お名前を確認します")]
    assert interpreter.desk.share_line("Bishnu Prasad Sharma") == 1  # to the one party connected
    assert heard == [("interpreter", "Bishnu Prasad Sharma")]
    only_officer = PeerDesk(SimpleNamespace(link_listeners=[]), "officer", shares_with=frozenset())
    assert only_officer.share_line("nobody to share with") == 0
    assert interpreter_end.sent[-1]["sender"] == "interpreter"
