"""Authentication: officer passwords (argon2), kiosk device tokens, officer and business session tokens.

A business (docs/business.md) signs in with the session token its invitation link was exchanged for
(``signaling_server.business.invitations``); it becomes a principal of role ``business`` named after the
invitation (``biz-<invitation id>``) that carries the invitation's ``BusinessInfo``.

Device and session tokens are 256-bit random strings; only their SHA-256 is stored. Passwords are hashed
with argon2id. Nothing here logs a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from remote_call.protocol import (
    BusinessInfo,
    DeviceTokenCredentials,
    PasswordCredentials,
    Role,
    SessionCredentials,
)
from signaling_server.business.invitations import InvitationBook
from signaling_server.store import OfficerAccount, Store

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthError(Exception):
    """Credentials refused. The message is safe to send to the client (it never says which part was wrong
    beyond what the client already knows)."""


@dataclass(frozen=True)
class Principal:
    role: Role
    identity: str  # kiosk id, officer username or biz-<invitation id>
    display_name: str  # a business: its company
    skills: dict[str, str]  # officers: department id -> "primary" | "secondary"
    session_token: str | None = None
    business: BusinessInfo | None = None  # a business: the invitation it signed in with


# A fixed argon2 hash to verify against when the username does not exist, so that the time taken does not
# reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class Authenticator:
    def __init__(
        self,
        store: Store,
        *,
        session_ttl_s: float,
        clock=time.time,
        argon2_slots: int = 2,
        invitations: InvitationBook | None = None,
    ):
        """``invitations``: where business sessions are looked up (default: a book on ``store``)."""
        self.store = store
        self.invitations = invitations if invitations is not None else InvitationBook(store, clock=clock)
        # argon2 takes ~64 MiB and a core for ~50 ms per check: a burst of sign-ins must not exhaust the
        # server (measured: 509 MB RSS with six at once). Further checks wait their turn.
        self._argon2 = asyncio.Semaphore(argon2_slots)
        self.session_ttl_s = session_ttl_s
        self.clock = clock

    def issue_kiosk_token(self, kiosk_id: str) -> str:
        token = new_token()
        self.store.set_kiosk_token(kiosk_id, token_hash(token))
        return token

    async def authenticate(
        self, role: Role, credentials: DeviceTokenCredentials | PasswordCredentials | SessionCredentials
    ) -> Principal:
        """Check a hello's credentials. Database look-ups run on the loop; the deliberately slow argon2
        verification runs in a worker thread so that other clients are not held up."""
        if role is Role.KIOSK:
            if not isinstance(credentials, DeviceTokenCredentials):
                raise AuthError("a kiosk must present its device token")
            stored = self.store.kiosk_token_hash(credentials.kiosk_id)
            if stored is None or not hmac.compare_digest(stored, token_hash(credentials.token)):
                raise AuthError("unknown kiosk or invalid or revoked device token")
            return Principal(Role.KIOSK, credentials.kiosk_id, credentials.kiosk_id, {})
        if role is Role.BUSINESS:
            if not isinstance(credentials, SessionCredentials):
                raise AuthError("a business signs in with the session token its invitation link gave")
            business = self.business_principal(credentials.token)
            if business is None:
                raise AuthError(
                    "this business session has ended or is unknown; open the invitation link again"
                )
            return business
        if isinstance(credentials, DeviceTokenCredentials):
            raise AuthError("device tokens are for kiosks; staff sign in with a password")
        if isinstance(credentials, PasswordCredentials):
            account = self.store.officer(credentials.username)
            async with self._argon2:
                valid = await asyncio.get_running_loop().run_in_executor(
                    None,
                    verify_password,
                    account.password_hash if account else _DUMMY_HASH,
                    credentials.password,
                )
            if account is None or not valid or account.disabled:
                raise AuthError("wrong username or password")
            session = new_token()
            self.store.add_session(token_hash(session), account.username, self.clock() + self.session_ttl_s)
            principal = _staff(account, session)
        else:
            principal = self.session_principal(credentials.token)
            if principal is None:
                raise AuthError("the session has expired or is unknown; sign in again")
        if principal is None or principal.role != role:
            raise AuthError(f"this account may not connect as {role.value}")
        return principal

    def session_principal(self, token: str) -> Principal | None:
        """The staff member a session token signs in, or None when the session is unknown or expired or the
        account is gone or disabled. The websocket hello and every HTTP route (``access.py``) ask this."""
        username = self.store.session_user(token_hash(token), self.clock())
        account = self.store.officer(username) if username else None
        if account is None or account.disabled:
            return None
        return _staff(account, token)

    def business_principal(self, token: str) -> Principal | None:
        """The business a business session token signs in, or None (unknown, revoked, past its window,
        or its call is done)."""
        invitation = self.invitations.session(token)
        if invitation is None:
            return None
        return Principal(
            Role.BUSINESS, invitation.identity, invitation.company, {}, token, business=invitation.info()
        )

    def session_valid(self, token: str) -> bool:
        """A staff session or a business session is still good (the switchboard asks every 30 s)."""
        if self.store.session_user(token_hash(token), self.clock()) is not None:
            return True
        return self.invitations.session(token) is not None

    def end_session(self, token: str) -> None:
        """Sign out: the session row goes, so the token no longer works anywhere (not only its cookie)."""
        self.store.conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))


def _staff(account: OfficerAccount, session: str) -> Principal | None:
    """The account as a principal; None for a role this server does not know (a hand-edited database)."""
    try:
        role = Role(account.role)
    except ValueError:
        return None
    return Principal(role, account.username, account.display_name, account.skills, session)
