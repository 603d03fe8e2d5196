"""Sign-in throttles that hold under bursts (issue 14, item 3), against a real server on loopback with real
concurrency: many hellos and many IT logins at once, from several loopback addresses (127.0.0.x)."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import aiohttp
import pytest

from remote_call import protocol as p
from signaling_server import auth
from signaling_server.audit import AuditLog
from signaling_server.auth import hash_password

PASSWORD = "correct horse battery"
BURST = 30
MAX_FAILURES = 5  # LoginThrottle's default


async def hello_from(server, hello: p.Hello, local: str = "127.0.0.1") -> p.Wire:
    """One hello from the loopback address ``local``: the server's answer (welcome or error)."""
    connector = aiohttp.TCPConnector(local_addr=(local, 0))
    async with aiohttp.ClientSession(connector=connector) as session, session.ws_connect(server.url) as ws:
        await ws.send_str(p.encode(hello))
        frame = await ws.receive(timeout=30)
        return p.parse_message(frame.data, max_bytes=1 << 20)


def password_hello(username: str, password: str, role: p.Role = p.Role.OFFICER) -> p.Hello:
    return p.Hello(v=1, role=role, credentials=p.PasswordCredentials(username=username, password=password))


def kiosk_hello(kiosk_id: str, token: str) -> p.Hello:
    return p.Hello(
        v=1, role=p.Role.KIOSK, credentials=p.DeviceTokenCredentials(kiosk_id=kiosk_id, token=token)
    )


def session_hello(token: str) -> p.Hello:
    return p.Hello(v=1, role=p.Role.OFFICER, credentials=p.SessionCredentials(token=token))


@pytest.fixture
def verifications(monkeypatch) -> list[str]:
    """Every argon2 verification the server makes, counted."""
    calls: list[str] = []
    real = auth.verify_password

    def counting(password_hash: str, password: str) -> bool:
        calls.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    return calls


def codes(answers: list[p.Wire]) -> list[str]:
    return [a.code.value if isinstance(a, p.Error) else a.type for a in answers]


async def test_a_burst_of_password_guesses_gets_no_more_verifications_than_sequential_ones(
    server, verifications
):
    answers = await asyncio.gather(
        *(hello_from(server, password_hello("hanako", f"guess-{i}")) for i in range(BURST))
    )
    assert len(verifications) <= MAX_FAILURES, f"{len(verifications)} verifications for a burst of {BURST}"
    assert codes(answers).count("rate_limited") >= BURST - MAX_FAILURES
    assert set(codes(answers)) <= {"unauthenticated", "rate_limited"}
    # Another account from another address is not held up; the right password still works there.
    welcome = await hello_from(server, password_hello("jiro", PASSWORD), local="127.0.0.2")
    assert isinstance(welcome, p.Welcome)


async def test_a_burst_of_it_dashboard_logins_gets_no_more_verifications_than_sequential_ones(
    server, verifications
):
    server.store.add_officer("it-sato", "佐藤", "it_admin", hash_password(PASSWORD), {})

    async def login(session: aiohttp.ClientSession, i: int) -> str:
        form = {"username": "it-sato", "password": f"guess-{i}"}
        async with session.post(f"{server.http_url}/it/login", data=form, allow_redirects=False) as r:
            return r.headers.get("Location", "")

    async with aiohttp.ClientSession() as session:
        places = await asyncio.gather(*(login(session, i) for i in range(BURST)))
    assert len(verifications) <= MAX_FAILURES
    assert places.count("/it/login?error=locked") >= BURST - MAX_FAILURES
    # The websocket is the same door: the account stays locked there too, unverified.
    before = len(verifications)
    locked = await hello_from(server, password_hello("it-sato", PASSWORD, p.Role.IT_ADMIN))
    assert isinstance(locked, p.Error) and locked.code is p.ErrorCode.RATE_LIMITED
    assert len(verifications) == before


async def test_failed_token_sign_ins_are_throttled_per_address(server):
    answers = await asyncio.gather(
        *(hello_from(server, session_hello(secrets.token_urlsafe(32)), "127.0.0.2") for _ in range(BURST))
    )
    assert codes(answers).count("rate_limited") >= BURST - MAX_FAILURES - 1
    unknown = [hello_from(server, kiosk_hello(f"kiosk-{i}", "A" * 43), "127.0.0.2") for i in range(3)]
    assert set(codes(await asyncio.gather(*unknown))) == {"rate_limited"}
    # A valid device token from the locked address is still let in (a kiosk behind the same NAT).
    tonan = await hello_from(
        server, kiosk_hello("kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"]), "127.0.0.2"
    )
    assert isinstance(tonan, p.Welcome)
    # Other addresses are not affected.
    other = await hello_from(server, session_hello("C" * 43), "127.0.0.3")
    assert isinstance(other, p.Error) and other.code is p.ErrorCode.UNAUTHENTICATED


async def test_a_kiosk_is_never_locked_out_by_other_addresses_failures(server):
    forged = [hello_from(server, kiosk_hello("kiosk-ueda", "A" * 43), "127.0.0.4") for _ in range(BURST)]
    await asyncio.gather(*forged)
    token = server.fleet.kiosk_tokens["kiosk-ueda"]
    assert isinstance(await hello_from(server, kiosk_hello("kiosk-ueda", token)), p.Welcome)


async def test_failed_sign_ins_are_summarised_per_address_in_the_audit_log(make_server, tmp_path: Path):
    async with make_server() as server:
        flood = [hello_from(server, session_hello(secrets.token_urlsafe(32)), "127.0.0.5") for _ in range(40)]
        flood += [hello_from(server, password_hello("hanako", "wrong-1"), "127.0.0.6") for _ in range(7)]
        await asyncio.gather(*flood)
    log = AuditLog(server.store.path)  # the server's database, reopened (a file, or a PostgreSQL URL)
    failures = log.entries(action="sign_in_failed")
    assert {(e.actor, e.details["count"]) for e in failures} == {("127.0.0.5", 40), ("127.0.0.6", 7)}
    by_actor = {e.actor: e.details for e in failures}
    assert by_actor["127.0.0.6"]["identities"] == "hanako" and by_actor["127.0.0.6"]["kinds"] == "password"
    assert json.dumps(by_actor["127.0.0.5"]["kinds"]) == '"session_token"'
    assert log.verify().ok
