"""Everything of the current resident, in one object that the privacy reset replaces whole.

``ResidentSession`` holds the resident's choices, their place in the queue and what their call left (chat,
the scan in progress, documents the officer shows, the slip). The call's part is also the kiosk desk's notes
(``remote_call.desk.DeskNotes``): the desk writes chat lines and shown documents into the resident's session,
so nothing of theirs lives anywhere the reset does not reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk_client.i18n import DEFAULT_LANGUAGE
from kiosk_client.peripherals import PrintOutcome
from remote_call import protocol as p
from remote_call.desk import ChatLine, ShownDocument
from remote_call.rtt import WritingNotes


@dataclass(frozen=True)
class Notice:
    """A trouble message for the resident: a catalog key and what fills it (formatted per language)."""

    key: str
    department: str | None = None  # a department id; the view shows its name
    when: str | None = None  # ISO local time of the next opening


@dataclass
class ScanTask:
    request_id: str
    prompt: str
    stage: str = "placing"  # ScanStatus stages
    error_key: str | None = None
    thumbnail: bytes | None = None  # a small PNG of what was sent, shown to the resident until the reset
    phrase_id: str | None = None  # the prompt is a library phrase in the resident's language (else as typed)


@dataclass
class ResidentSession:
    """Everything of the current resident. Cleared by reset()."""

    department: str | None = None
    procedure: str | None = None
    language: str = DEFAULT_LANGUAGE
    language_chosen: bool = False
    accessibility: list[str] = field(default_factory=list)
    choose_mode: str = "procedure"  # or "department"
    category: str | None = None
    search: str = ""
    large_text: bool = False
    high_contrast: bool = False
    call_id: str | None = None
    requested: bool = False
    position: int | None = None
    ewt_s: float | None = None
    refused: p.CallRefused | None = None
    notice: Notice | None = None
    end_reason: str | None = None
    officer_name: str | None = None
    interpreter_language: str | None = None  # 通訳つき: asked for with the call (kiosk_client/interpreter.py)
    chat: list[ChatLine] = field(default_factory=list)
    scan: ScanTask | None = None
    shown: dict[str, ShownDocument] = field(default_factory=dict)
    writing: WritingNotes = field(default_factory=WritingNotes)  # 筆談: drafts and the pad, both sides
    hearing: bool = False  # asked for written conversation (聴覚): the officer sees it among the 配慮
    slip: PrintOutcome | None = None
    end_confirm: bool = False
    rating: str | None = None
    appointment_pin: str = ""  # digits typed on the 予約 pad (or read from the QR code)
    appointment_slot: str | None = None  # checked in: the booking's slot (ISO 8601), shown while waiting

    def pristine(self) -> bool:
        return self == ResidentSession()
