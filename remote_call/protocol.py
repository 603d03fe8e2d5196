"""The signaling wire protocol: JSON over one websocket per client, every message a typed model.

Every message is an object with a ``type`` field naming its model; ``parse_message`` turns raw text into
exactly one model of the ``Message`` union or raises ``ProtocolError`` naming the problem. The protocol
version is carried in ``hello`` and ``welcome``; see docs/protocol.md for the sequence of a call.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError, model_validator

# Re-exported: import these from here. RUF012 is off because ruff cannot see that the imported ``Wire`` is a
# pydantic model, whose list/dict defaults are copied per instance.
# ruff: noqa: RUF012
from remote_call.wire import (  # noqa: F401
    INTERPRETER_LANGUAGES,
    MAX_PARTIES,
    BusinessInfo,
    CallerInfo,
    CallState,
    Credentials,
    DepartmentInfo,
    DeviceTokenCredentials,
    EndReason,
    ErrorCode,
    IceServerInfo,
    Id,
    InterpreterLanguage,
    KioskInfo,
    LongText,
    PartyId,
    PasswordCredentials,
    Role,
    Sdp,
    SessionCredentials,
    ShortText,
    WaitStateName,
    Wire,
)

PROTOCOL_VERSION = 1

# ----------------------------------------------------------------- client -> server


class Hello(Wire):
    type: Literal["hello"] = "hello"
    v: int
    role: Role
    credentials: Credentials
    app_version: ShortText = ""


class RequestCall(Wire):
    """Kiosk: put the resident in a department's queue. With ``appointment_pin`` the department may be left
    out: the server checks the booking in at its own department."""

    type: Literal["request_call"] = "request_call"
    department: Id | None = None
    caller: CallerInfo = CallerInfo()
    rejoin_ticket: Annotated[str, Field(max_length=300)] | None = None
    # 予約: check in with the booking's PIN (typed, or read from its QR code); see docs/appointments.md
    appointment_pin: Annotated[str, Field(pattern=r"^\d{6}$")] | None = None
    # 通訳: the resident asked for an interpreter up front; requested when an officer answers
    interpreter_language: InterpreterLanguage | None = None

    @model_validator(mode="after")
    def _department_or_pin(self) -> RequestCall:
        if self.department is None and self.appointment_pin is None:
            raise ValueError("request_call needs a department (or an appointment_pin)")
        return self


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
    peer: PartyId | None = None  # None: the caller<->officer pair; see docs/protocol.md "Three parties"


class IceCandidate(Wire):
    type: Literal["ice_candidate"] = "ice_candidate"
    call_id: Id
    candidate: Annotated[str, Field(max_length=1000)]
    sdp_mid: Annotated[str, Field(max_length=32)] | None = None
    sdp_mline_index: Annotated[int, Field(ge=0, le=64)] | None = None
    peer: PartyId | None = None


class MediaConnected(Wire):
    """Either party: the peer connection reached "connected"."""

    type: Literal["media_connected"] = "media_connected"
    call_id: Id
    peer: PartyId | None = None


class RestartMedia(Wire):
    """Either party: the media path died (no link pong nor media for 5 s); rebuild the peer connection for the
    same call. The server answers both parties with a fresh call_connecting."""

    type: Literal["restart_media"] = "restart_media"
    call_id: Id
    reason: Literal["link_lost", "ice_failed"] = "link_lost"
    peer: PartyId | None = None  # rebuild only the connection with this party (None: caller<->officer)


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


class RateCall(Wire):
    """Kiosk or business: the resident's satisfaction with its own call that just ended (1 worst .. 5 best).
    Accepted once per call, within ``RATING_WINDOW_S`` of its end; refused otherwise (docs/protocol.md)."""

    type: Literal["rate_call"] = "rate_call"
    call_id: Id
    rating: Annotated[int, Field(ge=1, le=5)]


class HoldWrapUp(Wire):
    """Officer in wrap-up: writing the outcome of the call that ended (hold: the wrap-up timer stands still)
    or done writing (release: it runs on with the time that was left). Outside wrap-up: no effect."""

    type: Literal["hold_wrap_up"] = "hold_wrap_up"
    hold: bool


class RequestInterpreter(Wire):
    """Officer: bring an interpreter for ``language`` into the call (the pool offers it; see routing.md)."""

    type: Literal["request_interpreter"] = "request_interpreter"
    call_id: Id
    language: InterpreterLanguage


class CancelInterpreter(Wire):
    """Officer: withdraw the request, or remove the interpreter who joined (party_left reason "removed")."""

    type: Literal["cancel_interpreter"] = "cancel_interpreter"
    call_id: Id


class AcceptInterpretation(Wire):
    type: Literal["accept_interpretation"] = "accept_interpretation"
    call_id: Id


class DeclineInterpretation(Wire):
    type: Literal["decline_interpretation"] = "decline_interpretation"
    call_id: Id


class LeaveCall(Wire):
    """Interpreter (a third party): leave the call; the others continue."""

    type: Literal["leave_call"] = "leave_call"
    call_id: Id


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
    department: Id | None = None  # None only for a PIN check-in that named none and matched no booking
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
    peer: PartyId | None = None  # the OTHER party of this peer connection; None: caller<->officer


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


class InterpreterStatus(Wire):
    """Officer and caller: where the call's interpreter request stands. "unavailable": nobody with that
    language is signed in (the call goes on); "no_answer": every interpreter let the offer ring out."""

    type: Literal["interpreter_status"] = "interpreter_status"
    call_id: Id
    language: InterpreterLanguage
    state: Literal["waiting", "ringing", "joined", "left", "unavailable", "cancelled", "no_answer"]
    position: int | None = Field(default=None, ge=1)
    estimate_s: float | None = Field(default=None, ge=0)
    name: ShortText | None = None  # the interpreter's display name once joined
    detail: ShortText | None = None


class InterpretationOffer(Wire):
    """Interpreter: ring. Accept or decline within ring_timeout_s (offer_withdrawn when it goes away)."""

    type: Literal["interpretation_offer"] = "interpretation_offer"
    call_id: Id
    language: InterpreterLanguage
    department: Id
    caller: CallerInfo
    waited_s: float = Field(ge=0)
    ring_timeout_s: float = Field(gt=0)


class PartyLeft(Wire):
    """Every remaining party: one party left the call; the others' peer connections continue untouched."""

    type: Literal["party_left"] = "party_left"
    call_id: Id
    party: PartyId
    reason: Literal["left", "disconnected", "removed"]


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
    | RateCall
    | HoldWrapUp
    | RequestInterpreter
    | CancelInterpreter
    | AcceptInterpretation
    | DeclineInterpretation
    | LeaveCall
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
    | InterpreterStatus
    | InterpretationOffer
    | PartyLeft
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
