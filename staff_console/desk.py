"""The officer's in-call desk: chat, scans, documents shown and received, slips, over the call's own channels.

Built on ``remote_call.desk.CallDesk`` (sending once the channel is open, the in-call dispatch table, chat
lines, shown documents). Everything of the resident (chat, scans, shown images) lives in memory only and is
forgotten when the call ends, except documents the officer explicitly saved to the case (``save_to_case``),
which are kept in memory for the case and produce an audit record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, cast

from config.phrasebook import JAPANESE, NameOf, PhraseBook, shipped_phrasebook
from remote_call import incall as ic
from remote_call.desk import CHANNEL_TIMEOUT_S, ChatLine, ChatSender, Handler, ShownDocument, new_id
from remote_call.desk import CallDesk as SharedDesk
from remote_call.documents import sha256_hex
from remote_call.events import EventHub
from remote_call.session import CallSession
from remote_call.tasks import BackgroundTasks
from staff_console.uploads import UploadRefused, check_upload, refused_offer

log = logging.getLogger(__name__)

__all__ = ["AuditRecord", "CallDesk", "ChatLine", "ReceivedDocument", "ShownDocument", "SlipState"]


@dataclass
class ReceivedDocument:
    offer: ic.DocumentOffer
    data: bytes
    received_at: float
    saved: bool = False
    pages: int = 1  # a PDF's page count (uploads); 1 for an image

    @property
    def upload(self) -> bool:
        """Sent by a business from its own computer (not scanned at a kiosk)."""
        return self.offer.purpose == "upload"


@dataclass
class SlipState:
    slip: ic.PrintSlip
    result: ic.PrintResult | None = None


AuditAction = Literal["document_received", "document_shown", "document_saved", "slip_printed"]


@dataclass
class AuditRecord:
    """One fact for the server's audit trail (sent as protocol.CaseEvent): identifiers and digests only."""

    action: AuditAction
    call_id: str
    doc_id: str = ""
    sha256: str = ""
    size: int = 0
    label: str = ""
    at: float = field(default_factory=time.time)


AuditSender = Callable[[AuditRecord], Awaitable[None]]
CaseUploader = Callable[[str, ReceivedDocument], Awaitable[bool]]


class CallDesk(SharedDesk):
    me = "officer"
    peer = "resident"

    def __init__(
        self,
        events: EventHub,
        *,
        audit_sender: AuditSender | None = None,
        case_uploader: CaseUploader | None = None,
        names: NameOf | None = None,
    ):
        super().__init__(events)
        self.name_of: NameOf = names or (lambda kind, item_id, lang: None)  # phrase parameters' names
        self.scan_stages: dict[str, str] = {}
        self.documents: dict[str, ReceivedDocument] = {}
        self.failed_documents: dict[str, str] = {}
        self.slips: dict[str, SlipState] = {}
        self.case_documents: dict[str, list[ReceivedDocument]] = {}  # call id -> explicitly saved documents
        self.audit_log: list[AuditRecord] = []  # every record, sent or not
        self.audit_sender = audit_sender
        self.case_uploader = case_uploader  # the server's case store, when the console has one
        self._tasks = BackgroundTasks(log, "console desk")
        self.business = False  # the caller is a business: no scanner, no printer (set for each call)
        self.screen_share = False  # the business shares its screen now (control message screen_share)
        self.resident_language = "ja"  # the caller's language (set for each call)
        self.phrasebook: PhraseBook = shipped_phrasebook()

    def handlers(self) -> dict[type[ic.InCall], Handler]:
        return {
            **super().handlers(),
            ic.ScanStatus: self._on_scan_status,
            ic.DocumentReceived: self._on_delivered,
            ic.DocumentWithdrawn: self._on_withdrawn,
            ic.PrintResult: self._on_print_result,
            ic.ScreenShare: self._on_screen_share,
        }

    # ------------------------------------------------------------------ attach / detach

    def attach(self, session: CallSession) -> None:
        """A new call starts a clean desk; the same call's rebuilt media (a restart) keeps the chat, the
        documents, the slips and a pending scan request: only the old session is let go of."""
        old = self.session
        if old is None or old.call_id != session.call_id:
            self.detach()
        elif self._answer_refused_offer in old.document_handlers:
            old.document_handlers.remove(self._answer_refused_offer)
        super().attach(session)
        session.document_handlers.append(self._answer_refused_offer)

    def detach(self) -> None:
        """The call is over: forget everything of the resident that was not saved to the case."""
        session = self.session
        if session is not None and self._answer_refused_offer in session.document_handlers:
            session.document_handlers.remove(self._answer_refused_offer)
        super().detach()
        if self.screen_share:
            self.screen_share = False
            self.events.emit("screen_share", active=False)
        self.scan_stages.clear()
        self.documents.clear()
        self.failed_documents.clear()
        self.slips.clear()

    # ------------------------------------------------------------------ officer actions

    async def send_chat(self, text: str) -> ChatLine:
        text = text.strip()
        if not text:
            raise ValueError("a chat message cannot be empty")
        line = await self.say_when_open(text)
        self.events.emit("chat", sender="officer", text=text, untranslated=self.untranslated)
        return line

    @property
    def untranslated(self) -> bool:
        """Free text reaches this resident untranslated (their language is not Japanese)."""
        return self.resident_language not in JAPANESE

    async def send_phrase(self, phrase_id: str, params: dict[str, str] | None = None) -> ChatLine:
        """A library phrase: the resident reads it in their language; the officer's chat, in Japanese."""
        params = dict(params or {})
        japanese = self.phrasebook.render(phrase_id, "ja", params, self.name_of)
        ref = ic.PhraseRef(phrase_id=phrase_id, params=params)
        await self.send_when_open(ic.Phrase(id=new_id("p"), phrase=ref))
        line = ChatLine("officer", japanese, phrase_id=phrase_id)
        self.chat.append(line)
        self.share_line(line)  # the interpreter reads the Japanese
        self.events.emit("chat", sender="officer", text=japanese, phrase=phrase_id)
        return line

    def scan_phrase(self, prompt: str) -> ic.PhraseRef | None:
        """The library's scan phrase whose Japanese is ``prompt`` (the prompt box's default is one)."""
        wanted = prompt.strip().rstrip("。")
        for phrase in self.phrasebook.phrases:
            if phrase.category == "scan" and not phrase.params and phrase.text["ja"].rstrip("。") == wanted:
                return ic.PhraseRef(phrase_id=phrase.id)
        return None

    def _no_kiosk_devices(self, what: str) -> None:
        if self.business:
            raise RuntimeError(f"a business caller has no {what}: it joins from its own computer")

    async def request_scan(self, prompt: str = "", phrase: ic.PhraseRef | None = None) -> str:
        """Ask for a scan. A prompt that is a library scan phrase travels as the phrase (the resident reads
        it in their language); other text as typed, marked untranslated on the kiosk."""
        self._no_kiosk_devices("scanner")
        request_id = new_id("scan")
        phrase = phrase or self.scan_phrase(prompt)
        if phrase is not None:
            prompt = self.phrasebook.render(phrase.phrase_id, "ja", phrase.params, self.name_of)
        await self.send_when_open(ic.ScanRequest(request_id=request_id, prompt=prompt, phrase=phrase))
        self.scan_stages[request_id] = "requested"
        self.events.emit("scan_status", request_id=request_id, stage="requested", detail="")
        return request_id

    async def show_document(
        self,
        data: bytes,
        *,
        name: str,
        mime: str = "image/png",
        width: int | None = None,
        height: int | None = None,
        caption: ic.PhraseRef | None = None,
    ) -> str:
        """Show an image or a page to the resident: it travels on the documents channel, SHA-256 checked.
        ``caption``: a library phrase the kiosk shows above it in the resident's language."""
        session = await self.ready()
        await asyncio.wait_for(session.documents_open.wait(), CHANNEL_TIMEOUT_S)
        assert session.documents is not None
        doc_id = new_id("show")
        offer = ic.DocumentOffer.model_validate(
            {
                "doc_id": doc_id,
                "purpose": "show",
                "name": name[:200],
                "mime": mime,
                "size": len(data),
                "sha256": sha256_hex(data),
                "width": width,
                "height": height,
                "caption": caption,
            }
        )
        self.shown[doc_id] = ShownDocument(offer)
        await self.send_document(session, offer, data)  # to the interpreter too, if one is in the call
        await self._audit(
            "document_shown", doc_id=doc_id, sha256=offer.sha256, size=offer.size, label=offer.name
        )
        self.events.emit("document_shown", doc_id=doc_id, name=name)
        return doc_id

    async def withdraw_document(self, doc_id: str) -> None:
        shown = self.shown.get(doc_id)
        if shown is None:
            raise KeyError(f"no document {doc_id!r} was shown in this call")
        await self.send_when_open(ic.DocumentWithdrawn(doc_id=doc_id))
        shown.withdrawn = True
        self.events.emit("document_withdrawn", doc_id=doc_id)

    async def print_slip(
        self,
        *,
        department: str,
        message: str = "",
        items_to_bring: list[str] | None = None,
        next_steps: str = "",
        qr_url: str | None = None,
        phrases: list[ic.PhraseRef] | None = None,
        department_id: str | None = None,
    ) -> str:
        """Print a slip at the kiosk: in the resident's language with the Japanese beside it (library
        ``phrases``, the department by id); the officer's own words as typed, marked untranslated."""
        self._no_kiosk_devices("printer")
        items = [i.strip() for i in (items_to_bring or []) if i.strip()]
        phrases = list(phrases or [])
        for ref in phrases:
            self.phrasebook.check_params(ref.phrase_id, ref.params)
        if not (message.strip() or items or next_steps.strip() or qr_url or phrases):
            raise ValueError("a slip needs a phrase, a message, items to bring, next steps or a QR link")
        slip = ic.PrintSlip(
            slip_id=new_id("slip"),
            department=department,
            message=message,
            items_to_bring=items,
            next_steps=next_steps,
            qr_url=qr_url or None,
            language=cast(ic.Language, self.resident_language)
            if self.resident_language in ic.LANGUAGES
            else None,
            department_id=department_id,
            phrases=phrases,
        )
        await self.send_when_open(slip)
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
        record = AuditRecord(
            "document_saved",
            self.call_id,
            doc_id=doc_id,
            sha256=document.offer.sha256,
            size=document.offer.size,
            label=document.offer.name[:200],
        )
        if not stored:  # kept on this console only: the audit entry goes through the call's case_event
            record = await self._audit(
                "document_saved",
                doc_id=doc_id,
                sha256=document.offer.sha256,
                size=document.offer.size,
                label=document.offer.name,
            )
        self.events.emit("document_saved", doc_id=doc_id, stored=stored)
        return record

    async def _audit(
        self, action: AuditAction, *, doc_id: str = "", sha256: str = "", size: int = 0, label: str = ""
    ) -> AuditRecord:
        record = AuditRecord(
            action, self.call_id or "", doc_id=doc_id, sha256=sha256, size=size, label=label[:200]
        )
        self.audit_log.append(record)
        if self.audit_sender is not None and record.call_id:
            try:
                await self.audit_sender(record)
            except ConnectionError:
                log.warning("call %s: audit record %s not sent: offline", record.call_id, action)
        self.events.emit("audit", action=action, call_id=record.call_id)
        return record

    # ------------------------------------------------------------------ from the kiosk

    def wrote(self, text: str) -> None:
        self.events.emit("chat", sender="officer", text=text)  # a finished line of real-time text

    def heard(self, text: str) -> None:
        self.events.emit("chat", sender="resident", text=text)

    def heard_from(self, sender: ChatSender, text: str) -> None:
        self.events.emit("chat", sender=sender, text=text)  # the interpreter's line, shown as theirs

    def _on_scan_status(self, message: ic.ScanStatus) -> None:
        self.scan_stages[message.request_id] = message.stage
        self.events.emit(
            "scan_status", request_id=message.request_id, stage=message.stage, detail=message.detail
        )

    def _on_delivered(self, message: ic.DocumentReceived) -> None:
        shown = self.shown.get(message.doc_id)
        if shown is not None:
            shown.delivered = message.ok
            self.events.emit(
                "document_delivered", doc_id=message.doc_id, ok=message.ok, detail=message.detail
            )

    def _on_withdrawn(self, message: ic.DocumentWithdrawn) -> None:
        if message.doc_id in self.shown:
            self.shown[message.doc_id].withdrawn = True
            self.events.emit("document_withdrawn", doc_id=message.doc_id)

    def _on_print_result(self, message: ic.PrintResult) -> None:
        state = self.slips.get(message.slip_id)
        if state is not None:
            state.result = message
            self.events.emit(
                "print_result",
                slip_id=message.slip_id,
                ok=message.ok,
                printer_status=message.printer_status,
                detail=message.detail,
            )

    def _on_screen_share(self, message: ic.ScreenShare) -> None:
        if not self.business:
            log.warning("call %s: ignored screen_share from a caller that is not a business", self.call_id)
            return
        if message.active != self.screen_share:
            self.screen_share = message.active
            self.events.emit("screen_share", active=message.active)

    def _answer_refused_offer(self, frame: bytes | str) -> None:
        """An offer the DocumentReceiver drops unparsed (over 40 MiB, not PDF/PNG/JPEG) still gets an
        answer, so the sender's progress bar ends with a reason instead of waiting."""
        refused = refused_offer(frame)
        if refused is None:
            return
        doc_id, name, detail = refused
        log.warning("call %s: refused document %s: %s", self.call_id, doc_id, detail.split(":")[0])
        self.failed_documents[doc_id] = detail
        self.send_soon(ic.DocumentReceived(doc_id=doc_id, ok=False, detail=detail[:2000]))
        self.events.emit(
            "document_received",
            doc_id=doc_id,
            ok=False,
            detail=detail,
            request_id=None,
            size=0,
            warning=None,
            purpose="upload",
            name=name,
        )

    def _on_document(self, offer: ic.DocumentOffer, data: bytes | None, ok: bool, detail: str) -> None:
        """As the shared desk's, but the answer is ok only when the console kept the document: an upload
        that arrived whole can still be refused (not the announced type, a PDF that does not open)."""
        verdict = self.take_document(offer, data if ok else None, detail)
        if verdict is not None:
            kept = ok and offer.doc_id in self.documents
            self.send_soon(ic.DocumentReceived(doc_id=offer.doc_id, ok=kept, detail=verdict[:2000]))

    def take_document(self, offer: ic.DocumentOffer, data: bytes | None, detail: str) -> str | None:
        wanted = "upload" if self.business else "scan"
        if offer.purpose != wanted:
            log.warning("call %s: ignored a document offered as %r", self.call_id, offer.purpose)
            return None
        pages = 1
        if data is not None and offer.purpose == "upload":
            try:
                pages = check_upload(offer, data)
            except UploadRefused as refused:
                data, detail = None, str(refused)
        elif data is None and offer.purpose == "upload":
            detail = f"damaged: {detail}"
        if data is not None:
            self.documents[offer.doc_id] = ReceivedDocument(offer, data, time.time(), pages=pages)
            self._tasks.spawn(
                self._audit(
                    "document_received",
                    doc_id=offer.doc_id,
                    sha256=offer.sha256,
                    size=offer.size,
                    label=offer.name,
                ),
                f"audit {offer.doc_id}",
            )
        else:
            self.failed_documents[offer.doc_id] = detail
        if offer.request_id is not None:
            self.scan_stages[offer.request_id] = "received" if data is not None else "failed"
        self.events.emit(
            "document_received",
            doc_id=offer.doc_id,
            ok=data is not None,
            detail=detail,
            request_id=offer.request_id,
            size=offer.size,
            warning=offer.warning,
            purpose=offer.purpose,
            name=offer.name,
        )
        return detail
