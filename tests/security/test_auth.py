"""The Authenticator (signaling_server.auth) on an in-memory store and a fake clock: every credential a hello
may carry, for every role, accepted or refused with its message; sessions expiring and ending; the tokens."""

from __future__ import annotations

import asyncio
import hashlib
import threading

import pytest

from remote_call.protocol import DeviceTokenCredentials, PasswordCredentials, Role, SessionCredentials
from signaling_server import auth as auth_module
from signaling_server.auth import (
    Authenticator,
    AuthError,
    Principal,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from signaling_server.store import Store

PASSWORD = "correct horse battery"
TTL = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth(password_hash: str, clock: Clock, database_target: str) -> Authenticator:
    store = Store(database_target)  # on SQLite and on PostgreSQL
    store.add_officer("hanako", "盛岡 花子", "officer", password_hash, {"kosodate": "primary"})
    store.add_officer("sato", "佐藤", "supervisor", password_hash, {})
    return Authenticator(store, session_ttl_s=TTL, clock=clock)


async def refused(auth: Authenticator, role: Role, credentials: object) -> str:
    with pytest.raises(AuthError) as caught:
        await auth.authenticate(role, credentials)  # type: ignore[arg-type]
    return str(caught.value)


def test_tokens_are_random_and_only_their_sha256_is_kept() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50 and all(len(t) == 43 for t in tokens)  # 256 bits, URL-safe base64
    assert token_hash("abc") == hashlib.sha256(b"abc").hexdigest()


def test_passwords_verify_only_against_their_own_hash(password_hash: str) -> None:
    assert verify_password(password_hash, PASSWORD)
    assert not verify_password(password_hash, PASSWORD + "!")
    assert not verify_password("not an argon2 hash", PASSWORD)


async def test_a_kiosk_signs_in_with_its_device_token_only(auth: Authenticator) -> None:
    token = auth.issue_kiosk_token("kiosk-ueda")
    assert auth.store.kiosk_token_hash("kiosk-ueda") == token_hash(token)
    principal = await auth.authenticate(
        Role.KIOSK, DeviceTokenCredentials(kiosk_id="kiosk-ueda", token=token)
    )
    assert principal == Principal(Role.KIOSK, "kiosk-ueda", "kiosk-ueda", {}, None)
    wrong = DeviceTokenCredentials(kiosk_id="kiosk-ueda", token="x" * 43)
    unknown = DeviceTokenCredentials(kiosk_id="kiosk-nowhere", token=token)
    for credentials in (wrong, unknown):
        assert (
            await refused(auth, Role.KIOSK, credentials) == "unknown kiosk or invalid or revoked device token"
        )
    password = PasswordCredentials(username="hanako", password=PASSWORD)
    assert await refused(auth, Role.KIOSK, password) == "a kiosk must present its device token"
    auth.store.revoke_kiosk_token("kiosk-ueda")
    revoked = DeviceTokenCredentials(kiosk_id="kiosk-ueda", token=token)
    assert await refused(auth, Role.KIOSK, revoked) == "unknown kiosk or invalid or revoked device token"


async def test_staff_sign_in_with_a_password_and_get_a_session(auth: Authenticator, clock: Clock) -> None:
    principal = await auth.authenticate(
        Role.OFFICER, PasswordCredentials(username="hanako", password=PASSWORD)
    )
    assert (principal.role, principal.identity, principal.display_name) == (
        Role.OFFICER,
        "hanako",
        "盛岡 花子",
    )
    assert principal.skills == {"kosodate": "primary"} and principal.session_token is not None
    session = principal.session_token
    assert auth.store.session_user(token_hash(session), clock.now + TTL - 1) == "hanako"
    assert auth.store.session_user(token_hash(session), clock.now + TTL) is None  # expires after the TTL
    again = await auth.authenticate(Role.OFFICER, SessionCredentials(token=session))
    assert again == principal


async def test_a_wrong_password_an_unknown_name_or_a_disabled_account_say_the_same(
    auth: Authenticator,
) -> None:
    auth.store.conn.execute("UPDATE officers SET disabled = 1 WHERE username = 'sato'")
    for username, password in (("hanako", "wrong"), ("nobody", PASSWORD), ("sato", PASSWORD)):
        credentials = PasswordCredentials(username=username, password=password)
        assert await refused(auth, Role.OFFICER, credentials) == "wrong username or password"
    assert auth.store.conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


async def test_a_device_token_is_not_for_staff(auth: Authenticator) -> None:
    token = auth.issue_kiosk_token("kiosk-ueda")
    credentials = DeviceTokenCredentials(kiosk_id="kiosk-ueda", token=token)
    message = "device tokens are for kiosks; staff sign in with a password"
    for role in (Role.OFFICER, Role.SUPERVISOR):
        assert await refused(auth, role, credentials) == message


async def test_an_account_connects_only_in_its_own_role(auth: Authenticator) -> None:
    credentials = PasswordCredentials(username="hanako", password=PASSWORD)
    assert await refused(auth, Role.SUPERVISOR, credentials) == "this account may not connect as supervisor"
    principal = await auth.authenticate(
        Role.SUPERVISOR, PasswordCredentials(username="sato", password=PASSWORD)
    )
    assert principal.session_token is not None
    message = "this account may not connect as officer"
    assert await refused(auth, Role.OFFICER, SessionCredentials(token=principal.session_token)) == message


async def test_a_session_ends_at_its_expiry_at_sign_out_and_with_its_account(
    auth: Authenticator, clock: Clock
) -> None:
    principal = await auth.authenticate(
        Role.OFFICER, PasswordCredentials(username="hanako", password=PASSWORD)
    )
    token = principal.session_token
    assert token is not None and auth.session_valid(token) and auth.session_principal(token) == principal
    expired = "the session has expired or is unknown; sign in again"
    clock.now += TTL
    assert not auth.session_valid(token) and auth.session_principal(token) is None
    assert await refused(auth, Role.OFFICER, SessionCredentials(token=token)) == expired
    clock.now -= 1
    assert auth.session_valid(token)
    auth.end_session(token)
    assert not auth.session_valid(token)
    assert await refused(auth, Role.OFFICER, SessionCredentials(token=token)) == expired
    other = await auth.authenticate(Role.OFFICER, PasswordCredentials(username="hanako", password=PASSWORD))
    assert other.session_token is not None
    auth.store.conn.execute("UPDATE officers SET disabled = 1 WHERE username = 'hanako'")
    assert auth.session_valid(other.session_token)  # the session row is there, but nobody may use it
    assert auth.session_principal(other.session_token) is None


async def test_an_account_with_a_role_this_server_does_not_know_signs_in_as_nobody(
    auth: Authenticator, password_hash: str
) -> None:
    auth.store.add_officer("mallory", "?", "root", password_hash, {})  # a hand-edited database
    credentials = PasswordCredentials(username="mallory", password=PASSWORD)
    assert await refused(auth, Role.OFFICER, credentials) == "this account may not connect as officer"
    auth.store.add_session(token_hash("s" * 43), "mallory", 2e9)
    assert auth.session_principal("s" * 43) is None


async def test_at_most_two_password_checks_run_at_once(auth: Authenticator, monkeypatch) -> None:
    """argon2 takes ~64 MiB and a core per check: a burst of sign-ins waits its turn (argon2_slots=2)."""
    running: list[int] = []
    release = threading.Event()
    lock = threading.Lock()

    def held_check(password_hash: str, password: str) -> bool:  # argon2, held until released
        with lock:
            running.append(1)
        release.wait(20)
        return False

    monkeypatch.setattr(auth_module, "verify_password", held_check)
    credentials = PasswordCredentials(username="hanako", password="guess")
    tries = [asyncio.ensure_future(auth.authenticate(Role.OFFICER, credentials)) for _ in range(4)]

    async def checks_started(count: int) -> None:
        while len(running) < count:
            await asyncio.sleep(0)

    try:
        await asyncio.wait_for(checks_started(2), 20)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(checks_started(3), 0.3)  # the third waits for a slot
    finally:
        release.set()
    results = await asyncio.gather(*tries, return_exceptions=True)
    assert len(running) == 4 and all(isinstance(r, AuthError) for r in results)
