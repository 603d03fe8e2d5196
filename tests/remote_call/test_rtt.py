"""Real-time text and handwriting as pure logic: coalescing on a fake clock, bounded strokes, named errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from remote_call import incall as ic
from remote_call.rtt import (
    INK_INTERVAL_S,
    RTT_INTERVAL_S,
    DraftTyper,
    InkError,
    InkPage,
    InkPen,
    Writing,
    WritingNotes,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Timers:
    """call_later on the fake clock: ``advance`` fires what is due, in order."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.due: list[tuple[float, Callable[[], None]]] = []

    def call_later(self, delay: float, fire: Callable[[], None]) -> None:
        assert delay >= 0
        self.due.append((self.clock.now + delay, fire))

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        while ready := sorted((d for d in self.due if d[0] <= self.clock.now), key=lambda d: d[0]):
            self.due.remove(ready[0])
            ready[0][1]()


def test_typing_is_sent_at_once_then_coalesced_to_one_draft_per_interval() -> None:
    clock = Clock()
    typer = DraftTyper(clock)
    first = typer.type("こ")
    assert first == ic.TextDraft(seq=1, text="こ")
    assert typer.type("こん") is None and typer.type("こんに") is None
    assert typer.due_at == pytest.approx(100.0 + RTT_INTERVAL_S)
    clock.now += RTT_INTERVAL_S / 2
    assert typer.flush() is None
    clock.now += RTT_INTERVAL_S / 2
    assert typer.flush() == ic.TextDraft(seq=2, text="こんに")  # the whole draft: the keys between coalesced
    assert typer.due_at is None and typer.flush() is None
    final = typer.submit()
    assert final == ic.TextDraft(seq=3, text="こんに", final=True)
    assert typer.submit() is None  # the next draft starts empty


def test_a_draft_longer_than_the_limit_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="1000 characters"):
        DraftTyper(Clock()).type("あ" * (ic.MAX_DRAFT_CHARS + 1))
    with pytest.raises(ic.InCallError, match="text"):
        ic.parse_incall({"type": "text_draft", "seq": 1, "text": "x" * (ic.MAX_DRAFT_CHARS + 1)})


def test_a_stroke_goes_out_in_bounded_pieces_and_ends_with_done() -> None:
    clock = Clock()
    page = InkPage()
    pen = InkPen("resident", page, clock)
    [start] = pen.down(0.1, 0.1)
    assert start == ic.InkStroke(stroke_id=0, points=[(0.1, 0.1)])
    sent = []
    for i in range(1, 200):  # 199 moves faster than the interval: batches of at most 64 points
        sent += pen.move(0.1 + i * 0.003, 0.1)
    assert [len(m.points) for m in sent] == [64, 64, 64]
    clock.now += INK_INTERVAL_S
    [rest] = pen.flush()
    assert len(rest.points) == 199 - 3 * 64 and not rest.done
    [end] = pen.up()
    assert end.done and end.points == []
    stroke = page.strokes[("resident", 0)]
    assert len(stroke.points) == 200 and stroke.done


def test_points_are_clamped_to_the_pad_and_tiny_moves_dropped() -> None:
    clock = Clock()
    pen = InkPen("officer", InkPage(), clock)
    pen.down(-0.5, 1.7)
    assert pen.page.strokes[("officer", 0)].points == [(0.0, 1.0)]
    clock.now += 1
    assert pen.move(0.0005, 0.9995) == []  # closer than MIN_STEP
    with pytest.raises(ValueError, match="finite"):
        pen.move(float("nan"), 0.5)


def test_the_page_refuses_a_stroke_too_many_or_points_after_the_end() -> None:
    page = InkPage()
    for i in range(ic.MAX_STROKES_PER_PAGE):
        page.add("resident", i, [(0.5, 0.5)], True)
    with pytest.raises(InkError, match="clear it first"):
        page.add("officer", 0, [(0.5, 0.5)], False)
    with pytest.raises(InkError, match="already ended"):
        page.add("resident", 3, [(0.2, 0.2)], False)
    page.clear()
    page.add("officer", 0, [(0.5, 0.5)] * 64, False)
    with pytest.raises(InkError, match="at most 2000 points"):
        for _ in range(40):
            page.add("officer", 0, [(0.5, 0.5)] * 64, False)


def test_bad_ink_messages_are_refused_with_the_reason() -> None:
    with pytest.raises(ic.InCallError, match="less than or equal to 1"):
        ic.parse_incall({"type": "ink_stroke", "stroke_id": 1, "points": [[0.5, 1.5]]})
    with pytest.raises(ic.InCallError, match="at most 64"):
        ic.parse_incall({"type": "ink_stroke", "stroke_id": 1, "points": [[0.5, 0.5]] * 65})
    assert ic.parse_incall({"type": "ink_clear"}) == ic.InkClear()


def _pair() -> tuple[Writing, Writing, Timers, list[str]]:
    """Two Writings wired to each other as the desks are over a data channel (here: direct calls)."""
    clock = Clock()
    timers = Timers(clock)
    changes: list[str] = []
    notes = {"officer": WritingNotes(), "resident": WritingNotes()}
    sides: dict[str, Writing] = {}

    def deliver(to: str) -> Callable[[ic.InCall], None]:
        def send(message: ic.InCall) -> None:
            w = sides[to]
            message = ic.parse_incall(ic.incall_dict(message))  # through JSON, as on the wire
            if isinstance(message, ic.TextDraft):
                w.on_draft(message)
            elif isinstance(message, ic.InkStroke):
                w.on_stroke(message)
            elif isinstance(message, ic.InkClear):
                w.on_clear(message)

        return send

    def notes_of(me: str) -> Callable[[], WritingNotes]:
        return lambda: notes[me]

    for me, peer in (("officer", "resident"), ("resident", "officer")):
        sides[me] = Writing(
            me,  # type: ignore[arg-type]
            notes_of(me),
            deliver(peer),
            clock,
            timers.call_later,
            changes.append,
        )
    return sides["officer"], sides["resident"], timers, changes


def test_the_other_side_sees_the_draft_grow_and_the_final_line() -> None:
    officer, resident, timers, changes = _pair()
    officer.type("住")
    assert resident.notes.peer_draft == "住"
    officer.type("住民")
    officer.type("住民票")
    assert resident.notes.peer_draft == "住"  # coalesced: waits for the interval
    timers.advance(RTT_INTERVAL_S)
    assert resident.notes.peer_draft == "住民票"  # the timer sent the newest draft
    assert officer.submit() == "住民票"
    assert resident.notes.peer_draft == "" and officer.notes.own_draft == ""
    assert "line" in changes


def test_an_old_draft_arriving_late_is_ignored() -> None:
    _, resident, _, _ = _pair()
    assert resident.on_draft(ic.TextDraft(seq=5, text="新しい")) is None
    resident.on_draft(ic.TextDraft(seq=4, text="古い"))
    assert resident.notes.peer_draft == "新しい"
    assert resident.on_draft(ic.TextDraft(seq=6, text="できた", final=True)) == "できた"


def test_strokes_appear_on_the_other_pad_as_drawn_and_either_side_clears() -> None:
    officer, resident, timers, _ = _pair()
    resident.pen_down(0.2, 0.2)
    assert officer.notes.page.strokes[("resident", 0)].points == [(0.2, 0.2)]
    resident.pen_move(0.3, 0.3)
    resident.pen_move(0.4, 0.4)
    timers.advance(INK_INTERVAL_S)  # the pending points go without another touch
    assert officer.notes.page.strokes[("resident", 0)].points == [(0.2, 0.2), (0.3, 0.3), (0.4, 0.4)]
    resident.pen_up()
    assert officer.notes.page.strokes[("resident", 0)].done
    officer.pen_down(0.5, 0.5)  # the officer draws back
    officer.pen_up()
    assert set(resident.notes.page.strokes) == {("resident", 0), ("officer", 0)}
    officer.clear()
    assert resident.notes.page.strokes == {} and officer.notes.page.strokes == {}
    resident.pen_down(0.1, 0.1)  # stroke ids go on after a clear: never confused with a wiped one
    assert ("resident", 1) in officer.notes.page.strokes


def test_forget_leaves_nothing_of_the_call() -> None:
    officer, resident, _, _ = _pair()
    officer.type("こんにちは")
    resident.pen_down(0.5, 0.5)
    for side in (officer, resident):
        side.forget()
        assert side.notes == WritingNotes()
