"""Written conversation (筆談): real-time text and handwriting, as pure logic on an injected clock.

- ``DraftTyper`` turns a growing draft into ``TextDraft`` messages, at most one per ``RTT_INTERVAL_S``
  (each carries the whole draft, so a lost or coalesced one costs nothing); ``submit`` sends the final one,
  which both sides turn into a chat line.
- ``InkPen`` turns a finger's (or a mouse's) points, normalised to 0..1, into ``InkStroke`` messages: the
  first point at once, then at most one message per ``INK_INTERVAL_S`` carrying the points since the last
  one (at most ``MAX_POINTS_PER_MESSAGE``), and a last one with ``done``.
- ``InkPage`` assembles strokes from both sides (keyed by who drew them) within bounded sizes, and raises
  ``InkError`` naming what is wrong.
- ``Writing`` binds them to a send function and a timer (both injected): the desks (``remote_call.desk``)
  own one each and keep what it shows in the call's notes (``WritingNotes``), forgotten with the call.

No Qt, no asyncio: tests drive it with a fake clock and a fake timer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from remote_call import incall as ic

RTT_INTERVAL_S = 0.15  # a draft at most ~7 times a second: reads as live, costs ~1 message per 2 keys
INK_INTERVAL_S = 0.05  # a finger moves ~60 points/s on a touchscreen: ~3 points per message
PAD_ASPECT = 2.0  # width / height of the pad on both screens, so a character keeps its shape
MIN_STEP = 0.002  # points closer than 0.2 % of the pad to the last one add nothing visible
Author = Literal["officer", "resident"]
Clock = Callable[[], float]
Send = Callable[[ic.InCall], object]
CallLater = Callable[[float, Callable[[], None]], object]


class InkError(ValueError):
    """A stroke that does not fit the page (too many strokes or points, or points after its end)."""


@dataclass
class Stroke:
    author: Author
    stroke_id: int
    points: list[tuple[float, float]] = field(default_factory=list)
    done: bool = False


@dataclass
class InkPage:
    """The shared pad: both sides' strokes in the order they were begun."""

    strokes: dict[tuple[Author, int], Stroke] = field(default_factory=dict)

    def add(self, author: Author, stroke_id: int, points: list[tuple[float, float]], done: bool) -> Stroke:
        """Append ``points`` to a stroke (begun if new); InkError when the page or the stroke is full."""
        key = (author, stroke_id)
        stroke = self.strokes.get(key)
        if stroke is None:
            if len(self.strokes) >= ic.MAX_STROKES_PER_PAGE:
                raise InkError(f"the page holds {ic.MAX_STROKES_PER_PAGE} strokes: clear it first")
            stroke = self.strokes[key] = Stroke(author, stroke_id)
        elif stroke.done:
            raise InkError(f"stroke {stroke_id} of the {author} already ended")
        if len(stroke.points) + len(points) > ic.MAX_POINTS_PER_STROKE:
            raise InkError(f"a stroke holds at most {ic.MAX_POINTS_PER_STROKE} points")
        stroke.points.extend(points)
        stroke.done = done
        return stroke

    def full(self) -> bool:
        return len(self.strokes) >= ic.MAX_STROKES_PER_PAGE

    def clear(self) -> None:
        self.strokes.clear()


@dataclass
class WritingNotes:
    """What the written conversation shows: both drafts and the pad. Part of the call's notes."""

    peer_draft: str = ""
    own_draft: str = ""
    page: InkPage = field(default_factory=InkPage)
    last_seq: int = -1  # the peer's newest draft seen (an older one is ignored)

    def forget(self) -> None:
        self.peer_draft = self.own_draft = ""
        self.page.clear()
        self.last_seq = -1


class DraftTyper:
    """Coalesces a draft being typed into ``TextDraft`` messages, at most one per ``interval``."""

    def __init__(self, clock: Clock, interval: float = RTT_INTERVAL_S) -> None:
        self._clock = clock
        self._interval = interval
        self._seq = 0
        self._text = ""
        self._sent: str | None = None
        self._last_sent = -math.inf

    @property
    def due_at(self) -> float | None:
        """When the pending draft may go (None when nothing is pending)."""
        return None if self._sent == self._text else self._last_sent + self._interval

    def type(self, text: str) -> ic.TextDraft | None:
        """The draft is now ``text``: the message to send now, or None (send ``flush()`` at ``due_at``)."""
        if len(text) > ic.MAX_DRAFT_CHARS:
            raise ValueError(f"a draft holds at most {ic.MAX_DRAFT_CHARS} characters")
        self._text = text
        return self.flush()

    def flush(self) -> ic.TextDraft | None:
        due = self.due_at
        if due is None or self._clock() < due:
            return None
        return self._emit(final=False)

    def submit(self) -> ic.TextDraft | None:
        """The draft is finished: the final message (None for an empty draft); the next draft starts empty."""
        if not self._text.strip():
            return None
        message = self._emit(final=True)
        self._text, self._sent = "", ""
        return message

    def _emit(self, *, final: bool) -> ic.TextDraft:
        self._seq += 1
        self._sent = self._text
        self._last_sent = self._clock()
        return ic.TextDraft(seq=self._seq, text=self._text, final=final)


class InkPen:
    """One side's pen: points in, ``InkStroke`` messages out (coalesced), strokes kept on ``page``."""

    def __init__(self, author: Author, page: InkPage, clock: Clock, interval: float = INK_INTERVAL_S):
        self.author = author
        self.page = page
        self._clock = clock
        self._interval = interval
        self._next_id = 0
        self._stroke: Stroke | None = None
        self._pending: list[tuple[float, float]] = []
        self._last_sent = -math.inf

    @property
    def drawing(self) -> bool:
        return self._stroke is not None

    @property
    def due_at(self) -> float | None:
        return self._last_sent + self._interval if self._pending else None

    def down(self, x: float, y: float) -> list[ic.InkStroke]:
        """A new stroke begins (the one in progress ends first); InkError when the page is full."""
        messages = self.up()
        if self.page.full():
            raise InkError(f"the page holds {ic.MAX_STROKES_PER_PAGE} strokes: clear it first")
        self._stroke = self.page.add(self.author, self._next_id, [], False)
        self._next_id += 1
        self._add(_point(x, y))
        return messages + self._send(force=True)

    def move(self, x: float, y: float) -> list[ic.InkStroke]:
        stroke = self._stroke
        if stroke is None:
            return []
        point = _point(x, y)
        last = stroke.points[-1] if stroke.points else None
        if last is not None and math.dist(last, point) < MIN_STEP:
            return []
        if len(stroke.points) >= ic.MAX_POINTS_PER_STROKE:
            return self.up()  # a very long stroke ends; the next touch begins another
        self._add(point)
        return self._send(force=len(self._pending) >= ic.MAX_POINTS_PER_MESSAGE)

    def up(self) -> list[ic.InkStroke]:
        stroke = self._stroke
        if stroke is None:
            return []
        stroke.done = True
        message = self._message(done=True)
        self._stroke = None
        return [message]

    def flush(self) -> list[ic.InkStroke]:
        due = self.due_at
        if due is None or self._clock() < due or self._stroke is None:
            return []
        return self._send(force=True)

    def _add(self, point: tuple[float, float]) -> None:
        assert self._stroke is not None
        self._stroke.points.append(point)
        self._pending.append(point)

    def _send(self, *, force: bool) -> list[ic.InkStroke]:
        if not self._pending or (not force and self._clock() < self._last_sent + self._interval):
            return []
        return [self._message(done=False)]

    def _message(self, *, done: bool) -> ic.InkStroke:
        assert self._stroke is not None
        points, self._pending = self._pending, []
        self._last_sent = self._clock()
        return ic.InkStroke(stroke_id=self._stroke.stroke_id, points=points, done=done)


def pad_box(width: float, height: float) -> tuple[float, float, float, float]:
    """The pad's area (x, y, width, height) centred in a widget of this size, at ``PAD_ASPECT``: both
    screens map 0..1 to it, so what is drawn on one has the same shape on the other."""
    w = min(width, height * PAD_ASPECT)
    h = w / PAD_ASPECT
    return (width - w) / 2, (height - h) / 2, max(1.0, w), max(1.0, h)


def _point(x: float, y: float) -> tuple[float, float]:
    """A point on the pad, normalised: a finger dragged past the edge stays on it."""
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError("a point must have finite coordinates")
    return (round(min(1.0, max(0.0, x)), 4), round(min(1.0, max(0.0, y)), 4))


class Writing:
    """One party's written conversation: its typer and pen, the peer's drafts and strokes, sent through
    ``send`` and flushed by ``call_later`` (both injected: the desk's ``send_soon`` and the loop's timer).
    ``changed(kind)`` tells the desk what to announce ("draft", "ink", "clear", "line")."""

    def __init__(
        self,
        me: Author,
        notes: Callable[[], WritingNotes],
        send: Send,
        clock: Clock,
        call_later: CallLater,
        changed: Callable[[str], None],
    ) -> None:
        self.me: Author = me
        self.peer: Author = "resident" if me == "officer" else "officer"
        self._notes = notes
        self._send = send
        self._clock = clock
        self._call_later = call_later
        self._changed = changed
        self._typer = DraftTyper(clock)
        self._pen = InkPen(me, InkPage(), clock)  # drawn on the notes' page from the first touch on
        self._timer_set = False

    @property
    def notes(self) -> WritingNotes:
        return self._notes()

    def forget(self) -> None:
        """The call is over (or the resident left): a fresh typer and pen, nothing of the last one kept."""
        self.notes.forget()
        self._typer = DraftTyper(self._clock)
        self._pen = InkPen(self.me, self.notes.page, self._clock)

    # ------------------------------------------------------------------ this side

    def type(self, text: str) -> None:
        self.notes.own_draft = text[: ic.MAX_DRAFT_CHARS]
        self._out(self._typer.type(self.notes.own_draft))
        self._changed("draft")

    def submit(self) -> str | None:
        """Send the draft as final; returns the line (None when the draft was empty)."""
        message = self._typer.submit()
        self.notes.own_draft = ""
        if message is None:
            return None
        self._out(message)
        self._changed("line")
        return message.text

    def pen_down(self, x: float, y: float) -> None:
        self._pen.page = self.notes.page
        self._out(*self._pen.down(x, y))
        self._changed("ink")

    def pen_move(self, x: float, y: float) -> None:
        self._out(*self._pen.move(x, y))

    def pen_up(self) -> None:
        self._out(*self._pen.up())

    def clear(self) -> None:
        self._pen.up()
        self.notes.page.clear()
        self._out(ic.InkClear())
        self._changed("clear")

    def _out(self, *messages: ic.InCall | None) -> None:
        for message in messages:
            if message is not None:
                self._send(message)
        self._arm()

    def _arm(self) -> None:
        due = min((d for d in (self._typer.due_at, self._pen.due_at) if d is not None), default=None)
        if due is None or self._timer_set:
            return
        self._timer_set = True
        self._call_later(max(0.0, due - self._clock()), self._fire)

    def _fire(self) -> None:
        self._timer_set = False
        self._out(self._typer.flush(), *self._pen.flush())

    # ------------------------------------------------------------------ the other side

    def on_draft(self, message: ic.TextDraft) -> str | None:
        """The peer's draft; returns the finished line when it is final."""
        notes = self.notes
        if message.seq <= notes.last_seq:
            return None
        notes.last_seq = message.seq
        notes.peer_draft = "" if message.final else message.text
        self._changed("line" if message.final else "draft")
        return message.text if message.final and message.text.strip() else None

    def on_stroke(self, message: ic.InkStroke) -> None:
        """The peer's stroke (InkError when it does not fit: the caller logs and drops it)."""
        self.notes.page.add(self.peer, message.stroke_id, list(message.points), message.done)
        self._changed("ink")

    def on_clear(self, _message: ic.InkClear) -> None:
        self._pen.up()
        self.notes.page.clear()
        self._changed("clear")
