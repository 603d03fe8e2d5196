"""HTTP routes declare who may call them (signaling_server.access); one check reads every credential.

The route table below is the review list: a new route shows up here with its access, and a route whose
handler declares nothing is refused when it is added.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from remote_call.protocol import Role
from signaling_server.access import (
    CASE,
    PRINCIPAL,
    SESSION_COOKIE,
    Access,
    Credential,
    Refusal,
    Scope,
    UndeclaredRoute,
    access_of,
    add_routes,
    authorise_case,
    bearer_token,
    declared_routes,
    json_error,
    public,
    requires,
    session_token,
    signed_in,
    signs_in_by_hello,
)
from signaling_server.app import create_app
from signaling_server.appkeys import AUTHENTICATOR, STORE
from signaling_server.auth import Principal, new_token, token_hash
from signaling_server.monitoring import setup_monitoring
from signaling_server.store import CallRecord, Store
from signaling_server.testing import test_config

STAFF = "bearer session: it_admin, officer, supervisor"
IT_API = "cookie session: it_admin (same origin)"
CASE_READ = "bearer session: officer, supervisor [case: its officer or a supervisor of its department]"
CASE_SAVE = "bearer session: officer, supervisor [case: its officer, within a day]"
INVITE = "bearer session: officer, supervisor [own departments]"

ROUTES = {
    # The websocket authenticates in its hello (credentials per role; see docs/security.md), not per route.
    "GET /ws": "signs in with its hello",
    "GET /healthz": "public",
    "GET /api/departments": "public",
    "GET /api/stats": "bearer session: it_admin, supervisor [own departments]",
    "GET /api/officers/me/calls": STAFF + " [own records]",
    "DELETE /api/sessions/current": STAFF + " [own records]",
    "GET /it/login": "public",
    "POST /it/login": "public (same origin)",
    "POST /it/logout": "public (same origin)",
    "GET /it": "public",
    "GET /it/": "cookie session: it_admin",
    "GET /it/api/fleet": IT_API,
    "GET /it/api/events": IT_API,
    "POST /it/api/kiosks/{kiosk_id}/actions": IT_API,
    "GET /it/api/kiosks/{kiosk_id}/history": IT_API,
    "GET /it/api/calls/{call_id}/quality": IT_API,
    "GET /metrics": "scrape token",
    "GET /board": "public",
    "GET /api/board": "public",
    "GET /monitoring/static/{name}": "public",
    # Officers and supervisors pass the role; the case decides (access.authorise_case, policy.py).
    "GET /api/cases/{call_id}/documents": CASE_READ,
    "PUT /api/cases/{call_id}/documents/{doc_id}": CASE_SAVE,
    "GET /api/cases/{call_id}/documents/{doc_id}": CASE_READ,
    # The business counter (docs/business.md): invitations for the caller's departments, redeem, the client.
    "POST /api/invitations": INVITE + " (same origin)",
    "GET /api/invitations": INVITE,
    "DELETE /api/invitations/{invitation_id}": INVITE + " (same origin)",
    "POST /api/business/redeem": "public (same origin)",
    "GET /b": "public",
    "GET /b/": "public",
    "GET /b/{name}": "public",
    # A family member joining a call by the officer's link (docs/guests.md): the call's officer makes it.
    "POST /api/calls/{call_id}/guest-links": "bearer session: officer [own records] (same origin)",
    "POST /api/guests/redeem": "public (same origin)",
    "GET /g": "public",
    "GET /g/": "public",
    "GET /g/{name}": "public",
    # An external interpretation service by a supervisor's invitation (docs/interpreters.md).
    "POST /api/interpreter-invitations": "bearer session: supervisor (same origin)",
    "GET /api/interpreter-invitations": "bearer session: supervisor",
    "DELETE /api/interpreter-invitations/{invitation_id}": "bearer session: supervisor (same origin)",
    "POST /api/interpreters/redeem": "public (same origin)",
    "GET /i": "public",
    "GET /i/": "public",
    "GET /i/{name}": "public",
    # Appointments (docs/appointments.md): the public booking page and its API, the staff API.
    "GET /booking": "public",
    "GET /booking/static/{name}": "public",
    "GET /api/booking/departments": "public",
    "GET /api/booking/days": "public",
    "GET /api/booking/slots": "public",
    "POST /api/booking": "public (same origin)",
    "POST /api/booking/lookup": "public (same origin)",
    "POST /api/booking/cancel": "public (same origin)",
    "POST /api/booking/reschedule": "public (same origin)",
    "POST /api/booking/ics": "public (same origin)",
    "GET /api/appointments/me": "bearer session: officer, supervisor [own records]",
    "GET /api/appointments": "bearer session: officer, supervisor [own departments]",
    "POST /api/appointments": "bearer session: officer, supervisor [own departments]",
    "PUT /api/appointments/slots": "bearer session: supervisor [own departments]",
    "GET /api/appointments/affected": "bearer session: supervisor [own departments]",
    "GET /api/appointments/stats": "bearer session: it_admin, supervisor [own departments]",
}


def test_every_route_of_the_app_and_its_declared_access() -> None:
    app = create_app(test_config(), Store(":memory:"))
    assert declared_routes(app) == ROUTES


def test_a_route_that_declares_nothing_is_refused_when_added() -> None:
    routes = web.RouteTableDef()

    @routes.get("/api/open")
    @public()
    async def fine(request: web.Request) -> web.Response:
        return web.Response()

    @routes.post("/api/forgotten/{id}")
    async def forgotten(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    with pytest.raises(
        UndeclaredRoute, match=r"POST /api/forgotten/\{id\} \(.*forgotten\) declares no access"
    ):
        add_routes(app, routes)
    assert list(app.router.routes()) == []  # nothing of the table was added


def test_declarations_that_cannot_work_are_refused_at_import() -> None:
    refusal = Refusal(json_error, "sign in")
    with pytest.raises(ValueError, match="need the roles"):
        requires(roles=(), refusal=refusal)  # a session route admitting nobody
    with pytest.raises(ValueError, match="the scrape token has none"):
        requires(roles={Role.IT_ADMIN}, credential=Credential.SCRAPE_TOKEN, refusal=refusal)
    with pytest.raises(ValueError, match="use public"):
        requires(roles={Role.OFFICER}, credential=Credential.NONE, refusal=refusal)
    with pytest.raises(ValueError, match="same-origin route needs a refusal"):
        public(same_origin=True)


# ---------------------------------------------------------------------- over HTTP


def _session(server, username: str, role: str | None = None) -> str:
    """A live session for an account (created with ``role`` when given); no argon2 sign-in needed."""
    if role is not None:
        server.store.add_officer(username, username, role, "not a password hash", {})
    token = new_token()
    server.store.add_session(token_hash(token), username, time.time() + 3600)
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _get(url: str, **kwargs) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False, **kwargs) as resp:
        return resp.status, await resp.text(), resp.headers


async def test_bearer_routes_answer_as_before(make_server) -> None:
    async with make_server() as server:
        base = server.http_url
        officer = _session(server, "hanako")
        boss = _session(server, "boss", "supervisor")
        status, body, _ = await _get(base + "/api/stats")
        assert (status, body) == (401, '{"error": "sign in as a supervisor or IT administrator"}')
        status, body, _ = await _get(base + "/api/stats", headers=_bearer(officer))
        assert (status, body) == (403, '{"error": "supervisors and IT administrators only"}')
        status, _, _ = await _get(base + "/api/stats", headers=_bearer(boss))
        assert status == 200
        status, body, _ = await _get(base + "/api/officers/me/calls")
        assert (status, body) == (401, '{"error": "sign in first"}')
        status, body, _ = await _get(base + "/api/officers/me/calls", headers=_bearer(officer))
        assert (status, body) == (200, "[]")
        status, body, headers = await _get(base + "/api/cases/c-1/documents")
        assert (status, body) == (401, "sign in (Authorization: Bearer <session token>)")
        assert headers["Content-Type"].startswith("text/plain")
        status, body, _ = await _get(base + "/api/cases/c-1/documents", headers=_bearer(officer))
        assert (status, body) == (404, "no such case")  # signed in: the case is looked up


async def test_only_the_declared_credential_counts(make_server) -> None:
    async with make_server() as server:
        base = server.http_url
        admin = _session(server, "it-sato", "it_admin")
        # The dashboard's cookie is not a bearer token, and a bearer token does not open the dashboard.
        status, _, _ = await _get(base + "/api/stats", cookies={SESSION_COOKIE: admin})
        assert status == 401
        status, _, _ = await _get(base + "/it/api/fleet", headers=_bearer(admin))
        assert status == 401
        status, _, _ = await _get(base + "/it/api/fleet", cookies={SESSION_COOKIE: admin})
        assert status == 200
        for bad in ("Bearer", f"bearer {admin}", f"Basic {admin}", "Bearer " + "x" * 201, "Bearer nonsense"):
            status, _, _ = await _get(base + "/api/stats", headers={"Authorization": bad})
            assert status == 401, bad


async def test_a_role_the_dashboard_does_not_admit_counts_as_no_sign_in(make_server) -> None:
    async with make_server() as server:
        base = server.http_url
        boss = _session(server, "boss", "supervisor")
        status, body, headers = await _get(base + "/it/api/fleet", cookies={SESSION_COOKIE: boss})
        assert (status, body) == (401, '{"error": "sign in as an IT administrator"}')
        assert headers["Cache-Control"] == "no-store"
        status, _, headers = await _get(base + "/it/", cookies={SESSION_COOKIE: boss})
        assert (status, headers["Location"]) == (303, "/it/login")


async def test_a_disabled_account_is_signed_out_of_every_route(make_server) -> None:
    """The one definition of "signed in" (the websocket hello's): session alive, account present and
    enabled. /api/stats and /api/officers/me/calls used to skip the account check."""
    async with make_server() as server:
        base = server.http_url
        boss = _session(server, "boss", "supervisor")
        admin = _session(server, "it-sato", "it_admin")
        server.store.conn.execute("UPDATE officers SET disabled = 1")
        for path in ("/api/stats", "/api/officers/me/calls", "/api/cases/c-1/documents"):
            status, _, _ = await _get(base + path, headers=_bearer(boss))
            assert status == 401, path
        status, _, _ = await _get(base + "/it/api/fleet", cookies={SESSION_COOKIE: admin})
        assert status == 401


async def test_cookie_routes_refuse_other_origins_for_everything_but_get(make_server) -> None:
    async with make_server() as server:
        base = server.http_url
        admin = _session(server, "it-sato", "it_admin")
        foreign = {"Origin": "http://evil.example"}
        async with aiohttp.ClientSession(cookies={SESSION_COOKIE: admin}) as http:
            async with http.post(
                base + "/it/api/kiosks/kiosk-ueda/actions", json={"action": "restart"}, headers=foreign
            ) as resp:
                assert resp.status == 403
                assert await resp.json() == {"error": "cross-origin request refused"}
            async with http.get(base + "/it/api/fleet", headers=foreign) as resp:
                assert resp.status == 200
            async with http.post(base + "/it/logout", headers=foreign, allow_redirects=False) as resp:
                assert resp.status == 403
            status, _, _ = await _get(base + "/it/api/fleet", cookies={SESSION_COOKIE: admin})
            assert status == 200  # the refused sign-out ended nothing


async def test_the_scrape_token_guards_metrics(make_server) -> None:
    server = make_server()
    setup_monitoring(server.app, overrides={"metrics_token": "s3cret-scrape-token"})
    async with server:
        url = server.http_url + "/metrics"
        for headers in ({}, _bearer("wrong"), _bearer("tökén"), {"Authorization": "s3cret-scrape-token"}):
            status, body, answer = await _get(url, headers=headers)
            assert (status, body, answer["WWW-Authenticate"]) == (401, "bearer token required\n", "Bearer")
        status, body, _ = await _get(url, headers=_bearer("s3cret-scrape-token"))
        assert status == 200 and "madoguchi_kiosks" in body
        # A staff session is no scrape token.
        status, _, _ = await _get(url, headers=_bearer(_session(server, "it-sato", "it_admin")))
        assert status == 401


async def test_signed_in_checks_again_against_the_route(make_server) -> None:
    """What the dashboard's event stream asks every 15 s: the session ended, so nobody is signed in."""
    routes = web.RouteTableDef()

    @routes.get("/probe")
    @requires(roles={Role.IT_ADMIN}, credential=Credential.COOKIE, refusal=Refusal(json_error, "no"))
    async def probe(request: web.Request) -> web.Response:
        before = signed_in(request)
        request.app[AUTHENTICATOR].end_session(request.cookies[SESSION_COOKIE])
        after = signed_in(request)
        return web.json_response(
            {"principal": request[PRINCIPAL].identity, "before": before and before.identity, "after": after}
        )

    server = make_server()
    add_routes(server.app, routes)
    async with server:
        admin = _session(server, "it-sato", "it_admin")
        async with (
            aiohttp.ClientSession(cookies={SESSION_COOKIE: admin}) as http,
            http.get(server.http_url + "/probe") as resp,
        ):
            assert await resp.json() == {"principal": "it-sato", "before": "it-sato", "after": None}


# ---------------------------------------------------------------------- routes declared here, over HTTP

NO = Refusal(json_error, "sign in first", "not for you")
ACCEPTED = web.json_response  # the handlers below answer with what they saw


def _probes() -> web.RouteTableDef:
    """One route per kind of declaration, each answering 200 with the caller it let through."""
    routes = web.RouteTableDef()

    @routes.post("/probe/open")
    @public()
    async def open_route(request: web.Request) -> web.Response:
        return ACCEPTED({"signed_in": signed_in(request)})

    @routes.post("/probe/pages")
    @public(same_origin=True, refusal=NO)
    async def pages_only(request: web.Request) -> web.Response:
        return ACCEPTED({})

    @routes.post("/probe/staff")
    @requires(roles={Role.SUPERVISOR}, refusal=NO)
    async def staff(request: web.Request) -> web.Response:
        return ACCEPTED({"who": request[PRINCIPAL].identity})

    @routes.post("/probe/staff-pages")
    @requires(roles={Role.SUPERVISOR}, refusal=NO, same_origin=True)
    async def staff_pages(request: web.Request) -> web.Response:
        return ACCEPTED({"who": request[PRINCIPAL].identity})

    @routes.get("/probe/demoted")
    @requires(roles={Role.IT_ADMIN}, credential=Credential.COOKIE, refusal=NO)
    async def demoted(request: web.Request) -> web.Response:
        request.app[AUTHENTICATOR].store.conn.execute("UPDATE officers SET role = 'officer'")
        return ACCEPTED({"after": signed_in(request)})

    return routes


async def _post(url: str, **kwargs) -> tuple[int, object]:
    async with aiohttp.ClientSession() as http, http.post(url, **kwargs) as resp:
        return resp.status, await resp.json()


async def test_declarations_made_at_run_time_admit_and_refuse_as_declared(make_server) -> None:
    server = make_server(allowed_origins=["https://kiosk.example"])
    add_routes(server.app, _probes())
    async with server:
        base = server.http_url + "/probe"
        own = {"Origin": server.http_url}
        foreign = {"Origin": "http://evil.example"}
        boss = _bearer(_session(server, "boss", "supervisor"))
        assert await _post(base + "/open", headers=foreign) == (200, {"signed_in": None})
        assert await _post(base + "/pages") == (200, {})  # no Origin: not a browser
        assert await _post(base + "/pages", headers=own) == (200, {})
        assert await _post(base + "/pages", headers={"Origin": "https://kiosk.example"}) == (200, {})
        assert await _post(base + "/pages", headers=foreign) == (
            403,
            {"error": "cross-origin request refused"},
        )
        assert await _post(base + "/staff") == (401, {"error": "sign in first"})
        assert await _post(base + "/staff", headers=_bearer(_session(server, "hanako"))) == (
            403,
            {"error": "not for you"},
        )
        assert await _post(base + "/staff", headers={**boss, **foreign}) == (200, {"who": "boss"})
        assert await _post(base + "/staff-pages", headers={**boss, **own}) == (200, {"who": "boss"})
        refused = (403, {"error": "cross-origin request refused"})
        assert await _post(base + "/staff-pages", headers={**boss, **foreign}) == refused


async def test_signed_in_asks_again_about_the_role(make_server) -> None:
    """An account demoted while its long response runs is no longer signed in for that route."""
    server = make_server()
    add_routes(server.app, _probes())
    async with server:
        admin = _session(server, "it-sato", "it_admin")
        status, body, _ = await _get(server.http_url + "/probe/demoted", cookies={SESSION_COOKIE: admin})
        assert (status, body) == (200, '{"after": null}')


async def test_an_undeclared_handler_is_signed_in_as_nobody_and_listed_as_undeclared(make_server) -> None:
    async def raw(request: web.Request) -> web.Response:
        return ACCEPTED({"signed_in": signed_in(request)})

    server = make_server()
    server.app.router.add_post("/probe/raw", raw)  # past add_routes, as only a test would
    async with server:
        token = _session(server, "boss", "supervisor")
        assert await _post(server.http_url + "/probe/raw", headers=_bearer(token)) == (
            200,
            {"signed_in": None},
        )
    assert declared_routes(server.app)["POST /probe/raw"] == "undeclared"


def test_open_and_hello_routes_keep_their_handler_and_say_so() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    assert public()(handler) is handler and access_of(handler) == Access(Credential.NONE)
    assert signs_in_by_hello()(handler) is handler
    assert str(access_of(handler)) == "signs in with its hello"


def test_a_route_declared_at_run_time_keeps_its_scope() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    declared = requires(roles=[Role.SUPERVISOR], refusal=NO, scope=Scope.CASE_READ)(handler)
    assert access_of(declared) == Access(
        Credential.BEARER, frozenset({Role.SUPERVISOR}), NO, False, Scope.CASE_READ
    )
    assert (
        str(access_of(declared))
        == "bearer session: supervisor [case: its officer or a supervisor of its department]"
    )


def test_a_case_route_without_a_case_id_is_a_bad_request() -> None:
    app = web.Application()
    app[STORE] = Store(":memory:")
    request = make_mocked_request("GET", "/api/cases", app=app)  # no {call_id} in its path
    boss = Principal(Role.SUPERVISOR, "sato", "sato", {"kosodate": "primary"}, "session")
    try:
        with pytest.raises(web.HTTPBadRequest) as refused:
            authorise_case(request, boss, Scope.CASE_READ)
        assert refused.value.text == "bad case id"
    finally:
        app[STORE].close()


async def test_a_case_save_route_applies_the_save_rule(make_server) -> None:
    """A supervisor of the case's department may read it but not save to it (only its officer)."""
    server = make_server()
    routes = web.RouteTableDef()

    @routes.put("/probe/cases/{call_id}")
    @requires(roles=[Role.OFFICER, Role.SUPERVISOR], refusal=NO, scope=Scope.CASE_SAVE)
    async def save(request: web.Request) -> web.Response:
        return ACCEPTED({"case": request[CASE].call_id})

    add_routes(server.app, routes)
    record = CallRecord("c-1", "kiosk-ueda", "kosodate", None, "ja", "in_call", time.time(), officer="hanako")
    server.store.save_call(record)
    server.store.add_officer("sato", "sato", "supervisor", "not a password hash", {"kosodate": "primary"})
    async with server, aiohttp.ClientSession() as http:
        url = server.http_url + "/probe/cases/c-1"
        async with http.put(url, headers=_bearer(_session(server, "sato"))) as resp:
            refused = (resp.status, await resp.text())
        async with http.put(url, headers=_bearer(_session(server, "hanako"))) as resp:
            admitted = (resp.status, await resp.json())
    assert refused == (403, "only the officer who handled the call saves its documents, within a day")
    assert admitted == (200, {"case": "c-1"})


def test_a_declaration_that_cannot_work_says_why() -> None:
    with pytest.raises(
        ValueError, match=r"^requires\(\) needs a credential; use public\(\) for an open route$"
    ):
        requires(roles={Role.OFFICER}, credential=Credential.NONE, refusal=NO)
    with pytest.raises(
        ValueError, match=r"^session credentials need the roles they admit; the scrape token has none$"
    ):
        requires(roles=(), refusal=NO)
    with pytest.raises(
        ValueError, match=r"^a same-origin route needs a refusal to answer other origins with$"
    ):
        public(same_origin=True)


async def test_a_scrape_token_that_is_not_utf8_is_refused_not_crashed_on(make_server) -> None:
    """Header bytes that are not UTF-8 reach the handler as surrogates; comparing them must not raise."""
    server = make_server()
    setup_monitoring(server.app, overrides={"metrics_token": "s3cret-scrape-token"})
    async with server:
        port = int(server.http_url.rpartition(":")[2])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\xf6k\xe9n\r\n"
            b"Connection: close\r\n\r\n"
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 20)
        writer.close()
        await writer.wait_closed()
    assert status_line.startswith(b"HTTP/1.1 401")


# ---------------------------------------------------------------------- reading a credential off a request


def _request(headers: dict[str, str] | None = None) -> web.Request:
    return make_mocked_request("GET", "/", headers=headers or {})


def test_a_bearer_token_is_read_only_from_a_bearer_header() -> None:
    assert bearer_token(_request({"Authorization": "Bearer  abc "})) == "abc"
    for header in ({}, {"Authorization": "bearer abc"}, {"Authorization": "Basic abc"}):
        assert bearer_token(_request(header)) == ""


def test_a_session_token_up_to_200_characters_by_the_declared_credential_only() -> None:
    longest = "x" * 200
    assert session_token(_request(_bearer(longest)), Credential.BEARER) == longest
    assert session_token(_request(_bearer(longest + "x")), Credential.BEARER) == ""
    cookie = {"Cookie": f"{SESSION_COOKIE}={longest}"}
    assert session_token(_request(cookie), Credential.COOKIE) == longest
    for credential in (Credential.NONE, Credential.SCRAPE_TOKEN, Credential.HELLO):
        assert session_token(_request({**_bearer("abc"), **cookie}), credential) == ""


async def test_a_scrape_token_route_is_open_while_no_token_is_configured(make_server) -> None:
    routes = web.RouteTableDef()

    @routes.get("/probe/scrape")
    @requires(roles=(), credential=Credential.SCRAPE_TOKEN, refusal=NO)
    async def scrape(request: web.Request) -> web.Response:
        return ACCEPTED({})

    server = make_server()
    add_routes(server.app, routes)
    async with server:
        status, body, _ = await _get(server.http_url + "/probe/scrape")
    assert (status, body) == (200, "{}")


def test_a_route_that_cannot_carry_a_declaration_is_refused_by_name(tmp_path) -> None:
    class Handler:
        async def __call__(self, request: web.Request) -> web.Response:
            return web.Response()

    handler = Handler()
    with pytest.raises(UndeclaredRoute) as refused:
        add_routes(web.Application(), [web.post("/api/thing", handler)])
    assert str(refused.value) == (
        f"POST /api/thing ({handler!r}) declares no access: "
        "decorate the handler with @requires(...) or @public()"
    )
    static = web.static("/files", tmp_path)
    with pytest.raises(UndeclaredRoute, match=r"only plain routes carry an access declaration$"):
        add_routes(web.Application(), [static])
