"""The officer's in-call desk: chat, scans, documents shown and received, slips, over the call's own channels.

Attached to the CallSession of the current call; everything of the resident (chat, scans, shown images) lives
in memory only and is forgotten when the call ends, except documents the officer explicitly saved to the
case (``save_to_case``), which are kept in memory for the case and produce an audit record.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from remote_call import incall as ic
from remote_call.documents import DocumentReceiver, send_document, sha256_hex
from remote_call.events import EventHub
from remote_call.session import CallSession

log = logging.getLogger(__name__)

CHANNEL_TIMEOUT_S = 10.0


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


@dataclass
class ChatLine:
    sender: str  # officer | resident
    text: str
    at: float


@dataclass
class ReceivedDocument:
    offer: ic.DocumentOffer
    data: bytes
    received_at: float
    saved: bool = False


@dataclass
class ShownDocument:
    offer: ic.DocumentOffer
    delivered: bool | None = None  # None until the kiosk answers with document_received
    withdrawn: bool = False


@dataclass
class SlipState:
    slip: ic.PrintSlip
    result: ic.PrintResult | None = None


@dataclass
class AuditRecord:
    """One fact for the server's audit trail (sent as protocol.CaseEvent): identifiers and digests only."""

    action: str  # document_received | document_shown | document_saved | slip_printed
    call_id: str
    doc_id: str = ""
    sha256: str = ""
    size: int = 0
    label: str = ""
    at: float = field(default_factory=time.time)


AuditSender = Callable[[AuditRecord], Awaitable[None]]


class CallDesk:
    def __init__(self, events: EventHub):
        self.events = events
        self.session: CallSession | None = None
        self.call_id: str | None = None
        self.chat: list[ChatLine] = []
        self.scan_stages: dict[str, str] = {}
        self.documents: dict[str, ReceivedDocument] = {}
        self.failed_documents: dict[str, str] = {}
        self.shown: dict[str, ShownDocument] = {}
        self.slips: dict[str, SlipState] = {}
        self.case_documents: dict[str, list[ReceivedDocument]] = {}  # call id -> explicitly saved documents
        self.audit_log: list[AuditRecord] = []  # every record, sent or not
        self.audit_sender: AuditSender | None = None
        self.case_uploader: Callable[[str, ReceivedDocument], Awaitable[bool]] | None = None
        self.link_rtt_ms: float | None = None
        self._receiver = DocumentReceiver(self._on_document)
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ attach / detach

    def attach(self, session: CallSession) -> None:
        self.detach()
        self.session = session
        self.call_id = session.call_id
        session.control_handlers.append(self._on_control)
        session.document_handlers.append(self._receiver.feed)

    def detach(self) -> None:
        """The call is over: forget everything of the resident that was not saved to the case."""
        session = self.session
        if session is not None:
            if self._on_control in session.control_handlers:
                session.control_handlers.remove(self._on_control)
            if self._receiver.feed in session.document_handlers:
                session.document_handlers.remove(self._receiver.feed)
        self.session = None
        self.call_id = None
        self.chat.clear()
        self.scan_stages.clear()
        self.documents.clear()
        self.failed_documents.clear()
        self.shown.clear()
        self.slips.clear()
        self.link_rtt_ms = None
        self._receiver.discard_all()

    async def _ready(self) -> CallSession:
        session = self.session
        if session is None:
            raise RuntimeError("no call in progress")
        await asyncio.wait_for(session.channel_open.wait(), CHANNEL_TIMEOUT_S)
        return session

    def _send(self, session: CallSession, message: ic.InCall) -> None:
        session.send_control(ic.incall_dict(message))

    # ------------------------------------------------------------------ officer actions

    async def send_chat(self, text: str) -> ChatLine:
        text = text.strip()
        if not text:
            raise ValueError("a chat message cannot be empty")
        session = await self._ready()
        self._send(session, ic.Chat(id=new_id("m"), text=text, sender="officer"))
        line = ChatLine("officer", text, time.time())
        self.chat.append(line)
        self.events.emit("chat", sender="officer", text=text)
        return line

    async def request_scan(self, prompt: str = "") -> str:
        session = await self._ready()
        request_id = new_id("scan")
        self._send(session, ic.ScanRequest(request_id=request_id, prompt=prompt))
        self.scan_stages[request_id] = "requested"
        self.events.emit("scan_status", request_id=request_id, stage="requested", detail="")
        return request_id

    async def show_document(self, data: bytes, *, name: str, mime: str = "image/png",
                            width: int | None = None, height: int | None = None) -> str:
        """Show an image or a page to the resident: it travels on the documents channel, SHA-256 checked."""
        session = await self._ready()
        await asyncio.wait_for(session.documents_open.wait(), CHANNEL_TIMEOUT_S)
        assert session.documents is not None
        doc_id = new_id("show")
        offer = ic.DocumentOffer(doc_id=doc_id, purpose="show", name=name[:200], mime=mime,  # type: ignore[arg-type]
                                 size=len(data), sha256=sha256_hex(data), width=width, height=height)
        self.shown[doc_id] = ShownDocument(offer)
        await send_document(session.documents, offer, data)
        await self._audit("document_shown", doc_id=doc_id, sha256=offer.sha256, size=offer.size,
                          label=offer.name)
        self.events.emit("document_shown", doc_id=doc_id, name=name)
        return doc_id

    async def withdraw_document(self, doc_id: str) -> None:
        shown = self.shown.get(doc_id)
        if shown is None:
            raise KeyError(f"no document {doc_id!r} was shown in this call")
        session = await self._ready()
        self._send(session, ic.DocumentWithdrawn(doc_id=doc_id))
        shown.withdrawn = True
        self.events.emit("document_withdrawn", doc_id=doc_id)

    async def print_slip(self, *, department: str, message: str = "", items_to_bring: list[str] | None = None,
                         next_steps: str = "", qr_url: str | None = None) -> str:
        items = [i.strip() for i in (items_to_bring or []) if i.strip()]
        if not (message.strip() or items or next_steps.strip() or qr_url):
            raise ValueError("a slip needs a message, items to bring, next steps or a QR link")
        session = await self._ready()
        slip = ic.PrintSlip(slip_id=new_id("slip"), department=department, message=message,
                            items_to_bring=items, next_steps=next_steps, qr_url=qr_url or None)
        self._send(session, slip)
        self.slips[slip.slip_id] = SlipState(slip)
        await self._audit("slip_printed", doc_id=slip.slip_id, label=department)
        self.events.emit("slip_sent", slip_id=slip.slip_id)
        return slip.slip_id

    async def save_to_case(self, doc_id: str) -> AuditRecord:
        """The only way a received document is kept past the call: an explicit action, audited."""
        document = self.documents.get(doc_id)
        if document is None or self.call_id is None:
            raise KeyError(f"no verified document {doc_id!r} in this call")
        if not document.saved:
            document.saved = True
            self.case_documents.setdefault(self.call_id, []).append(document)
        stored = False
        if self.case_uploader is not None:
            # The server's case store: encrypted at rest, audited there, removed after retention.
            stored = await self.case_uploader(self.call_id, document)
        record = AuditRecord("document_saved", self.call_id, doc_id=doc_id, sha256=document.offer.sha256,
                             size=document.offer.size, label=document.offer.name[:200])
        if not stored:  # kept on this console only: the audit entry goes through the call's case_event
            record = await self._audit("document_saved", doc_id=doc_id, sha256=document.offer.sha256,
                                       size=document.offer.size, label=document.offer.name)
        self.events.emit("document_saved", doc_id=doc_id, stored=stored)
        return record

    async def _audit(self, action: str, *, doc_id: str = "", sha256: str = "", size: int = 0,
                     label: str = "") -> AuditRecord:
        record = AuditRecord(action, self.call_id or "", doc_id=doc_id, sha256=sha256, size=size,
                             label=label[:200])
        self.audit_log.append(record)
        if self.audit_sender is not None and record.call_id:
            try:
                await self.audit_sender(record)
            except ConnectionError:
                log.warning("call %s: audit record %s not sent: offline", record.call_id, action)
        self.events.emit("audit", action=action, call_id=record.call_id)
        return record

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ from the kiosk

    def _on_control(self, raw: dict[str, Any]) -> None:
        try:
            message = ic.parse_incall(raw)
        except ic.InCallError:
            # never the error text: validation errors quote the input, which may be the resident's words
            kind = str(raw.get("type", "?"))[:40]
            log.warning("call %s: ignored an unreadable in-call message of type %r", self.call_id, kind)
            return
        if isinstance(message, ic.Chat):
            if message.sender != "resident":
                return
            self.chat.append(ChatLine("resident", message.text, time.time()))
            self.events.emit("chat", sender="resident", text=message.text)
        elif isinstance(message, ic.ScanStatus):
            self.scan_stages[message.request_id] = message.stage
            self.events.emit("scan_status", request_id=message.request_id, stage=message.stage,
                             detail=message.detail)
        elif isinstance(message, ic.DocumentReceived):
            shown = self.shown.get(message.doc_id)
            if shown is not None:
                shown.delivered = message.ok
                self.events.emit("document_delivered", doc_id=message.doc_id, ok=message.ok,
                                 detail=message.detail)
        elif isinstance(message, ic.DocumentWithdrawn):
            if message.doc_id in self.shown:
                self.shown[message.doc_id].withdrawn = True
                self.events.emit("document_withdrawn", doc_id=message.doc_id)
        elif isinstance(message, ic.PrintResult):
            state = self.slips.get(message.slip_id)
            if state is not None:
                state.result = message
                self.events.emit("print_result", slip_id=message.slip_id, ok=message.ok,
                                 printer_status=message.printer_status, detail=message.detail)
        elif isinstance(message, ic.LinkPing):
            if self.session is not None and self.session.channel is not None:
                self._send(self.session, ic.LinkPong(seq=message.seq, sent_ms=message.sent_ms))
        elif isinstance(message, ic.LinkPong):
            self.link_rtt_ms = max(0.0, time.monotonic() * 1000 - message.sent_ms)

    def _on_document(self, offer: ic.DocumentOffer, data: bytes | None, ok: bool, detail: str) -> None:
        if offer.purpose != "scan":
            log.warning("call %s: ignored a document the kiosk offered to show", self.call_id)
            return
        if ok and data is not None:
            self.documents[offer.doc_id] = ReceivedDocument(offer, data, time.time())
            self._spawn(self._audit("document_received", doc_id=offer.doc_id, sha256=offer.sha256,
                                    size=offer.size, label=offer.name))
        else:
            self.failed_documents[offer.doc_id] = detail
        if offer.request_id is not None:
            self.scan_stages[offer.request_id] = "received" if ok else "failed"
        session = self.session
        if session is not None and session.channel is not None and session.channel.readyState == "open":
            self._send(session, ic.DocumentReceived(doc_id=offer.doc_id, ok=ok, detail=detail[:2000]))
        self.events.emit("document_received", doc_id=offer.doc_id, ok=ok, detail=detail,
                         request_id=offer.request_id, size=offer.size, warning=offer.warning)
