"""Authentication: officer passwords (argon2), kiosk device tokens and officer session tokens.

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
    DeviceTokenCredentials,
    PasswordCredentials,
    Role,
    SessionCredentials,
)
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
    identity: str  # kiosk id or officer username
    display_name: str
    skills: dict[str, str]  # officers: department id -> "primary" | "secondary"
    session_token: str | None = None


# A fixed argon2 hash to verify against when the username does not exist, so that the time taken does not
# reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class Authenticator:
    def __init__(self, store: Store, *, session_ttl_s: float, clock=time.time, argon2_slots: int = 2):
        self.store = store
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

    def session_valid(self, token: str) -> bool:
        return self.store.session_user(token_hash(token), self.clock()) is not None

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
