"""Invitations over real HTTP against an embedded server, with a real local SMTP server: create, mail,
redeem (single use under real concurrency), refusals with their JSON reasons, throttling, audit."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from signaling_server.business.invitations import InvitationBook, InvitationRequest
from signaling_server.business.pages import WEB_DIR
from tests.db.dump import everything_stored

from .conftest import post_json, sign_in

pytestmark = pytest.mark.asyncio

BODY = {
    "department": "kenchiku-shido",
    "company": "盛岡設計事務所",
    "contact_name": "山田 太郎",
    "email": "yamada@example.jp",
    "purpose": "確認申請の事前相談",
}
LINK = re.compile(r"^http://127\.0\.0\.1:\d+/b/#([A-Za-z0-9_-]{43})$")


async def invite(server: Any, http: aiohttp.ClientSession, token: str, **fields: Any) -> dict[str, Any]:
    status, body = await post_json(http, server.http_url + "/api/invitations", BODY | fields, token)
    assert status == 201, body
    return body


def secret_of(created: dict[str, Any]) -> str:
    match = LINK.match(created["link"])
    assert match is not None, created["link"]
    return match.group(1)


async def redeem(
    server: Any, http: aiohttp.ClientSession, secret: str, code: str | None = None
) -> tuple[int, Any]:
    body: dict[str, Any] = {"secret": secret} | ({"code": code} if code is not None else {})
    return await post_json(http, server.http_url + "/api/business/redeem", body)


def book_at(server: Any, when: float) -> tuple[InvitationBook, ZoneInfo]:
    """A book on the server's store whose clock reads ``when``: invitations made "at another time"."""
    return InvitationBook(server.store, clock=lambda: when), ZoneInfo(server.config.city.timezone)


def make_invitation(server: Any, *, at: float, window_s: float = 3600, **fields: Any) -> str:
    book, tz = book_at(server, at)
    _, secret = book.create(
        InvitationRequest.model_validate(BODY | fields),
        created_by="hanako",
        timezone=tz,
        link_ttl_s=window_s,
        max_window_s=72 * 3600,
        second_factor_default=False,
    )
    return secret


# ------------------------------------------------------------------ creating and mailing


async def test_an_officer_creates_an_invitation_and_the_link_arrives_by_mail(make_business_server, smtp):
    inbox, _ = smtp
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        token = await sign_in(server)
        created = await invite(server, http, token)
        secret = secret_of(created)
        assert created["emailed"] is True and created["email_error"] is None
        assert created["status"] == "pending" and created["department"] == "kenchiku-shido"
        mail = await inbox.next()
        assert mail["To"] == "yamada@example.jp"
        assert "リモート窓口" in mail["Subject"] and "Remote counter" in mail["Subject"]
        text = mail.get_content()
        assert created["link"] in text and "建築指導課" in text and "Building Guidance Division" in text
        # Only the SHA-256 is kept: the secret is nowhere in the database, the audit log included.
        dump = everything_stored(server.store.db)
        assert secret not in dump and created["invitation_id"] in dump
        actions = [e.action for e in server.switchboard.audit.entries()]
        assert "business_invitation_created" in actions


async def test_a_mail_server_that_refuses_loses_no_invitation(make_business_server, smtp):
    inbox, _ = smtp
    inbox.refuse = True
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        token = await sign_in(server)
        created = await invite(server, http, token)
        assert created["emailed"] is False and "554" in created["email_error"]
        assert LINK.match(created["link"])  # the officer passes it on by hand
        async with http.get(
            server.http_url + "/api/invitations", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            listed = await response.json()
        assert [(i["invitation_id"], i["emailed"]) for i in listed] == [(created["invitation_id"], False)]


async def test_no_mail_server_at_all_is_a_reason_not_an_error(make_server):
    async with make_server() as server, aiohttp.ClientSession() as http:  # smtp.host unset
        token = await sign_in(server)
        created = await invite(server, http, token)
        assert created["emailed"] is False and "smtp.host" in created["email_error"]


@pytest.mark.parametrize(
    ("who", "fields", "status", "error"),
    [
        ("kenji", {}, 403, "forbidden"),  # serves kenko-hoken only
        ("hanako", {"department": "nowhere"}, 400, "unknown_department"),
        ("hanako", {"email": "not-an-address"}, 400, "invalid_request"),
        ("hanako", {"company": ""}, 400, "invalid_request"),
        (
            "hanako",
            {"valid_from": "2026-01-01T09:00:00+09:00", "valid_until": "2026-01-09T09:00:00+09:00"},
            400,
            "invalid_request",
        ),
        ("hanako", {"valid_until": "2001-01-01T00:00:00+09:00"}, 400, "invalid_request"),
        ("hanako", {"surprise": 1}, 400, "invalid_request"),
    ],
)
async def test_bad_invitations_are_refused_with_a_reason(make_business_server, who, fields, status, error):
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        token = await sign_in(server, who)
        got, body = await post_json(http, server.http_url + "/api/invitations", BODY | fields, token)
        assert (got, body["error"]) == (status, error), body
        assert body["message"]


async def test_invitations_need_a_staff_session_and_the_same_origin(make_business_server):
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        url = server.http_url + "/api/invitations"
        assert (await post_json(http, url, BODY))[0] == 401
        assert (await post_json(http, url, BODY, "forged-token"))[0] == 401
        token = await sign_in(server)
        headers = {"Authorization": f"Bearer {token}", "Origin": "https://evil.example"}
        async with http.post(url, json=BODY, headers=headers) as response:
            assert response.status == 403


# ------------------------------------------------------------------ redeeming


async def test_redeem_gives_a_session_once(make_business_server):
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        created = await invite(server, http, await sign_in(server))
        status, body = await redeem(server, http, secret_of(created))
        assert status == 200, body
        assert body["business"]["invitation_id"] == created["invitation_id"]
        assert body["business"]["company"] == BODY["company"]
        assert body["ws_url"] == server.url and len(body["session_token"]) == 43
        status, again = await redeem(server, http, secret_of(created))
        assert (status, again["error"]) == (409, "used")
        assert again["message_ja"] and again["message_en"]


async def test_two_browsers_opening_the_link_at_once_get_exactly_one_session(make_business_server):
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        secret = secret_of(await invite(server, http, await sign_in(server)))
        answers = await asyncio.gather(*(redeem(server, http, secret) for _ in range(4)))
        statuses = sorted(status for status, _ in answers)
        assert statuses == [200, 409, 409, 409]
        assert {body.get("error") for status, body in answers if status == 409} == {"used"}


@pytest.mark.parametrize(
    ("offset_s", "window_s", "status", "error"),
    [
        (-7200, 3600, 410, "expired"),  # made two hours ago for one hour
        (3600, 3600, 425, "not_yet"),  # made for an hour from now
    ],
)
async def test_a_link_outside_its_window_is_refused(make_business_server, offset_s, window_s, status, error):
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        now = time.time()
        tz = ZoneInfo(server.config.city.timezone)
        start = dt.datetime.fromtimestamp(now + offset_s, tz)
        # Created "at" the window's start, so that the book accepts a window that is not in its past.
        secret = make_invitation(
            server, at=min(now, now + offset_s), window_s=window_s, valid_from=start.isoformat()
        )
        got, body = await redeem(server, http, secret)
        assert (got, body["error"]) == (status, error), body


async def test_forged_and_revoked_links_are_refused_and_audited_without_the_secret(make_business_server):
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        token = await sign_in(server)
        created = await invite(server, http, token)
        forged = "A" * 43
        assert (await redeem(server, http, forged))[1]["error"] == "invalid"
        async with http.delete(
            server.http_url + f"/api/invitations/{created['invitation_id']}",
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status == 200 and (await response.json())["status"] == "revoked"
        status, body = await redeem(server, http, secret_of(created))
        assert (status, body["error"]) == (410, "revoked")
        refused = [e for e in server.switchboard.audit.entries() if e.action == "business_link_refused"]
        assert [e.details["reason"] for e in refused] == ["invalid", "revoked"]
        assert all(e.details["remote"] == "127.0.0.1" for e in refused)
        dump = everything_stored(server.store.db)
        assert secret_of(created) not in dump and forged not in dump


async def test_guessing_links_from_one_address_is_throttled(make_business_server):
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        secret = secret_of(await invite(server, http, await sign_in(server)))
        for n in range(5):
            assert (await redeem(server, http, f"guess-{n}"))[0] == 404
        status, body = await redeem(server, http, secret)  # even the right one waits now
        assert (status, body["error"]) == (429, "throttled") and body["retry_after_s"] >= 1
        status, body = await post_json(http, server.http_url + "/api/business/redeem", {"secret": 5})
        assert status == 429  # the lock is per address, whatever is sent


async def test_a_malformed_redeem_is_refused(make_business_server):
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        status, body = await post_json(http, server.http_url + "/api/business/redeem", {"secret": ["x"]})
        assert (status, body["error"]) == (400, "malformed")
        headers = {"Origin": "https://evil.example"}
        async with http.post(
            server.http_url + "/api/business/redeem", json={"secret": "x"}, headers=headers
        ) as r:
            assert r.status == 403


# ------------------------------------------------------------------ the second factor


async def test_the_second_factor_code_is_mailed_and_checked(make_business_server, smtp):
    inbox, _ = smtp
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        created = await invite(server, http, await sign_in(server), second_factor=True)
        await inbox.next()  # the link
        secret = secret_of(created)
        status, body = await redeem(server, http, secret)
        assert (status, body["error"], body["emailed"]) == (401, "code_required", True)
        assert body["email_hint"] == "y***@example.jp"
        code_mail = await inbox.next()
        code = re.search(r"\b(\d{6})\b", code_mail.get_content())
        assert code is not None and "確認コード" in code_mail["Subject"]
        wrong = "000000" if code.group(1) != "000000" else "111111"
        status, body = await redeem(server, http, secret, wrong)
        assert (status, body["error"], body["tries_left"]) == (401, "code_wrong", 4)
        stored = server.store.conn.execute(
            "SELECT code_hash FROM business_invitations WHERE invitation_id = ?", (created["invitation_id"],)
        ).fetchone()[0]
        assert re.fullmatch(r"[0-9a-f]{64}", stored)  # stored hashed only
        status, body = await redeem(server, http, secret, code.group(1))
        assert status == 200 and body["session_token"]


# ------------------------------------------------------------------ the browser client's files


async def test_the_client_is_served_with_its_policy_and_nothing_else_is(make_business_server):
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        async with http.get(server.http_url + "/b/") as response:
            assert response.status == 200 and response.content_type == "text/html"
            assert response.headers["Cache-Control"] == "no-store"
            csp = response.headers["Content-Security-Policy"]
            assert csp.startswith("default-src 'self'; connect-src 'self' wss: ws:")
            assert "media-src 'self' blob:" in csp
        async with http.get(server.http_url + "/b", allow_redirects=False) as response:
            assert response.status == 308 and response.headers["Location"] == "/b/"
        modules = sorted(p.name for p in WEB_DIR.glob("*.js"))
        for name in modules[:1]:  # the other engineer's files: whichever exist
            async with http.get(server.http_url + f"/b/{name}") as response:
                assert response.status == 200 and response.content_type == "text/javascript"
                assert response.headers["X-Content-Type-Options"] == "nosniff"
        for bad in (
            "..%2Fapp.py",
            "%2E%2E%2F%2E%2E%2Fauth.py",
            ".hidden.js",
            "Index.html",
            "x.py",
            "nothere.js",
        ):
            async with http.get(server.http_url + f"/b/{bad}") as response:
                assert response.status == 404, bad


async def test_the_family_and_interpreter_pages_import_shared_modules_from_their_folders(
    make_business_server,
):
    """/g/ and /i/ serve their own index and the business client's modules from its folder (imported, not
    copied), with no screen capture allowed; anything else is not found."""
    async with make_business_server() as server, aiohttp.ClientSession() as http:
        for prefix, own, borrowed in (("g", "answer.js", "call.js"), ("i", "desk.js", "tiles.js")):
            async with http.get(f"{server.http_url}/{prefix}/") as response:
                assert response.status == 200 and response.content_type == "text/html"
                assert response.headers["Permissions-Policy"] == "camera=(self), microphone=(self)"
            for name in (own, borrowed):
                async with http.get(f"{server.http_url}/{prefix}/{name}") as response:
                    assert response.status == 200 and response.content_type == "text/javascript", name
            for bad in ("app.py", "..%2Fguests.py", "nothere.js", "x.exe"):
                async with http.get(f"{server.http_url}/{prefix}/{bad}") as response:
                    assert response.status == 404, (prefix, bad)
        async with http.get(server.http_url + "/g/desk.js") as response:
            assert response.status == 404  # the interpreter's own module is not the family member's
