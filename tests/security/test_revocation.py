"""Revocation that takes effect (issue 14, item 2): ``madoguchi-admin``, run as its own process against the
server's database, ends the live connections and REST sessions of a revoked kiosk token, a disabled
account, a changed password and revoked sessions within seconds; the console signs out. All audited."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest

from hardware.simulated import SimulatedMedia
from remote_call import protocol as p
from signaling_server.audit import AuditLog
from signaling_server.auth import hash_password
from signaling_server.revocation import CHECK_EVERY_S
from signaling_server.testing import WireClient
from staff_console.controller import ConsoleController

PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[2]
WITHIN_S = CHECK_EVERY_S + 3.0  # one check period, and slack for a loaded machine


async def admin(db: Path | str, *args: str, stdin: str | None = None) -> str:
    """``madoguchi-admin`` in its own process, as IT staff run it on the server host."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "signaling_server.admin",
        "--database",
        str(db),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def ended(client: WireClient) -> p.Error:
    """The connection is ended by the server within WITHIN_S; the error it was told."""
    error = await client.expect(p.Error, timeout=WITHIN_S)
    assert await client.closed(timeout=WITHIN_S) == 1008
    return error


async def rest_status(server, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.http_url}/api/officers/me/calls", headers=headers) as resp,
    ):
        return resp.status


@pytest.fixture
def db(server) -> str:
    return server.store.path  # the server's database: its SQLite file, or its PostgreSQL URL


async def test_a_revoked_or_reissued_kiosk_token_ends_the_kiosks_connection(server, db):
    tokens = server.fleet.kiosk_tokens
    ueda = await WireClient.kiosk(server.url, "kiosk-ueda", tokens["kiosk-ueda"])
    tonan = await WireClient.kiosk(server.url, "kiosk-tonan", tokens["kiosk-tonan"])
    tamayama = await WireClient.kiosk(server.url, "kiosk-tamayama", tokens["kiosk-tamayama"])
    await admin(db, "revoke-kiosk", "kiosk-ueda")
    assert "revoked or replaced" in (await ended(ueda)).detail
    new_token = (await admin(db, "issue-kiosk-token", "--force", "kiosk-tonan")).strip()
    assert (await ended(tonan)).code is p.ErrorCode.UNAUTHENTICATED
    again = await WireClient.kiosk(server.url, "kiosk-tonan", new_token)  # the new token works
    assert "kiosk-tamayama" in server.switchboard.kiosks and not tamayama.ws.closed
    for client in (ueda, tonan, tamayama, again):
        await client.close()


async def test_disabling_an_account_ends_its_connections_and_rest_sessions(server, db):
    hanako = await WireClient.officer(server.url, "hanako", PASSWORD)
    jiro = await WireClient.officer(server.url, "jiro", PASSWORD)
    token = hanako.seen[0].session_token
    assert await rest_status(server, token) == 200
    await admin(db, "disable", "hanako")
    assert "disabled" in (await ended(hanako)).detail
    assert await rest_status(server, token) == 401
    refused = await WireClient.connect(server.url, hanako_hello := _password_hello("hanako", PASSWORD))
    assert (await refused.expect(p.Error)).code is p.ErrorCode.UNAUTHENTICATED
    await admin(db, "enable", "hanako")
    back = await WireClient.connect(server.url, hanako_hello)
    await back.expect(p.Welcome)
    assert "jiro" in server.switchboard.officers and not jiro.ws.closed
    for client in (hanako, jiro, refused, back):
        await client.close()


async def test_a_changed_password_and_revoked_sessions_end_live_connections(server, db):
    server.store.add_officer("boss", "係長", "supervisor", hash_password(PASSWORD), {"kosodate": "primary"})
    jiro = await WireClient.officer(server.url, "jiro", PASSWORD)
    boss = await WireClient.connect(server.url, _password_hello("boss", PASSWORD, p.Role.SUPERVISOR))
    boss_token = (await boss.expect(p.Welcome)).session_token
    await admin(db, "set-password", "jiro", "--password-stdin", stdin="a brand new password\n")
    await ended(jiro)
    old = await WireClient.connect(server.url, _password_hello("jiro", PASSWORD))
    assert (await old.expect(p.Error)).code is p.ErrorCode.UNAUTHENTICATED
    new = await WireClient.officer(server.url, "jiro", "a brand new password")
    await admin(db, "revoke-sessions", "boss")
    await ended(boss)
    assert await rest_status(server, boss_token) == 401
    for client in (jiro, boss, old, new):
        await client.close()


async def test_the_console_signs_out_and_its_session_ends_everywhere(server, db):
    console = ConsoleController(server.url, "hanako", PASSWORD, SimulatedMedia("officer", 160, 120, 5, 660))
    await console.start()
    token = console._session_token
    assert token is not None and await rest_status(server, token) == 200
    other = await WireClient.connect(
        server.url, p.Hello(v=1, role=p.Role.OFFICER, credentials=p.SessionCredentials(token=token))
    )
    await other.expect(p.Welcome)  # the same session on a second connection (replaces the console's)
    await console.sign_out()
    await ended(other)  # closed at once by the sign-out, not at the next check
    assert await rest_status(server, token) == 401
    await other.close()
    # Audited: account changes and the sign-out; the chain still verifies.
    await admin(db, "revoke-sessions", "jiro")
    out = await admin(db, "audit", "verify")
    assert "ok" in out.lower()
    log = AuditLog(db)
    actions = [(e.actor, e.action) for e in log.entries()]
    assert ("hanako", "sign_out") in actions and ("admin", "account_changed") in actions


def _password_hello(username: str, password: str, role: p.Role = p.Role.OFFICER) -> p.Hello:
    return p.Hello(v=1, role=role, credentials=p.PasswordCredentials(username=username, password=password))
