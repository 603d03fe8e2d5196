"""In-call messages over a call's extra pairs (issue 18): the chat and what is *shown* reach the interpreter.

The caller↔officer pair keeps its own desk (``remote_call.desk``) on its own data channels. Each party's
``PeerDesk`` works on the party's *other* peer connections (``Conference.links``), with the same channels and
the same in-call messages (docs/protocol.md "In-call messages over extra pairs"):

- **each party shares its own items, once**: its chat lines (typed, canned replies, finished real-time text,
  and the officer's library phrases as the Japanese it reads) go as ``chat`` with its own ``sender``; the
  documents it shows (officer, purpose ``show``) or scans (kiosk, purpose ``scan``) go as the same
  ``document_offer`` and chunks, checked by SHA-256 at the far end; a withdrawn shown document as
  ``document_withdrawn``. Nobody forwards what another party said: the resident's words reach the
  interpreter from the kiosk, the officer's from the console;
- **to the parties allowed to see them**: ``shares_with`` (the interpreter). Saved case documents never travel
  here: they are on the server, whose case routes refuse the interpreter role (docs/security.md);
- **the interpreter speaks too**: its chat lines (``sender`` ``interpreter``: a sign-language interpreter
  typing a name) go to every party it is connected to, which adds them to its own chat; so do a family
  member's (``sender`` ``guest``, typed on the guest page);
- a party that does not take documents here (the kiosk and the console) ignores an offer on these channels;
  the interpreter keeps what arrived in memory only, and forgets it when its part of the call ends.

Sending waits for the peer's channel to open (as ``CallDesk.send_soon`` does); a peer connection rebuilt by a
media restart is a new session: items shared before are not sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remote_call import incall as ic
from remote_call import protocol as p
from remote_call.desk import ChatSender, new_id
from remote_call.documents import DocumentReceiver, send_document
from remote_call.session import CallSession
from remote_call.tasks import BackgroundTasks

if TYPE_CHECKING:
    from remote_call.conference import Conference

log = logging.getLogger(__name__)

# Who sees a caller's or officer's items: the interpreter, and a family member by link (docs/guests.md).
SHARED_WITH: frozenset[p.PartyId] = frozenset({"interpreter", "guest"})
# A resident's scans (personal papers) reach the interpreter, who must read them out, but never a family
# member's browser: a family member sees what the officer shows and the chat (docs/guests.md).
SCANS_SHARED_WITH: frozenset[p.PartyId] = frozenset({"interpreter"})
CHANNEL_TIMEOUT_S = 10.0
ChatHandler = Callable[[ChatSender, str], None]
DocumentHandler = Callable[[p.PartyId, ic.DocumentOffer, "bytes | None", str], None]


@dataclass
class _Peer:
    session: CallSession
    receiver: DocumentReceiver | None
    handlers: list[Callable[..., None]] = field(default_factory=list)


class PeerDesk:
    """One party's in-call messages on its extra peer connections."""

    def __init__(
        self,
        conference: Conference,
        me: ChatSender,
        *,
        shares_with: frozenset[p.PartyId] = SHARED_WITH,
        on_chat: ChatHandler | None = None,
        on_document: DocumentHandler | None = None,
        on_withdrawn: Callable[[p.PartyId, str], None] | None = None,
    ) -> None:
        self.me = me
        self.shares_with = shares_with
        self.on_chat = on_chat
        self._on_document = on_document  # None: this party takes no documents on these channels
        self._on_withdrawn = on_withdrawn
        self._peers: dict[p.PartyId, _Peer] = {}
        self._tasks = BackgroundTasks(log, "peer desk")
        conference.link_listeners.append(self._on_link)

    # ------------------------------------------------------------------ the conference's sessions

    def _on_link(self, peer: p.PartyId, session: CallSession | None) -> None:
        old = self._peers.pop(peer, None)
        if old is not None:
            self._let_go(old)
        if session is None:
            return
        receiver = DocumentReceiver(self._document_from(peer)) if self._on_document is not None else None
        entry = _Peer(session, receiver)

        def on_control(raw: dict[str, Any]) -> None:
            self._on_control(peer, raw)

        entry.handlers.append(on_control)
        session.control_handlers.append(on_control)
        if receiver is not None:
            session.document_handlers.append(receiver.feed)
        self._peers[peer] = entry

    @staticmethod
    def _let_go(entry: _Peer) -> None:
        for handler in entry.handlers:
            if handler in entry.session.control_handlers:
                entry.session.control_handlers.remove(handler)
        if entry.receiver is not None:
            if entry.receiver.feed in entry.session.document_handlers:
                entry.session.document_handlers.remove(entry.receiver.feed)
            entry.receiver.discard_all()

    @property
    def peers(self) -> list[p.PartyId]:
        return list(self._peers)

    # ------------------------------------------------------------------ sharing

    def _targets(self) -> list[tuple[p.PartyId, CallSession]]:
        return [(peer, e.session) for peer, e in self._peers.items() if peer in self.shares_with]

    def share_line(self, text: str) -> int:
        """This party's chat line to every party it shares with; how many it is sent to."""
        targets = self._targets()
        for peer, session in targets:
            message = ic.Chat(id=new_id("m"), text=text[:2000], sender=self.me)
            self._send(peer, session, message)
        return len(targets)

    def share(self, message: ic.InCall) -> None:
        """Another in-call message (``document_withdrawn``) to every party this one shares with."""
        for peer, session in self._targets():
            self._send(peer, session, message)

    def share_document(self, offer: ic.DocumentOffer, data: bytes) -> None:
        """A document this party shows or scanned, to every party it shares with (sent in the background:
        the pair with the resident never waits for it). Never the back of a マイナンバーカード: the officer
        alone handles it."""
        if offer.warning == "mynumber_back":
            log.info("document %s is card-shaped: not shared with the other parties", offer.doc_id)
            return
        for peer, session in self._targets():
            if offer.purpose == "scan" and peer not in SCANS_SHARED_WITH:
                continue
            self._tasks.spawn(self._send_document(peer, session, offer, data), f"share {offer.doc_id}")

    def _send(self, peer: p.PartyId, session: CallSession, message: ic.InCall) -> None:
        data = ic.incall_dict(message)
        if session.channel is not None and session.channel.readyState == "open":
            try:
                session.send_control(data)
            except RuntimeError as exc:
                log.warning("in-call %s to %s not sent: %s", data["type"], peer, exc)
            return
        self._tasks.spawn(self._send_once_open(peer, session, data), f"peer {data['type']}")

    async def _send_once_open(self, peer: p.PartyId, session: CallSession, data: dict[str, Any]) -> None:
        try:
            await asyncio.wait_for(session.channel_open.wait(), CHANNEL_TIMEOUT_S)
            session.send_control(data)
        except (TimeoutError, RuntimeError) as exc:
            log.warning("in-call %s to %s not sent: %s", data["type"], peer, exc)

    async def _send_document(
        self, peer: p.PartyId, session: CallSession, offer: ic.DocumentOffer, data: bytes
    ) -> None:
        try:
            await asyncio.wait_for(session.documents_open.wait(), CHANNEL_TIMEOUT_S)
            if session.documents is None:
                raise RuntimeError("no documents channel")
            await send_document(session.documents, offer, data)
        except (TimeoutError, RuntimeError, ConnectionError) as exc:
            log.warning("document %s to %s not sent: %s", offer.doc_id, peer, exc)

    # ------------------------------------------------------------------ receiving

    def _on_control(self, peer: p.PartyId, raw: dict[str, Any]) -> None:
        kind = str(raw.get("type", "?"))[:40]
        if kind not in ("chat", "document_withdrawn"):
            return  # link pings are the LinkWatch's; verdicts on what we shared need no answer
        try:
            message = ic.parse_incall(raw)
        except ic.InCallError:
            log.warning("ignored an unreadable in-call message of type %r from %s", kind, peer)
            return
        if isinstance(message, ic.Chat) and self.on_chat is not None:
            if message.sender == self.me or message.sender not in PARTY_SENDERS.get(peer, ()):
                log.warning("ignored a chat line from %s that names %r as its sender", peer, message.sender)
                return
            self.on_chat(message.sender, message.text)
        elif isinstance(message, ic.DocumentWithdrawn) and self._on_withdrawn is not None:
            self._on_withdrawn(peer, message.doc_id)

    def _document_from(self, peer: p.PartyId) -> Callable[[ic.DocumentOffer, bytes | None, bool, str], None]:
        def verdict(offer: ic.DocumentOffer, data: bytes | None, ok: bool, detail: str) -> None:
            if self._on_document is None:
                return
            allowed = offer.purpose == ("show" if peer == "officer" else "scan")
            if not allowed:
                log.warning("ignored a document offered as %r by %s", offer.purpose, peer)
                detail, data, ok = f"{offer.purpose} is not shared by {peer}", None, False
            self._on_document(peer, offer, data if ok else None, detail)
            entry = self._peers.get(peer)
            if entry is not None:
                answer = ic.DocumentReceived(doc_id=offer.doc_id, ok=ok, detail=detail[:2000])
                self._send(peer, entry.session, answer)

        return verdict

    def close(self) -> None:
        """Let go of every session (the party stops): nothing more is sent or taken."""
        for entry in self._peers.values():
            self._let_go(entry)
        self._peers.clear()
        self._tasks.cancel()


# The sender a chat line from each party may name: a party speaks for itself only.
PARTY_SENDERS: dict[p.PartyId, tuple[ChatSender, ...]] = {
    "caller": ("resident",),
    "officer": ("officer",),
    "interpreter": ("interpreter",),
    "guest": ("guest",),  # a family member types on its page (web/guest/chat.js)
}
