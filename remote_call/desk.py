"""One party's in-call desk: what the kiosk and the console do alike on the call's own data channels.

A desk is attached to the CallSession of the current call (``attach``) and lets go of it when the call ends
(``detach``, which also forgets what the call left on the desk). What both parties share lives here, once:

- **sending**: ``send_soon`` sends on the control channel now, or as soon as it opens (the answerer's
  channel opens a moment after the call starts; a message given before is not lost); ``send_when_open``
  waits for the channel and raises when there is no call or it does not open in time;
- **receiving**: every control message is parsed once; an unreadable one is logged by its type only
  (a validation error quotes the input, which may be the resident's words); a readable one goes to the
  handler the party lists for its type in ``handlers()`` — one table, the other types are ignored;
- **documents**: one ``DocumentReceiver`` per attached session (chunked, SHA-256 checked, in memory), its
  partial transfers dropped when the desk lets go; every document that arrives is answered with
  ``document_received`` (ok or not);
- **notes**: the chat lines and the documents shown (``ChatLine``, ``ShownDocument``), kept in a
  ``DeskNotes`` — the console's own, the kiosk's inside the resident's session, so that the kiosk's privacy
  reset replaces them with everything else of the resident.

The link pings on the same channel are the CallParty's (``remote_call.party``), not the desk's.

With a third party in the call (``share_with``: a ``PeerDesk`` over the conference's other peer
connections), this party's own chat lines, the documents it shows or scans (``send_document``) and their
withdrawal also go to the parties allowed to see them, and their chat lines come into this chat
(``remote_call.conference_desk``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from remote_call import incall as ic
from remote_call.documents import DocumentReceiver, send_document
from remote_call.events import EventHub
from remote_call.rtt import InkError, Writing, WritingNotes
from remote_call.session import CallSession
from remote_call.tasks import BackgroundTasks

log = logging.getLogger(__name__)

CHANNEL_TIMEOUT_S = 10.0  # how long a message waits for the control channel to open
Sender = Literal["officer", "resident"]  # the two ends of the caller<->officer pair
ChatSender = Literal["officer", "resident", "interpreter", "guest"]  # who said a line: a third party too
Handler = Callable[[Any], None]  # takes the in-call message of the type it is listed under


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


@dataclass
class ChatLine:
    sender: ChatSender
    text: str
    at: float = field(default_factory=time.time)
    # A library phrase (``incall.Phrase``): its id; ``text`` is then the phrase in this side's language
    # (the kiosk's with {漢字|かんじ} readings for ja-easy). None: free text, as typed (untranslated).
    phrase_id: str | None = None


@dataclass
class ShownDocument:
    """An image or page the officer shows the resident. The console keeps whether it arrived and whether it
    was withdrawn; the kiosk keeps its bytes while it is on screen."""

    offer: ic.DocumentOffer
    data: bytes | None = None
    delivered: bool | None = None  # None until the kiosk answers with document_received
    withdrawn: bool = False

    @property
    def doc_id(self) -> str:
        return self.offer.doc_id

    @property
    def name(self) -> str:
        return self.offer.name

    @property
    def mime(self) -> str:
        return self.offer.mime


class DeskNotes(Protocol):
    """What a call leaves on a desk: forgotten when the call ends."""

    chat: list[ChatLine]
    shown: dict[str, ShownDocument]
    writing: WritingNotes


@dataclass
class CallNotes:
    chat: list[ChatLine] = field(default_factory=list)
    shown: dict[str, ShownDocument] = field(default_factory=dict)
    writing: WritingNotes = field(default_factory=WritingNotes)


class Sharing(Protocol):
    """What a desk hands to the call's extra parties (``conference_desk.PeerDesk``)."""

    on_chat: Callable[[ChatSender, str], None] | None

    def share_line(self, text: str) -> int: ...

    def share(self, message: ic.InCall) -> None: ...

    def share_document(self, offer: ic.DocumentOffer, data: bytes) -> None: ...


class CallDesk:
    """The shared half of a party's desk; ``me`` and ``peer`` name the two ends of the chat."""

    me: ClassVar[Sender]
    peer: ClassVar[Sender]

    def __init__(self, events: EventHub, notes: Callable[[], DeskNotes] | None = None) -> None:
        self.events = events
        self.session: CallSession | None = None
        own = CallNotes()
        self._notes: Callable[[], DeskNotes] = notes or (lambda: own)
        self._receiver: DocumentReceiver | None = None
        self._pending = BackgroundTasks(log, "in-call send")
        self._sharing: Sharing | None = None
        self.writing = Writing(
            self.me,
            lambda: self._notes().writing,
            self.send_soon,
            time.monotonic,
            lambda delay, fire: asyncio.get_running_loop().call_later(delay, fire),
            lambda kind: self.events.emit("writing", kind=kind),  # never the words
        )
        self._handlers: Mapping[type[ic.InCall], Handler] = self.handlers()

    @property
    def call_id(self) -> str | None:
        return self.session.call_id if self.session is not None else None

    @property
    def chat(self) -> list[ChatLine]:
        return self._notes().chat

    @property
    def shown(self) -> dict[str, ShownDocument]:
        return self._notes().shown

    def handlers(self) -> dict[type[ic.InCall], Handler]:
        """The in-call messages this party acts on, by type. Subclasses add theirs to this one."""
        return {
            ic.Chat: self._on_chat,
            ic.TextDraft: self._on_draft,
            ic.InkStroke: self._on_stroke,
            ic.InkClear: self.writing.on_clear,
        }

    def share_with(self, sharing: Sharing) -> None:
        """Share this party's chat lines and shown documents with the call's extra parties from now on, and
        take their chat lines into this chat."""
        self._sharing = sharing
        sharing.on_chat = self._on_shared_chat

    # ------------------------------------------------------------------ attach / detach

    def attach(self, session: CallSession) -> None:
        """Work on ``session`` (a new call, or the same call's rebuilt media) from now on."""
        self._let_go()
        self.session = session
        self._receiver = DocumentReceiver(self._on_document)
        session.control_handlers.append(self._on_control)
        session.document_handlers.append(self._receiver.feed)

    def detach(self) -> None:
        """The call is over: let go of its session and forget what it left on the desk."""
        self._let_go()
        self.session = None
        self.chat.clear()
        self.shown.clear()
        self.writing.forget()

    def _let_go(self) -> None:
        session, receiver = self.session, self._receiver
        if session is not None:
            if self._on_control in session.control_handlers:
                session.control_handlers.remove(self._on_control)
            if receiver is not None and receiver.feed in session.document_handlers:
                session.document_handlers.remove(receiver.feed)
        if receiver is not None:
            receiver.discard_all()
        self._receiver = None
        self._pending.cancel()  # messages waiting for this session's channel go nowhere else

    # ------------------------------------------------------------------ sending

    def send_soon(self, message: ic.InCall) -> bool:
        """Send on the control channel now, or as soon as it opens; False if there is no call to send on."""
        session = self.session
        if session is None:
            return False
        data = ic.incall_dict(message)
        if session.channel is None or session.channel.readyState != "open":
            self._share(message)
            self._pending.spawn(self._send_once_open(session, data), f"in-call {data['type']}")
            return True
        self._share(message)
        try:
            session.send_control(data)
            return True
        except RuntimeError as exc:
            log.warning("in-call message %s not sent: %s", data["type"], exc)
            return False

    async def _send_once_open(self, session: CallSession, data: dict[str, Any]) -> None:
        try:
            await asyncio.wait_for(session.channel_open.wait(), CHANNEL_TIMEOUT_S)
            if self.session is session:
                session.send_control(data)
        except (TimeoutError, RuntimeError) as exc:
            log.warning("in-call message %s not sent: %s", data["type"], exc)

    async def ready(self) -> CallSession:
        """The current session once its control channel is open (RuntimeError with no call in progress)."""
        session = self.session
        if session is None:
            raise RuntimeError("no call in progress")
        await asyncio.wait_for(session.channel_open.wait(), CHANNEL_TIMEOUT_S)
        return session

    async def send_when_open(self, message: ic.InCall) -> CallSession:
        """Send once the control channel is open; raises if there is no call or the channel does not open."""
        session = await self.ready()
        session.send_control(ic.incall_dict(message))
        self._share(message)
        return session

    def _share(self, message: ic.InCall) -> None:
        if self._sharing is not None and isinstance(message, ic.DocumentWithdrawn):
            self._sharing.share(message)  # the interpreter stops seeing it too

    async def send_document(self, session: CallSession, offer: ic.DocumentOffer, data: bytes) -> None:
        """Send a document this party shows or scanned on ``session``'s documents channel (open), and share
        it with the call's extra parties."""
        assert session.documents is not None
        await send_document(session.documents, offer, data)
        if self._sharing is not None:
            self._sharing.share_document(offer, data)

    def share_line(self, line: ChatLine) -> None:
        """A line this party added to its chat itself (e.g. a library phrase): to the extra parties too."""
        if self._sharing is not None:
            self._sharing.share_line(line.text)

    def say(self, text: str) -> ChatLine:
        """Send a chat line now or once the channel opens, and add it to the chat."""
        self.send_soon(self._chat_message(text))
        return self._own_line(text)

    async def say_when_open(self, text: str) -> ChatLine:
        """Send a chat line once the channel is open (raises like ``send_when_open``), then add it."""
        await self.send_when_open(self._chat_message(text))
        return self._own_line(text)

    def write_line(self) -> ChatLine | None:
        """Send the real-time text draft as finished: a chat line on both sides (None for an empty one)."""
        text = self.writing.submit()
        if text is None:
            return None
        line = self._own_line(text)
        self.wrote(text)
        return line

    def wrote(self, text: str) -> None:
        """This party finished a line of real-time text (already added to the chat)."""

    def _chat_message(self, text: str) -> ic.Chat:
        return ic.Chat(id=new_id("m"), text=text, sender=self.me)

    def _own_line(self, text: str) -> ChatLine:
        line = ChatLine(self.me, text)
        self.chat.append(line)
        self.share_line(line)
        return line

    # ------------------------------------------------------------------ receiving

    def _on_control(self, raw: dict[str, Any]) -> None:
        try:
            message = ic.parse_incall(raw)
        except ic.InCallError:
            kind = str(raw.get("type", "?"))[:40]
            log.warning("call %s: ignored an unreadable in-call message of type %r", self.call_id, kind)
            return
        handler = self._handlers.get(type(message))
        if handler is not None:
            handler(message)

    def _on_chat(self, message: ic.Chat) -> None:
        if message.sender == self.peer:
            self.chat.append(ChatLine(message.sender, message.text))
            self.heard(message.text)

    def heard(self, text: str) -> None:
        """The other party said ``text`` (already added to the chat)."""

    def _on_shared_chat(self, sender: ChatSender, text: str) -> None:
        self.chat.append(ChatLine(sender, text))
        self.heard_from(sender, text)

    def heard_from(self, sender: ChatSender, text: str) -> None:
        """A third party (the interpreter) said ``text`` (already added to the chat): the view is told who."""
        self.events.emit("chat", sender=sender)

    def _on_draft(self, message: ic.TextDraft) -> None:
        line = self.writing.on_draft(message)
        if line is not None:
            self.chat.append(ChatLine(self.peer, line))
            self.heard(line)

    def _on_stroke(self, message: ic.InkStroke) -> None:
        try:
            self.writing.on_stroke(message)
        except InkError as exc:  # the reason names sizes only, never the drawing
            log.warning("call %s: dropped an ink stroke: %s", self.call_id, exc)

    def _on_document(self, offer: ic.DocumentOffer, data: bytes | None, ok: bool, detail: str) -> None:
        verdict = self.take_document(offer, data if ok else None, detail)
        if verdict is not None:
            self.send_soon(ic.DocumentReceived(doc_id=offer.doc_id, ok=ok, detail=verdict[:2000]))

    def take_document(self, offer: ic.DocumentOffer, data: bytes | None, detail: str) -> str | None:
        """A document arrived (``data`` is None when it failed its checks: ``detail`` says why). Returns the
        detail of the ``document_received`` answer, or None to give none."""
        raise NotImplementedError
