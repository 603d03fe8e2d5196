"""In-call messages: what kiosk and console say to each other over the call's own data channels.

These never pass through the signaling server: they travel peer to peer inside the call's DTLS
connection. The "control" channel carries small JSON messages (this module's typed models). Documents
(scans from the kiosk, images the officer shows) travel on the "documents" channel in binary chunks and
are checked with SHA-256 on arrival; see ``remote_call.documents``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

Text = Annotated[str, Field(max_length=2000)]
DocId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
MAX_DOCUMENT_BYTES = 40 * 1024 * 1024  # a 300 dpi A4 colour PNG is ~25 MB at worst


class InCall(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Chat(InCall):
    type: Literal["chat"] = "chat"
    id: Annotated[str, Field(max_length=40)]
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    sender: Literal["officer", "resident"]  # "resident": the caller's side, a kiosk or a business


class ScanRequest(InCall):
    """Officer → kiosk: please place a document on the scanner."""

    type: Literal["scan_request"] = "scan_request"
    request_id: DocId
    prompt: Text = ""


ScanStage = Literal["placing", "hold_still", "scanning", "sending", "done", "failed", "cancelled"]


class ScanStatus(InCall):
    """Kiosk → officer: where the resident is with a requested scan."""

    type: Literal["scan_status"] = "scan_status"
    request_id: DocId
    stage: ScanStage
    detail: Text = ""


class DocumentOffer(InCall):
    """Announces a document whose bytes follow on the documents channel."""

    type: Literal["document_offer"] = "document_offer"
    doc_id: DocId
    purpose: Literal["scan", "show", "upload"]  # upload: a file a business sends from its own computer
    request_id: DocId | None = None
    name: Annotated[str, Field(max_length=200)] = ""
    mime: Literal["image/png", "image/jpeg", "application/pdf"]
    size: int = Field(ge=1, le=MAX_DOCUMENT_BYTES)
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    width: int | None = Field(default=None, ge=1, le=20_000)
    height: int | None = Field(default=None, ge=1, le=20_000)
    dpi: int | None = Field(default=None, ge=50, le=1200)
    warning: Literal["mynumber_back"] | None = None  # the back of a マイナンバーカード was detected


class DocumentReceived(InCall):
    """The receiver's verdict on a document: its bytes arrived whole and match the SHA-256 (or not)."""

    type: Literal["document_received"] = "document_received"
    doc_id: DocId
    ok: bool
    detail: Text = ""


class DocumentWithdrawn(InCall):
    """Officer → kiosk: stop showing this image (or the kiosk tells the officer it discarded it)."""

    type: Literal["document_withdrawn"] = "document_withdrawn"
    doc_id: DocId


class PrintSlip(InCall):
    """Officer → kiosk: print a slip for the resident."""

    type: Literal["print_slip"] = "print_slip"
    slip_id: DocId
    department: Annotated[str, Field(max_length=100)]
    message: Text = ""
    items_to_bring: list[Annotated[str, Field(max_length=200)]] = Field(default=[], max_length=20)
    next_steps: Text = ""
    qr_url: Annotated[str, Field(max_length=500)] | None = None


class PrintResult(InCall):
    type: Literal["print_result"] = "print_result"
    slip_id: DocId
    ok: bool
    printer_status: Annotated[str, Field(max_length=40)] = ""
    detail: Text = ""


class ScreenShare(InCall):
    """Business → officer: the third transceiver (video, mid order 2) now carries a shared screen, or
    stopped. The officer shows it full size while ``active``."""

    type: Literal["screen_share"] = "screen_share"
    active: bool


class LinkPing(InCall):
    """Either way, every second: a dead media path shows within a few seconds, not aiortc's ~32 s."""

    type: Literal["link_ping"] = "link_ping"
    seq: int = Field(ge=0)
    sent_ms: float


class LinkPong(InCall):
    type: Literal["link_pong"] = "link_pong"
    seq: int = Field(ge=0)
    sent_ms: float


InCallMessage = Annotated[
    Chat
    | ScanRequest
    | ScanStatus
    | DocumentOffer
    | DocumentReceived
    | DocumentWithdrawn
    | PrintSlip
    | PrintResult
    | ScreenShare
    | LinkPing
    | LinkPong,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(InCallMessage)


class InCallError(Exception):
    pass


def parse_incall(data: dict[str, Any] | str) -> InCall:
    """Validate one control-channel message, or raise InCallError naming the problem."""
    try:
        if isinstance(data, str):
            data = json.loads(data)
        return _ADAPTER.validate_python(data)
    except (ValueError, ValidationError) as exc:
        raise InCallError(f"unreadable in-call message: {str(exc)[:300]}") from None


def incall_dict(message: InCall) -> dict[str, Any]:
    return message.model_dump(mode="json", exclude_none=True)
