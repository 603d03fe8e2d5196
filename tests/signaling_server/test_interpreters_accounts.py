"""The interpreter role's accounts: madoguchi-admin creates one with languages; it signs in only as an
interpreter; what of the statistics each role sees."""

from __future__ import annotations

import contextlib
import io

import aiohttp
import pytest

from remote_call import protocol as p
from signaling_server.admin import main
from signaling_server.auth import Principal, hash_password
from signaling_server.policy import stats_for
from signaling_server.store import Store
from signaling_server.testing import WireClient

from .interpreting import PASSWORD, add_interpreter


def test_madoguchi_admin_creates_an_interpreter_with_languages(tmp_path, monkeypatch):
    database = tmp_path / "db.sqlite3"
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    args = ["--database", str(database), "add-officer", "maria", "--name", "Maria Santos"]
    args += ["--role", "interpreter", "--skill", "tl", "--skill", "jsl:secondary", "--password-stdin"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(args) == 0
    account = Store(database).officer("maria")
    assert account is not None
    assert (account.role, account.skills) == ("interpreter", {"tl": "primary", "jsl": "secondary"})
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    bad = ["--database", str(database), "add-officer", "jose", "--role", "interpreter"]
    with pytest.raises(SystemExit, match="unknown language 'kosodate'"):
        main([*bad, "--skill", "kosodate", "--password-stdin"])


async def test_an_interpreter_account_signs_in_only_as_an_interpreter(server):
    add_interpreter(server, "maria", {"tl": "primary"})
    as_officer = await WireClient.connect(
        server.url,
        p.Hello(
            v=1, role=p.Role.OFFICER, credentials=p.PasswordCredentials(username="maria", password=PASSWORD)
        ),
    )
    error = await as_officer.expect(p.Error)
    assert error.code is p.ErrorCode.UNAUTHENTICATED and "may not connect as officer" in error.detail
    await as_officer.close()
    as_interpreter = await WireClient.connect(
        server.url,
        p.Hello(
            v=1,
            role=p.Role.INTERPRETER,
            credentials=p.PasswordCredentials(username="maria", password=PASSWORD),
        ),
    )
    welcome = await as_interpreter.expect(p.Welcome)
    assert (welcome.role, welcome.skills, welcome.session_token is not None) == (
        p.Role.INTERPRETER,
        {"tl": "primary"},
        True,
    )
    await as_interpreter.send(p.SetStatus(status="away", reason="break"))
    assert (await as_interpreter.expect(p.OfficerState, state="away")).reason == "break"
    await as_interpreter.send(p.SetStatus(status="available"))
    await as_interpreter.expect(p.OfficerState, state="available")
    await as_interpreter.close()


async def test_supervisors_see_interpretation_minutes_per_language_and_officers_do_not(server):
    add_interpreter(server, "maria", {"tl": "primary"})
    stats = server.switchboard.stats()
    assert "interpretation" in stats
    boss = Principal(p.Role.SUPERVISOR, "boss", "Boss", {"kosodate": "primary"})
    officer = Principal(p.Role.OFFICER, "hanako", "Hanako", {"kosodate": "primary"})
    interpreter = Principal(p.Role.INTERPRETER, "maria", "Maria", {"tl": "primary"})
    assert stats_for(boss, stats)["interpretation"] == stats["interpretation"]
    assert "interpretation" not in stats_for(officer, stats)
    assert stats_for(interpreter, stats)["departments"] == {}


async def test_the_rest_statistics_carry_interpretation_for_supervisors(server):
    server.store.add_officer("boss", "Boss", "supervisor", hash_password(PASSWORD), {"kosodate": "primary"})
    add_interpreter(server, "maria", {"tl": "primary"})
    boss = await WireClient.connect(
        server.url,
        p.Hello(
            v=1, role=p.Role.SUPERVISOR, credentials=p.PasswordCredentials(username="boss", password=PASSWORD)
        ),
    )
    token = (await boss.expect(p.Welcome)).session_token
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.http_url}/api/stats", headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        assert resp.status == 200
        assert set((await resp.json())["interpretation"]) == {"languages", "interpreters"}
    await boss.close()
