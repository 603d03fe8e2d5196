"""The signaling wire protocol: JSON over one websocket per client, every message a typed model.

Every message is an object with a ``type`` field naming its model; ``parse_message`` turns raw text into
exactly one model of the ``Message`` union or raises ``ProtocolError`` naming the problem. The protocol
version is carried in ``hello`` and ``welcome``; see docs/protocol.md for the sequence of a call.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
ShortText = Annotated[str, Field(max_length=200)]
LongText = Annotated[str, Field(max_length=4000)]
Sdp = Annotated[str, Field(min_length=1, max_length=48_000)]


class Role(StrEnum):
    KIOSK = "kiosk"
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    IT_ADMIN = "it_admin"
    BUSINESS = "business"  # a business invited to one call (業者向けリモート窓口); signs in with a session


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


# ----------------------------------------------------------------- client -> server


class Hello(Wire):
    type: Literal["hello"] = "hello"
    v: int
    role: Role
    credentials: Credentials
    app_version: ShortText = ""


class RequestCall(Wire):
    """Kiosk: put the resident in a department's queue."""

    type: Literal["request_call"] = "request_call"
    department: Id
    caller: CallerInfo = CallerInfo()
    rejoin_ticket: Annotated[str, Field(max_length=300)] | None = None
    # 予約: check in with the booking's PIN (typed, or read from its QR code); see docs/appointments.md
    appointment_pin: Annotated[str, Field(pattern=r"^\d{6}$")] | None = None


class CancelCall(Wire):
    type: Literal["cancel_call"] = "cancel_call"
    call_id: Id


class SetStatus(Wire):
    """Officer: available, or away with a reason (休憩, 窓口対応中, 会議)."""

    type: Literal["set_status"] = "set_status"
    status: Literal["available", "away"]
    reason: Literal["break", "counter", "meeting"] | None = None


class AcceptCall(Wire):
    type: Literal["accept_call"] = "accept_call"
    call_id: Id


class DeclineCall(Wire):
    type: Literal["decline_call"] = "decline_call"
    call_id: Id


class SessionDescription(Wire):
    """An SDP offer or answer, relayed only to the other party of the same call."""

    type: Literal["sdp"] = "sdp"
    call_id: Id
    sdp_type: Literal["offer", "answer"]
    sdp: Sdp


class IceCandidate(Wire):
    type: Literal["ice_candidate"] = "ice_candidate"
    call_id: Id
    candidate: Annotated[str, Field(max_length=1000)]
    sdp_mid: Annotated[str, Field(max_length=32)] | None = None
    sdp_mline_index: Annotated[int, Field(ge=0, le=64)] | None = None


class MediaConnected(Wire):
    """Either party: the peer connection reached "connected"."""

    type: Literal["media_connected"] = "media_connected"
    call_id: Id


class RestartMedia(Wire):
    """Either party: the media path died (no link pong for 5 s); rebuild the peer connection for the
    same call. The server answers both parties with a fresh call_connecting."""

    type: Literal["restart_media"] = "restart_media"
    call_id: Id
    reason: Literal["link_lost", "ice_failed"] = "link_lost"


class SyncCall(Wire):
    """Either party, after every (re)connection while it believes it is in a call: where does this call
    stand? Covers a message lost in a connection that died before anyone noticed."""

    type: Literal["sync_call"] = "sync_call"
    call_id: Id


class EndCall(Wire):
    type: Literal["end_call"] = "end_call"
    call_id: Id
    outcome: Literal["resolved", "visit_city_hall", "transferred", "appointment_made", "other"] | None = None
    notes: LongText = ""


class Ping(Wire):
    type: Literal["ping"] = "ping"
    nonce: Annotated[int, Field(ge=0, le=2**53)] = 0


class SetShift(Wire):
    """Officer: the departments served this shift (a subset of the officer's skills)."""

    type: Literal["set_shift"] = "set_shift"
    departments: list[Id] = Field(min_length=1, max_length=32)


class TransferCall(Wire):
    """Officer: send the resident to another department, blind (now) or warm (stay until answered)."""

    type: Literal["transfer_call"] = "transfer_call"
    call_id: Id
    to_department: Id
    note: LongText = ""
    warm: bool = False


class CancelTransfer(Wire):
    type: Literal["cancel_transfer"] = "cancel_transfer"
    call_id: Id


class DeviceStatus(Wire):
    status: Literal["ok", "degraded", "error", "absent", "unknown"]
    detail: ShortText = ""
    since: float = 0.0


class Heartbeat(Wire):
    """Kiosk (and console): health every few seconds."""

    type: Literal["heartbeat"] = "heartbeat"
    app_version: ShortText = ""
    uptime_s: float = Field(ge=0)
    os: ShortText = ""
    cpu_percent: float = Field(ge=0, le=100 * 256)
    memory_percent: float = Field(ge=0, le=100)
    disk_percent: float = Field(ge=0, le=100)
    devices: dict[Annotated[str, Field(max_length=32)], DeviceStatus] = Field(default={}, max_length=16)
    rtt_ms: float | None = Field(default=None, ge=0)


class CallQuality(Wire):
    """Either party during a call, every 5 s: WebRTC statistics of both directions."""

    type: Literal["call_quality"] = "call_quality"
    call_id: Id
    rtt_ms: float | None = Field(default=None, ge=0)
    loss_in_pct: float | None = Field(default=None, ge=0, le=100)
    loss_out_pct: float | None = Field(default=None, ge=0, le=100)
    jitter_ms: float | None = Field(default=None, ge=0)
    bitrate_in_kbps: float | None = Field(default=None, ge=0)
    bitrate_out_kbps: float | None = Field(default=None, ge=0)
    fps_in: float | None = Field(default=None, ge=0)
    fps_out: float | None = Field(default=None, ge=0)


class CaseEvent(Wire):
    """Officer: something happened to a resident's document or slip during a call, for the audit trail.
    Carries identifiers and digests only, never document contents."""

    type: Literal["case_event"] = "case_event"
    call_id: Id
    action: Literal["document_received", "document_shown", "document_saved", "slip_printed"]
    doc_id: Annotated[str, Field(max_length=40)] = ""
    sha256: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")] = ""
    size: int = Field(default=0, ge=0)
    label: ShortText = ""  # e.g. the file name or slip title, never its contents


class ActionResult(Wire):
    """Kiosk: the outcome of a remote action an IT administrator asked for."""

    type: Literal["action_result"] = "action_result"
    action_id: Id
    ok: bool
    detail: LongText = ""


# ----------------------------------------------------------------- server -> client


class Welcome(Wire):
    type: Literal["welcome"] = "welcome"
    v: int = PROTOCOL_VERSION
    role: Role
    identity: Id
    display_name: ShortText = ""
    session_token: str | None = None  # officers: use it to reconnect without the password
    ice_servers: list[IceServerInfo] = []
    departments: list[DepartmentInfo] = []
    kiosk: KioskInfo | None = None
    skills: dict[Id, Literal["primary", "secondary"]] = {}  # officers: departments they may serve
    business: BusinessInfo | None = None  # business: the invitation it signed in with


class Error(Wire):
    type: Literal["error"] = "error"
    code: ErrorCode
    detail: LongText
    about: ShortText | None = None  # the type of the message that caused it, when known


class Queued(Wire):
    """Kiosk: the resident is waiting; sent on every change of position and at least every 15 s."""

    type: Literal["queued"] = "queued"
    call_id: Id
    department: Id
    position: int = Field(ge=1)
    ewt_s: float | None = None
    rejoin_ticket: Annotated[str, Field(max_length=300)] | None = None


class CallRefused(Wire):
    type: Literal["call_refused"] = "call_refused"
    department: Id
    reason: Literal[
        "closed",
        "last_join_passed",
        "queue_full",
        "unknown_department",
        "not_remote",
        "appointment_unknown",  # no live booking has that PIN (or it expired with its slot)
        "appointment_locked",  # too many wrong PINs from this kiosk: retry_after_s
        "appointment_too_early",  # more than early_minutes before slot_start
        "appointment_too_late",  # past the grace: the booking lapsed; the resident may join as a walk-in
        "appointment_other_department",  # the PIN is for `department` (the booking's), not the one asked
    ]
    next_open: ShortText | None = None
    slot_start: ShortText | None = None  # appointment refusals: the booking's slot (ISO 8601 with offset)
    retry_after_s: float | None = None


class AppointmentCheckedIn(Wire):
    """Kiosk: the resident's booking is checked in. ``early``: it waits for ``slot_start`` (no position yet),
    then ``queued`` follows; else it is queued now, ahead of walk-ins."""

    type: Literal["appointment_checked_in"] = "appointment_checked_in"
    call_id: Id
    department: Id
    slot_start: ShortText  # ISO 8601 with offset
    early: bool
    procedure: Id | None = None


class CallOffer(Wire):
    """Officer: ring. Accept or decline within ring_timeout_s."""

    type: Literal["call_offer"] = "call_offer"
    call_id: Id
    department: Id
    kiosk: KioskInfo
    caller: CallerInfo
    waited_s: float
    ring_timeout_s: float
    notes: list[LongText] = Field(default=[], max_length=20)  # earlier officers' transfer notes
    business: BusinessInfo | None = None  # the caller is a business (``kiosk`` then names its session)


class OfferWithdrawn(Wire):
    type: Literal["offer_withdrawn"] = "offer_withdrawn"
    call_id: Id
    reason: Literal["answered_elsewhere", "timeout", "caller_left", "declined"]


class CallConnecting(Wire):
    """Both parties: start WebRTC. The offerer creates the offer; ICE servers are for this call."""

    type: Literal["call_connecting"] = "call_connecting"
    call_id: Id
    offerer: bool
    department: Id
    peer_name: ShortText
    ice_servers: list[IceServerInfo] = []
    ice_transport_policy: Literal["all", "relay"] = "all"
    restart: bool = False  # the same call's media is being rebuilt ("reconnecting")


class CallStarted(Wire):
    type: Literal["call_started"] = "call_started"
    call_id: Id


class CallEnded(Wire):
    type: Literal["call_ended"] = "call_ended"
    call_id: Id
    reason: EndReason


class CallRequeued(Wire):
    """Kiosk: the officer dropped; the resident is back at the head of the queue."""

    type: Literal["call_requeued"] = "call_requeued"
    call_id: Id


class OfficerState(Wire):
    type: Literal["officer_state"] = "officer_state"
    state: Literal["offline", "available", "ringing", "in_call", "wrap_up", "away"]
    reason: ShortText | None = None


class CallTransferred(Wire):
    """Both parties (and the next officer through call_offer.notes): the resident moves department."""

    type: Literal["call_transferred"] = "call_transferred"
    call_id: Id
    to_department: Id
    note: LongText = ""
    warm: bool = False


class TransferCancelled(Wire):
    """Officer: the warm transfer they asked for was withdrawn; the resident stays with them."""

    type: Literal["transfer_cancelled"] = "transfer_cancelled"
    call_id: Id


class SupervisorStats(Wire):
    """Supervisors (and officers, for their departments): live queue and officer statistics."""

    type: Literal["supervisor_stats"] = "supervisor_stats"
    stats: dict[str, Any]


class RemoteAction(Wire):
    """Kiosk: an IT administrator asks for a self-test, an app restart or a config reload."""

    type: Literal["remote_action"] = "remote_action"
    action_id: Id
    action: Literal["selftest", "restart", "reload_config"]


class Pong(Wire):
    type: Literal["pong"] = "pong"
    nonce: int = 0


ClientMessage = (
    Hello
    | RequestCall
    | CancelCall
    | SetStatus
    | AcceptCall
    | DeclineCall
    | SessionDescription
    | IceCandidate
    | MediaConnected
    | RestartMedia
    | SyncCall
    | EndCall
    | Ping
    | SetShift
    | TransferCall
    | CancelTransfer
    | Heartbeat
    | CallQuality
    | ActionResult
    | CaseEvent
)
ServerMessage = (
    Welcome
    | Error
    | Queued
    | CallRefused
    | AppointmentCheckedIn
    | CallOffer
    | OfferWithdrawn
    | CallConnecting
    | CallStarted
    | CallEnded
    | CallRequeued
    | OfficerState
    | Pong
    | CallTransferred
    | TransferCancelled
    | SupervisorStats
    | RemoteAction
)
# SDP and ICE travel both ways: the server relays them unchanged between the two parties.
AnyMessage = ClientMessage | ServerMessage
Message = Annotated[AnyMessage, Field(discriminator="type")]

_ADAPTER: TypeAdapter[AnyMessage] = TypeAdapter(Message)
MESSAGE_TYPES: dict[str, type[Wire]] = {
    m.model_fields["type"].default: m for m in (*ClientMessage.__args__, *ServerMessage.__args__)
}
CLIENT_TYPES = frozenset(m.model_fields["type"].default for m in ClientMessage.__args__)


class ProtocolError(Exception):
    """A message that cannot be accepted; ``code`` and ``detail`` go back to the sender."""

    def __init__(self, code: ErrorCode, detail: str, about: str | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.about = about

    def to_message(self) -> Error:
        return Error(code=self.code, detail=self.detail[:4000], about=self.about)


def parse_message(raw: str | bytes, *, max_bytes: int = 64 * 1024) -> AnyMessage:
    """Parse one message, or raise ProtocolError naming what is wrong."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"message of {size} bytes exceeds the limit of {max_bytes}")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.MALFORMED, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(
            ErrorCode.MALFORMED, f"a message must be a JSON object, not {type(data).__name__}"
        )
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.MALFORMED, "a message needs a string field 'type'")
    if kind not in MESSAGE_TYPES:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind[:40]!r}", about=kind[:40])
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'][1:]) or '(message)'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise ProtocolError(ErrorCode.INVALID, f"invalid {kind!r} message: {problems}", about=kind) from None


def encode(message: Wire) -> str:
    return message.model_dump_json(exclude_none=True)
