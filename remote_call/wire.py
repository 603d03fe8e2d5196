"""The building blocks of the wire protocol: ids and texts, enums, credentials and the shared parts.

``remote_call.protocol`` re-exports every name here (import from there); this module exists so that the
message catalogue stays under the module size limit.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
ShortText = Annotated[str, Field(max_length=200)]
LongText = Annotated[str, Field(max_length=4000)]
Sdp = Annotated[str, Field(min_length=1, max_length=48_000)]

WaitStateName = Literal["no_wait", "wait", "nobody_waiting_officers_busy", "closed", "no_officer"]

# A party of a call (at most MAX_PARTIES): the kiosk or business, the officer, an interpreter, a guest.
PartyId = Literal["caller", "officer", "interpreter", "guest"]
MAX_PARTIES = 4
# Languages an interpreter may be requested for: 13 spoken languages and Japanese Sign Language (jsl).
InterpreterLanguage = Literal[
    "en", "zh", "ko", "vi", "ne", "tl", "pt", "es", "th", "id", "my", "fr", "ru", "jsl"
]
INTERPRETER_LANGUAGES: tuple[str, ...] = get_args(InterpreterLanguage)


class Role(StrEnum):
    KIOSK = "kiosk"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    IT_ADMIN = "it_admin"
    BUSINESS = "business"  # a business invited to one call (業者向けリモート窓口); signs in with a session
    INTERPRETER = (
        "interpreter"  # 通訳者: a staff account whose skills are languages; joins calls as a third party
    )
    GUEST = "guest"  # a family member invited by link into one live call (docs/guests.md); no account


class CallState(StrEnum):
    QUEUED = "queued"
    RINGING = "ringing"
    CONNECTING = "connecting"
    IN_CALL = "in_call"
    ENDED = "ended"


class EndReason(StrEnum):
    COMPLETED = "completed"  # one party ended the call normally
    CANCELLED = "cancelled"  # the resident left the queue before being answered
    KIOSK_DISCONNECTED = "kiosk_disconnected"  # the kiosk dropped and did not come back in time
    SETUP_FAILED = "setup_failed"  # media never came up
    TRANSFERRED = "transferred"  # to the officer only: the resident went on to another officer/department
    REQUEUED = "requeued"  # to the officer only: their connection was gone too long; the resident waits again


class ErrorCode(StrEnum):
    MALFORMED = "malformed"  # not JSON, or not an object
    UNKNOWN_TYPE = "unknown_type"
    INVALID = "invalid"  # a known type with wrong fields
    TOO_LARGE = "too_large"
    VERSION = "version"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # valid but not now (wrong state)
    RATE_LIMITED = "rate_limited"
    INTERNAL = "internal"  # the server failed on a valid message; it is logged and others are unaffected


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------- credentials


class DeviceTokenCredentials(Wire):
    kind: Literal["device_token"] = "device_token"
    kiosk_id: Id
    token: Annotated[str, Field(min_length=16, max_length=200)]


class PasswordCredentials(Wire):
    kind: Literal["password"] = "password"
    username: Id
    password: Annotated[str, Field(min_length=1, max_length=200)]


class SessionCredentials(Wire):
    kind: Literal["session"] = "session"
    token: Annotated[str, Field(min_length=16, max_length=200)]


Credentials = Annotated[
    DeviceTokenCredentials | PasswordCredentials | SessionCredentials, Field(discriminator="kind")
]


# ----------------------------------------------------------------- shared parts


class IceServerInfo(Wire):
    urls: list[Annotated[str, Field(max_length=300)]] = Field(max_length=8)
    username: ShortText | None = None
    credential: ShortText | None = None


class DepartmentInfo(Wire):
    id: Id
    name_ja: ShortText
    name_en: ShortText
    open: bool
    waiting: int
    ewt_s: float | None = None
    next_open: ShortText | None = None  # ISO 8601 local time when closed
    # The one wait estimate every surface shows (signaling_server.routing.estimate.wait_estimate): the
    # state, and the minutes (0 exactly when no_wait; None when closed or nobody serves the department).
    wait_state: WaitStateName | None = None
    wait_minutes: int | None = Field(default=None, ge=0)


class KioskInfo(Wire):
    id: Id
    name: ShortText
    location: ShortText = ""


class BusinessInfo(Wire):
    """A business session (業者向け): who was invited, for what, when. Shown to the business in its welcome
    and to the officer in the ring; never a secret."""

    invitation_id: Id
    department: Id
    company: ShortText
    contact_name: ShortText
    purpose: LongText = ""
    appointment_id: Id | None = None
    valid_from: ShortText  # ISO 8601 with offset: the window in which the link works
    valid_until: ShortText
    mobile: bool = False  # 動く窓口: the officer or the business joins from a tablet at a care facility


class CallerInfo(Wire):
    """What the officer is told about the resident before answering: never personal data."""

    procedure: Id | None = None
    language: Annotated[str, Field(max_length=16)] = "ja"
    accessibility: list[Annotated[str, Field(max_length=32)]] = Field(default=[], max_length=8)
