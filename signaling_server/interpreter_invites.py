"""External interpreters' invitations: a supervisor invites an interpretation service, its browser redeems
the link once and signs in as an interpreter (issue 18; docs/interpreters.md).

Pure logic over its own table (migration 4), the Store's accounts and sessions, and an injected clock;
every redeem returns a frozen decision (``InterpreterRedeemed`` or ``InterpreterRefused``) that the HTTP
layer (``interpreter_routes``) turns into an answer, an audit entry and a throttle count.

The signed-in interpreter is an ordinary interpreter to everything else: redeeming makes (or re-enables)
the account ``ext-<invitation id>`` of role ``interpreter`` whose skills are the invitation's languages, with
a password hash no password matches, and a staff session row that ends with the invitation's window. So the
websocket ``hello {role: "interpreter", credentials: {kind: "session"}}``, the pool, the records of who
joined for how long in which language, a restart's restore and the REST refusals (case documents: 403) are
the console interpreter's, unchanged. Revoking disables the account and deletes its sessions.

Secrets are 256-bit random and only their SHA-256 is stored; redeeming is single-use by a conditional
UPDATE (``... WHERE redeemed_at IS NULL``), as for business invitations.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remote_call import protocol as p
from signaling_server.auth import token_hash
from signaling_server.business.invitations import secret_hash
from signaling_server.db import Database, IntegrityError
from signaling_server.store import Store

IDENTITY_PREFIX = "ext-"  # the interpreter account an invitation signs in: ext-<invitation id>
NO_PASSWORD = "!external-interpreter"  # not an argon2 hash: no password ever matches it
MAX_SECRET_CHARS = 100  # a secret has 43 characters; a longer one is not even hashed
DEFAULT_TTL_S = 8 * 3600.0  # a working day
MAX_WINDOW_S = 31 * 24 * 3600.0  # a service contracted for a month at most per link
_EMAIL_CHARS = 254


class Refusal(StrEnum):
    """Why a redeem was refused: the ``error`` of the JSON answer (docs/interpreters.md)."""

    INVALID = "invalid"
    EXPIRED = "expired"
    NOT_YET = "not_yet"
    USED = "used"
    REVOKED = "revoked"
    THROTTLED = "throttled"  # decided by the HTTP layer's throttle, before the book is asked


class InterpreterInvitationRequest(BaseModel):
    """The body of ``POST /api/interpreter-invitations``. Times are ISO 8601; without an offset, city time."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    service: Annotated[str, Field(min_length=1, max_length=200)]
    contact_name: Annotated[str, Field(max_length=200)] = ""
    email: Annotated[str, Field(max_length=_EMAIL_CHARS)] = ""
    languages: Annotated[list[p.InterpreterLanguage], Field(min_length=1, max_length=20)]
    valid_from: dt.datetime | None = None  # default: now
    valid_until: dt.datetime | None = None  # default: valid_from + DEFAULT_TTL_S

    @field_validator("languages")
    @classmethod
    def _unique(cls, languages: list[str]) -> list[str]:
        return sorted(set(languages))


@dataclass(frozen=True)
class InterpreterInvitation:
    invitation_id: str
    service: str
    contact_name: str
    email: str
    languages: tuple[str, ...]
    valid_from: float
    valid_until: float
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


@dataclass(frozen=True)
class InterpreterRedeemed:
    invitation: InterpreterInvitation
    session_token: str  # given to the browser once; only its SHA-256 is kept (the sessions table)


@dataclass(frozen=True)
class InterpreterRefused:
    reason: Refusal
    invitation: InterpreterInvitation | None = None  # None for a forged or unknown secret


class InvitationError(ValueError):
    """A request the book refuses (a window too long, in the past, the wrong way round)."""


_FIELDS = tuple(InterpreterInvitation.__dataclass_fields__)


class InterpreterInvitationBook:
    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._db: Database = store.db
        self._clock = clock

    def create(
        self, request: InterpreterInvitationRequest, *, created_by: str, timezone: dt.tzinfo
    ) -> tuple[InterpreterInvitation, str]:
        """A new invitation and its secret (the one time the secret exists outside the link)."""
        now = self._clock()
        start, end = _window(request, now, timezone)
        secret = secrets.token_urlsafe(32)
        invitation_id = uuid.uuid4().hex[:16]
        self._db.execute(
            "INSERT INTO interpreter_invitations(invitation_id, secret_hash, service, contact_name, email,"
            " languages, valid_from, valid_until, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                invitation_id,
                secret_hash(secret),
                request.service,
                request.contact_name,
                request.email,
                json.dumps(list(request.languages)),
                start,
                end,
                created_by,
                now,
            ),
        )
        invitation = self.get(invitation_id)
        assert invitation is not None  # just written
        return invitation, secret

    def mail_result(self, invitation_id: str, error: str | None) -> None:
        self._db.execute(
            "UPDATE interpreter_invitations SET emailed = ?, email_error = ? WHERE invitation_id = ?",
            (int(error is None), error, invitation_id),
        )

    def get(self, invitation_id: str) -> InterpreterInvitation | None:
        row = self._db.fetchone(
            "SELECT * FROM interpreter_invitations WHERE invitation_id = ?", (invitation_id,)
        )
        return _invitation(row) if row else None

    def newest(self, *, limit: int = 500) -> list[InterpreterInvitation]:
        rows = self._db.fetchall(
            "SELECT * FROM interpreter_invitations ORDER BY created_at DESC LIMIT ?", (limit,)
        )
        return [_invitation(row) for row in rows]

    def status(self, invitation: InterpreterInvitation) -> str:
        """pending, signed_in, expired or revoked."""
        if invitation.revoked_at is not None:
            return "revoked"
        if self._clock() >= invitation.valid_until:
            return "expired"
        return "signed_in" if invitation.redeemed_at is not None else "pending"

    def revoke(self, invitation_id: str, by: str) -> InterpreterInvitation | None:
        """Revoked from now on: the link is refused, the account disabled and its sessions deleted."""
        self._db.execute(
            "UPDATE interpreter_invitations SET revoked_at = ?, revoked_by = ?"
            " WHERE invitation_id = ? AND revoked_at IS NULL",
            (self._clock(), by, invitation_id),
        )
        invitation = self.get(invitation_id)
        if invitation is not None:
            self._store.set_disabled(invitation.identity, True)
            self._store.end_sessions(invitation.identity)
        return invitation

    def ended(self, identities: Iterable[str], now: float) -> list[str]:
        """Of these signed-in interpreters, the external ones whose invitation is over by ``now`` (its window
        closed, or revoked): the server signs them out (``interpreter_routes``)."""
        over = []
        for identity in identities:
            if not identity.startswith(IDENTITY_PREFIX):
                continue  # a console interpreter: its account, not an invitation
            invitation = self.get(identity.removeprefix(IDENTITY_PREFIX))
            if invitation is None or invitation.revoked_at is not None or now >= invitation.valid_until:
                over.append(identity)
        return over

    def redeem(self, secret: str) -> InterpreterRedeemed | InterpreterRefused:
        """Exchange the link's secret for an interpreter session, once."""
        if not secret or len(secret) > MAX_SECRET_CHARS:
            return InterpreterRefused(Refusal.INVALID)
        row = self._db.fetchone(
            "SELECT * FROM interpreter_invitations WHERE secret_hash = ?", (secret_hash(secret),)
        )
        if row is None:
            return InterpreterRefused(Refusal.INVALID)
        invitation, now = _invitation(row), self._clock()
        refused = _refusal(invitation, now)
        if refused is not None:
            return InterpreterRefused(refused, invitation)
        changed = self._db.execute(
            "UPDATE interpreter_invitations SET redeemed_at = ?"
            " WHERE invitation_id = ? AND redeemed_at IS NULL AND revoked_at IS NULL",
            (now, invitation.invitation_id),
        ).rowcount
        if changed != 1:  # another redeem won in between
            return InterpreterRefused(Refusal.USED, invitation)
        self._account(invitation)
        token = secrets.token_urlsafe(32)
        self._store.add_session(token_hash(token), invitation.identity, invitation.valid_until)
        return InterpreterRedeemed(self.get(invitation.invitation_id) or invitation, token)

    def _account(self, invitation: InterpreterInvitation) -> None:
        """The interpreter account the session signs in: the service's name, the invitation's languages."""
        skills = {language: "primary" for language in invitation.languages}
        try:
            self._store.add_officer(
                invitation.identity, invitation.service, "interpreter", NO_PASSWORD, skills
            )
        except (ValueError, IntegrityError):  # made before (cannot be: a link redeems once); keep it usable
            self._store.set_disabled(invitation.identity, False)


def _refusal(invitation: InterpreterInvitation, now: float) -> Refusal | None:
    if invitation.revoked_at is not None:
        return Refusal.REVOKED
    if invitation.redeemed_at is not None:
        return Refusal.USED
    if now >= invitation.valid_until:
        return Refusal.EXPIRED
    if now < invitation.valid_from:
        return Refusal.NOT_YET
    return None


def _window(request: InterpreterInvitationRequest, now: float, timezone: dt.tzinfo) -> tuple[float, float]:
    start = _aware(request.valid_from, timezone) if request.valid_from else None
    start = start or dt.datetime.fromtimestamp(now, timezone)
    end = _aware(request.valid_until, timezone) if request.valid_until else None
    end = end or start + dt.timedelta(seconds=DEFAULT_TTL_S)
    if end <= start:
        raise InvitationError("valid_until must be after valid_from")
    if end.timestamp() <= now:
        raise InvitationError("valid_until is in the past")
    if (end - start).total_seconds() > MAX_WINDOW_S:
        raise InvitationError(f"the window may be at most {MAX_WINDOW_S / 86400:g} days long")
    return start.timestamp(), end.timestamp()


def _aware(moment: dt.datetime, timezone: dt.tzinfo) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone)


def _invitation(row: Any) -> InterpreterInvitation:
    values = {f: row[f] for f in _FIELDS}
    values["languages"] = tuple(json.loads(values["languages"]))
    values["emailed"] = bool(values["emailed"])
    return InterpreterInvitation(**values)
