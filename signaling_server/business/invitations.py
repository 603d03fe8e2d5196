"""Business invitations: created by staff, redeemed once by a browser, the business session they give.

Pure logic over two things only: its own table on the Store's database and an injected clock;
every redeem returns a frozen decision (``Redeemed`` or ``RedeemRefused``) that the HTTP layer turns into
a response, an audit entry and a throttle count. Secrets are 256-bit random (``secrets.token_urlsafe(32)``)
and only their SHA-256 is stored, as for kiosk and session tokens; second-factor codes are stored as a
SHA-256 over the invitation id and the code.

Redeeming is single-use by a conditional UPDATE (``... WHERE redeemed_at IS NULL``): of two redeems of the
same link exactly one changes the row, whatever order their checks ran in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remote_call import protocol as p
from signaling_server.db import Database
from signaling_server.store import CallRecord, Store

IDENTITY_PREFIX = "biz-"  # a business principal's identity: biz-<invitation id>
CODE_RESEND_S = 60.0  # asking again within this gets no new code: a reload must not flood the inbox
MAX_SECRET_CHARS = 100  # a secret has 43 characters; a longer one is not even hashed
_EMAIL = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,63}$")
_CODE = re.compile(r"^\d{6}$")


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def _code_hash(invitation_id: str, code: str) -> str:
    return hashlib.sha256(f"{invitation_id}:{code}".encode()).hexdigest()


class Refusal(StrEnum):
    """Why a redeem was refused: the ``error`` of the JSON answer (docs/business.md)."""

    INVALID = "invalid"  # forged or unknown secret
    EXPIRED = "expired"
    NOT_YET = "not_yet"
    USED = "used"
    REVOKED = "revoked"
    CODE_REQUIRED = "code_required"
    CODE_WRONG = "code_wrong"
    THROTTLED = "throttled"  # decided by the HTTP layer's throttle, before the book is asked


class InvitationRequest(BaseModel):
    """The body of ``POST /api/invitations``. Times are ISO 8601; without an offset, city time."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    department: p.Id
    company: Annotated[str, Field(min_length=1, max_length=200)]
    contact_name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(max_length=254)]
    purpose: Annotated[str, Field(max_length=4000)] = ""
    valid_from: dt.datetime | None = None  # default: now
    valid_until: dt.datetime | None = None  # default: valid_from + business.link_ttl_h
    second_factor: bool | None = None  # default: business.second_factor
    appointment_id: p.Id | None = None
    mobile: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, email: str) -> str:
        if not _EMAIL.match(email):
            raise ValueError(f"{email!r} is not an e-mail address")
        return email


@dataclass(frozen=True)
class Invitation:
    invitation_id: str
    department: str
    company: str
    contact_name: str
    email: str
    purpose: str
    appointment_id: str | None
    valid_from: float
    valid_until: float
    valid_from_iso: str
    valid_until_iso: str
    second_factor: bool
    mobile: bool
    created_by: str
    created_at: float
    emailed: bool
    email_error: str | None
    redeemed_at: float | None
    revoked_at: float | None
    revoked_by: str | None

    @property
    def identity(self) -> str:
        return IDENTITY_PREFIX + self.invitation_id

    def info(self) -> p.BusinessInfo:
        return p.BusinessInfo(
            invitation_id=self.invitation_id,
            department=self.department,
            company=self.company,
            contact_name=self.contact_name,
            purpose=self.purpose,
            appointment_id=self.appointment_id,
            valid_from=self.valid_from_iso,
            valid_until=self.valid_until_iso,
            mobile=self.mobile,
        )


@dataclass(frozen=True)
class Redeemed:
    invitation: Invitation
    session_token: str  # given to the browser once; only its SHA-256 is kept


@dataclass(frozen=True)
class RedeemRefused:
    reason: Refusal
    invitation: Invitation | None = None  # None for a forged or unknown secret
    code: str | None = None  # a new second-factor code to e-mail (with code_required)
    tries_left: int | None = None  # with code_wrong


RedeemDecision = Redeemed | RedeemRefused


class InvitationError(ValueError):
    """A request the book refuses (a window too long, in the past, the wrong way round)."""


_FIELDS = tuple(Invitation.__dataclass_fields__)


class InvitationBook:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._conn: Database = store.conn  # its table is made by migration 1 (signaling_server/db)
        self._clock = clock

    # ------------------------------------------------------------------ staff

    def create(
        self,
        request: InvitationRequest,
        *,
        created_by: str,
        timezone: dt.tzinfo,
        link_ttl_s: float,
        max_window_s: float,
        second_factor_default: bool,
    ) -> tuple[Invitation, str]:
        """A new invitation and its secret (the one time the secret exists outside the link)."""
        now = self._clock()
        start = _aware(request.valid_from, timezone) if request.valid_from else None
        start = start or dt.datetime.fromtimestamp(now, timezone)
        end = _aware(request.valid_until, timezone) if request.valid_until else None
        end = end or start + dt.timedelta(seconds=link_ttl_s)
        if end <= start:
            raise InvitationError("valid_until must be after valid_from")
        if end.timestamp() <= now:
            raise InvitationError("valid_until is in the past")
        if (end - start).total_seconds() > max_window_s:
            raise InvitationError(f"the window may be at most {max_window_s / 3600:g} hours long")
        secret = secrets.token_urlsafe(32)
        invitation_id = uuid.uuid4().hex[:16]
        second_factor = second_factor_default if request.second_factor is None else request.second_factor
        self._conn.execute(
            "INSERT INTO business_invitations(invitation_id, secret_hash, department, company, contact_name,"
            " email, purpose, appointment_id, valid_from, valid_until, valid_from_iso, valid_until_iso,"
            " second_factor, mobile, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                invitation_id,
                secret_hash(secret),
                request.department,
                request.company,
                request.contact_name,
                request.email,
                request.purpose,
                request.appointment_id,
                start.timestamp(),
                end.timestamp(),
                start.isoformat(timespec="seconds"),
                end.isoformat(timespec="seconds"),
                int(second_factor),
                int(request.mobile),
                created_by,
                now,
            ),
        )
        invitation = self.get(invitation_id)
        assert invitation is not None  # just written
        return invitation, secret

    def mail_result(self, invitation_id: str, error: str | None) -> None:
        """Whether the link went out by mail (None: it did), for the console's list."""
        self._conn.execute(
            "UPDATE business_invitations SET emailed = ?, email_error = ? WHERE invitation_id = ?",
            (int(error is None), error, invitation_id),
        )

    def get(self, invitation_id: str) -> Invitation | None:
        row = self._conn.execute(
            "SELECT * FROM business_invitations WHERE invitation_id = ?", (invitation_id,)
        ).fetchone()
        return _invitation(row) if row else None

    def for_departments(self, departments: Iterable[str], *, limit: int = 500) -> list[Invitation]:
        """The newest invitations of these departments, newest first."""
        wanted = sorted(set(departments))
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        rows = self._conn.execute(
            f"SELECT * FROM business_invitations WHERE department IN ({marks})"
            " ORDER BY created_at DESC LIMIT ?",
            (*wanted, limit),
        )
        return [_invitation(row) for row in rows]

    def revoke(self, invitation_id: str, by: str) -> Invitation | None:
        """Revoked from now on (again: unchanged). The link and the session stop working at once."""
        self._conn.execute(
            "UPDATE business_invitations SET revoked_at = ?, revoked_by = ?, code_hash = NULL"
            " WHERE invitation_id = ? AND revoked_at IS NULL",
            (self._clock(), by, invitation_id),
        )
        return self.get(invitation_id)

    def status(self, invitation: Invitation) -> str:
        """pending, used (signed in, no call yet), in_call (a call waiting or going on), done (its call
        ended completed), expired or revoked."""
        calls = self._store.business_calls(caller=invitation.identity)
        if invitation.revoked_at is not None:
            return "revoked"
        if any(c.state != "ended" for c in calls):
            return "in_call"
        if any(_completed(c) for c in calls):
            return "done"
        if self._clock() >= invitation.valid_until:
            return "expired"
        return "used" if invitation.redeemed_at is not None else "pending"

    def calls_of(self, invitation: Invitation) -> list[CallRecord]:
        return self._store.business_calls(caller=invitation.identity)

    # ------------------------------------------------------------------ the business

    def redeem(
        self, secret: str, code: str | None, *, code_ttl_s: float = 600, code_tries: int = 5
    ) -> RedeemDecision:
        """Exchange the link's secret (and the e-mailed code, if the invitation wants one) for a session.
        A new code lives ``code_ttl_s`` and allows ``code_tries`` wrong answers (business.code_*)."""
        if not secret or len(secret) > MAX_SECRET_CHARS:
            return RedeemRefused(Refusal.INVALID)
        row = self._conn.execute(
            "SELECT * FROM business_invitations WHERE secret_hash = ?", (secret_hash(secret),)
        ).fetchone()
        if row is None:
            return RedeemRefused(Refusal.INVALID)
        invitation = _invitation(row)
        now = self._clock()
        if invitation.revoked_at is not None:
            return RedeemRefused(Refusal.REVOKED, invitation)
        if invitation.redeemed_at is not None:
            return RedeemRefused(Refusal.USED, invitation)
        if now >= invitation.valid_until:
            return RedeemRefused(Refusal.EXPIRED, invitation)
        if now < invitation.valid_from:
            return RedeemRefused(Refusal.NOT_YET, invitation)
        if invitation.second_factor:
            refused = self._check_code(row, invitation, code, now, (code_ttl_s, code_tries))
            if refused is not None:
                return refused
        token = secrets.token_urlsafe(32)
        changed = self._conn.execute(
            "UPDATE business_invitations SET redeemed_at = ?, session_hash = ?, code_hash = NULL"
            " WHERE invitation_id = ? AND redeemed_at IS NULL AND revoked_at IS NULL",
            (now, secret_hash(token), invitation.invitation_id),
        ).rowcount
        if changed != 1:  # another redeem won in between
            return RedeemRefused(Refusal.USED, invitation)
        return Redeemed(self.get(invitation.invitation_id) or invitation, token)

    def _check_code(
        self,
        row: Any,
        invitation: Invitation,
        code: str | None,
        now: float,
        limits: tuple[float, int],
    ) -> RedeemRefused | None:
        """None when ``code`` is the live code; otherwise the refusal (with a new code when one is due)."""
        live = row["code_hash"] is not None and now < (row["code_expires_at"] or 0)
        if not live or code is None:
            if live and now - (row["code_sent_at"] or 0) < CODE_RESEND_S:
                return RedeemRefused(Refusal.CODE_REQUIRED, invitation)  # the last one is on its way
            new_code = self._new_code(invitation, now, *limits)
            return RedeemRefused(Refusal.CODE_REQUIRED, invitation, code=new_code)
        given = code if _CODE.match(code) else ""
        if given and hmac.compare_digest(row["code_hash"], _code_hash(invitation.invitation_id, given)):
            return None
        tries_left = max(0, row["code_tries_left"] - 1)
        self._conn.execute(
            "UPDATE business_invitations SET code_tries_left = ?,"
            " code_hash = CASE WHEN ? > 0 THEN code_hash END WHERE invitation_id = ?",
            (tries_left, tries_left, invitation.invitation_id),
        )
        return RedeemRefused(Refusal.CODE_WRONG, invitation, tries_left=tries_left)

    def _new_code(self, invitation: Invitation, now: float, ttl_s: float, tries: int) -> str:
        code = f"{secrets.randbelow(1_000_000):06d}"
        self._conn.execute(
            "UPDATE business_invitations SET code_hash = ?, code_expires_at = ?, code_tries_left = ?,"
            " code_sent_at = ? WHERE invitation_id = ?",
            (
                _code_hash(invitation.invitation_id, code),
                now + ttl_s,
                tries,
                now,
                invitation.invitation_id,
            ),
        )
        return code

    def session(self, token: str) -> Invitation | None:
        """The invitation a business session token signs in: redeemed, not revoked, inside its window
        and its call not yet ended completed (then the session is over)."""
        if not token or len(token) > MAX_SECRET_CHARS:
            return None
        row = self._conn.execute(
            "SELECT * FROM business_invitations WHERE session_hash = ?", (secret_hash(token),)
        ).fetchone()
        if row is None:
            return None
        invitation = _invitation(row)
        if invitation.revoked_at is not None or self._clock() >= invitation.valid_until:
            return None
        return None if self.done(invitation.identity) else invitation

    def done(self, identity: str) -> bool:
        """The business's call ended completed: its one thing is done."""
        return any(_completed(c) for c in self._store.business_calls(caller=identity))


def _completed(record: CallRecord) -> bool:
    return record.state == "ended" and record.end_reason == p.EndReason.COMPLETED.value


def _aware(moment: dt.datetime, timezone: dt.tzinfo) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone)


def _invitation(row: Any) -> Invitation:
    values = {f: row[f] for f in _FIELDS}
    for flag in ("second_factor", "mobile", "emailed"):
        values[flag] = bool(values[flag])
    return Invitation(**values)
