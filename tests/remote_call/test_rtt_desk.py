"""The written conversation on the shared desk: what arrives on the control channel becomes drafts, chat
lines and strokes; a stroke that does not fit is dropped and logged by its reason (sizes only); the call's
end forgets everything. Driven with a stand-in session (no aiortc)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from remote_call import incall as ic
from remote_call.desk import CallDesk
from remote_call.events import EventHub
from remote_call.rtt import WritingNotes


class Channel:
    readyState = "open"


class FakeSession:
    """What a desk uses of a CallSession: the handler lists and an open control channel."""

    def __init__(self) -> None:
        self.call_id = "c1"
        self.control_handlers: list[Any] = []
        self.document_handlers: list[Any] = []
        self.channel = Channel()
        self.sent: list[dict[str, Any]] = []

    def send_control(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


class OfficerDesk(CallDesk):
    me = "officer"
    peer = "resident"

    def __init__(self, events: EventHub) -> None:
        self.heard_lines: list[str] = []
        super().__init__(events)

    def heard(self, text: str) -> None:
        self.heard_lines.append(text)


def desk_with_session() -> tuple[OfficerDesk, FakeSession, list[tuple[str, dict[str, Any]]]]:
    events = EventHub()
    seen: list[tuple[str, dict[str, Any]]] = []
    events.subscribe(lambda name, data: seen.append((name, data)))
    desk = OfficerDesk(events)
    session = FakeSession()
    desk.attach(session)  # type: ignore[arg-type]
    return desk, session, seen


def receive(session: FakeSession, message: ic.InCall | dict[str, Any]) -> None:
    raw = message if isinstance(message, dict) else ic.incall_dict(message)
    for handler in session.control_handlers:
        handler(raw)


async def test_drafts_and_the_final_line_from_the_resident() -> None:
    desk, session, seen = desk_with_session()
    receive(session, ic.TextDraft(seq=1, text="いん"))
    assert desk.writing.notes.peer_draft == "いん"
    assert ("writing", {"kind": "draft"}) in seen  # the event carries the kind, never the words
    receive(session, ic.TextDraft(seq=2, text="いんかん", final=True))
    assert desk.writing.notes.peer_draft == ""
    assert [(line.sender, line.text) for line in desk.chat] == [("resident", "いんかん")]
    assert desk.heard_lines == ["いんかん"]


async def test_the_officer_types_and_sends_a_line() -> None:
    desk, session, _ = desk_with_session()
    desk.writing.type("印")
    assert session.sent == [{"type": "text_draft", "seq": 1, "text": "印", "final": False}]
    assert desk.write_line() is not None
    assert session.sent[-1] == {"type": "text_draft", "seq": 2, "text": "印", "final": True}
    assert [(line.sender, line.text) for line in desk.chat] == [("officer", "印")]
    assert desk.write_line() is None  # nothing typed since


async def test_a_stroke_that_does_not_fit_is_dropped_and_logged_by_size(caplog) -> None:
    desk, session, _ = desk_with_session()
    receive(session, ic.InkStroke(stroke_id=0, points=[(0.1, 0.2)], done=True))
    caplog.set_level(logging.WARNING, logger="remote_call.desk")
    receive(session, ic.InkStroke(stroke_id=0, points=[(0.3, 0.4)]))
    assert "stroke 0 of the resident already ended" in caplog.text
    receive(session, {"type": "ink_stroke", "stroke_id": 1, "points": [[0.5, 7.0]]})
    assert "ignored an unreadable in-call message of type 'ink_stroke'" in caplog.text
    assert "7.0" not in caplog.text
    assert desk.writing.notes.page.strokes[("resident", 0)].points == [(0.1, 0.2)]
    receive(session, ic.InkClear())
    assert desk.writing.notes.page.strokes == {}


@pytest.mark.parametrize("what", ["draft", "ink"])
async def test_the_end_of_the_call_forgets_the_written_conversation(what: str) -> None:
    desk, session, _ = desk_with_session()
    if what == "draft":
        receive(session, ic.TextDraft(seq=1, text="住所は"))
        desk.writing.type("はい")
    else:
        receive(session, ic.InkStroke(stroke_id=0, points=[(0.1, 0.2)]))
        desk.writing.pen_down(0.5, 0.5)
    desk.detach()
    assert desk.writing.notes == WritingNotes()
