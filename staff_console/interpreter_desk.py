"""The interpreter's in-call desk, free of Qt: the call's chat and what is shown in it.

The resident's kiosk and the officer's console share their own chat lines, the documents the officer shows
and the scans the resident makes with the interpreter over their peer connections to it
(``remote_call.conference_desk``); the interpreter's lines go to both (a sign-language interpreter typing a
name). Saved case documents never come here: they stay on the server, which refuses the interpreter role on
every case route. What arrived is kept in memory only and forgotten when the interpreter's part of the call
ends (``forget``).
"""

from __future__ import annotations

from dataclasses import dataclass

from remote_call import incall as ic
from remote_call import protocol as p
from remote_call.conference import Conference
from remote_call.conference_desk import PeerDesk
from remote_call.desk import ChatLine, ChatSender
from remote_call.events import EventHub

INTERPRETER_SEES: frozenset[p.PartyId] = frozenset({"caller", "officer"})


@dataclass
class SharedDocument:
    """A document shown (by the officer) or scanned (by the resident) while the interpreter is in the call."""

    peer: p.PartyId
    offer: ic.DocumentOffer
    data: bytes | None  # None: it failed its checks (``detail`` says why)
    detail: str = ""
    withdrawn: bool = False

    @property
    def ok(self) -> bool:
        return self.data is not None


class InterpretingDesk:
    """The chat with the resident and the officer, and the documents they share, for one call at a time."""

    def __init__(self, conference: Conference, events: EventHub) -> None:
        self.events = events
        self.chat: list[ChatLine] = []
        self.documents: dict[str, SharedDocument] = {}
        self.peers = PeerDesk(
            conference,
            "interpreter",
            shares_with=INTERPRETER_SEES,
            on_chat=self._heard,
            on_document=self._received,
            on_withdrawn=self._withdrawn,
        )

    def say(self, text: str) -> ChatLine:
        """A chat line to the resident and the officer (whoever of them is connected now)."""
        text = text.strip()
        if not text:
            raise ValueError("a chat message cannot be empty")
        if not self.peers.share_line(text):
            raise RuntimeError("not connected to anyone in a call")
        line = ChatLine("interpreter", text)
        self.chat.append(line)
        self.events.emit("chat", sender="interpreter", text=text)
        return line

    def forget(self) -> None:
        """The interpreter's part of the call is over: nothing of it stays."""
        self.chat.clear()
        self.documents.clear()

    def _heard(self, sender: ChatSender, text: str) -> None:
        self.chat.append(ChatLine(sender, text))
        self.events.emit("chat", sender=sender, text=text)

    def _received(self, peer: p.PartyId, offer: ic.DocumentOffer, data: bytes | None, detail: str) -> None:
        self.documents[offer.doc_id] = SharedDocument(peer, offer, data, detail)
        self.events.emit(
            "document_shared",
            doc_id=offer.doc_id,
            peer=peer,
            purpose=offer.purpose,
            name=offer.name,
            ok=data is not None,
            warning=offer.warning,
        )

    def _withdrawn(self, peer: p.PartyId, doc_id: str) -> None:
        shared = self.documents.get(doc_id)
        if shared is not None and shared.peer == peer:
            shared.withdrawn = True
            self.events.emit("document_withdrawn", doc_id=doc_id, peer=peer)
