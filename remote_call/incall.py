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
MAX_DRAFT_CHARS = 1000  # a real-time text draft (the whole draft travels in every message)
MAX_POINTS_PER_MESSAGE = 64  # an ink message: ~1 s of a fast finger, < 2 KB of JSON
MAX_POINTS_PER_STROKE = 2000
MAX_STROKES_PER_PAGE = 300  # a full page of handwritten kanji; then the pad must be cleared


class InCall(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PhraseIdText = Annotated[str, Field(max_length=64, pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")]
ParamName = Annotated[str, Field(pattern=r"^[a-z_]{1,20}$")]
ParamValue = Annotated[str, Field(min_length=1, max_length=64)]
Language = Literal["ja", "ja-easy", "en", "zh", "ko", "vi"]
LANGUAGES: tuple[str, ...] = ("ja", "ja-easy", "en", "zh", "ko", "vi")


class PhraseRef(InCall):
    """A phrase of the library (config/defaults/phrases.toml) by id, with its parameters: each side shows
    it in its own language (the kiosk in the resident's, the console in Japanese)."""

    phrase_id: PhraseIdText
    params: dict[ParamName, ParamValue] = Field(default={}, max_length=5)


class Phrase(InCall):
    """Officer → kiosk: a library phrase, shown to the resident in their language. Free text goes as
    ``chat`` instead, and an officer's chat line is untranslated by definition (both screens mark it)."""

    type: Literal["phrase"] = "phrase"
    id: Annotated[str, Field(max_length=40)]
    phrase: PhraseRef


class Chat(InCall):
    """A line as typed. From the officer it is free text, shown marked 「翻訳なし / untranslated」 to a
    resident whose language is not Japanese (translated content travels as ``phrase``)."""

    type: Literal["chat"] = "chat"
    id: Annotated[str, Field(max_length=40)]
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    # "resident": the caller's side (kiosk, business); "guest": a family member by link (docs/guests.md)
    sender: Literal["officer", "resident", "interpreter", "guest"]


class ScanRequest(InCall):
    """Officer → kiosk: please place a document on the scanner."""

    type: Literal["scan_request"] = "scan_request"
    request_id: DocId
    prompt: Text = ""  # free text (shown marked untranslated) when there is no phrase
    phrase: PhraseRef | None = None  # the library's wording, shown in the resident's language


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
    caption: PhraseRef | None = None  # purpose "show": a library phrase the kiosk shows as its title


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
    # The slip in the resident's language with the Japanese beside it (the kiosk's template per language):
    # library phrases, and the department by id. message / items / next steps are free text, marked.
    language: Language | None = None
    department_id: Annotated[str, Field(max_length=64)] | None = None
    phrases: list[PhraseRef] = Field(default=[], max_length=10)


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


class TextDraft(InCall):
    """Either way: real-time text, the whole draft as typed so far (``remote_call.rtt``); the ``final`` one
    is a finished line that both sides add to the chat. A draft with a lower ``seq`` than one seen is old."""

    type: Literal["text_draft"] = "text_draft"
    seq: int = Field(ge=0)
    text: Annotated[str, Field(max_length=MAX_DRAFT_CHARS)]
    final: bool = False


Coordinate = Annotated[float, Field(ge=0.0, le=1.0)]


class InkStroke(InCall):
    """Either way: handwriting (筆談) as it is drawn. Points (x, y) normalised to the pad (0..1, top left
    0, 0) are appended to the sender's stroke ``stroke_id``; ``done`` ends it."""

    type: Literal["ink_stroke"] = "ink_stroke"
    stroke_id: int = Field(ge=0, lt=2**31)
    points: list[tuple[Coordinate, Coordinate]] = Field(max_length=MAX_POINTS_PER_MESSAGE)
    done: bool = False


class InkClear(InCall):
    """Either way: the pad is wiped (both sides' strokes)."""

    type: Literal["ink_clear"] = "ink_clear"


InCallMessage = Annotated[
    Chat
    | Phrase
    | ScanRequest
    | ScanStatus
    | DocumentOffer
    | DocumentReceived
    | DocumentWithdrawn
    | PrintSlip
    | PrintResult
    | ScreenShare
    | LinkPing
    | LinkPong
    | TextDraft
    | InkStroke
    | InkClear,
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
