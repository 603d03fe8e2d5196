"""Who may call each HTTP route: declared once per handler, checked in one place.

Every handler declares its access, ``@requires(roles=..., credential=..., refusal=...)`` or ``@public()``,
and a module adds its routes with ``add_routes``, which refuses at set-up a route whose handler declares
nothing. The check here is the only code that reads credentials off a request:

- a staff session token, as ``Authorization: Bearer <token>`` (consoles, scripts) or in the IT dashboard's
  cookie, becomes a ``Principal`` through ``Authenticator.session_principal`` — the same check the
  websocket hello makes of session credentials (session alive, account present and enabled);
- the Prometheus scrape token (``monitoring.metrics_token``) is compared in constant time; unset, the
  route is open.

Then the principal's role must be one the route admits, then the route's ``scope`` (what of the data the
principal may reach, decided by ``signaling_server.policy``): a case route looks the case up and admits only
the officer who handled it or a supervisor of its department (IT administrators never) and hands the
handler ``request[CASE]``; a route scoped to the caller's departments passes its data through
``scoped_stats``. A route marked ``same_origin`` refuses a browser's request other than GET from another
origin. Handlers read ``request[PRINCIPAL]``.

A ``Refusal`` keeps each route's answer the form its clients know: JSON or text, 401 when not signed in,
403 for a role the route does not admit (or 401 again where a wrong role counts as no sign-in, as on the IT
dashboard), or a redirect to a sign-in page.
"""

from __future__ import annotations

import functools
import hmac
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from aiohttp import web

from remote_call.protocol import Role
from signaling_server import policy
from signaling_server.appkeys import AUTHENTICATOR, CONFIG, STORE
from signaling_server.auth import Principal
from signaling_server.store import CallRecord

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PRINCIPAL = web.RequestKey("principal", Principal)
CASE = web.RequestKey("case", CallRecord)  # the case a CASE_* scoped route was admitted to
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
SCRAPE_TOKEN = web.AppKey("scrape_token", str)  # the bearer token /metrics wants; "" leaves it open
SESSION_COOKIE = "madoguchi_it"  # the IT dashboard's HttpOnly session cookie
MAX_TOKEN_CHARS = 200  # session tokens have 43 characters; a longer one is not even looked up
STAFF = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.IT_ADMIN})


class Credential(StrEnum):
    NONE = "public"
    BEARER = "bearer session"  # Authorization: Bearer <staff session token>
    COOKIE = "cookie session"  # SESSION_COOKIE = <staff session token>
    SCRAPE_TOKEN = "scrape token"  # Authorization: Bearer <monitoring.metrics_token>
    HELLO = "signs in with its hello"  # the signaling websocket: credentials in its first message, per role


class Scope(StrEnum):
    """What of the data a principal admitted by role may reach (``signaling_server.policy`` decides)."""

    ROLE = ""  # the role decides alone
    OWN = "own records"  # the handler reads only the caller's own records
    DEPARTMENTS = "own departments"  # the handler's data goes through scoped_stats
    CASE_READ = "case: its officer or a supervisor of its department"
    CASE_SAVE = "case: its officer, within a day"


@dataclass(frozen=True)
class Refusal:
    """How a route says no, in the form its clients expect."""

    respond: Callable[[int, str], web.StreamResponse]  # (401 or 403, message) -> the response (or raise)
    unauthenticated: str = ""  # the message for "sign in first"
    forbidden: str | None = None  # the message for a role not admitted; None: answered like no sign-in


@dataclass(frozen=True)
class Access:
    credential: Credential
    roles: frozenset[Role] = frozenset()
    refusal: Refusal | None = None
    same_origin: bool = False  # a request other than GET must come from this server's own pages
    scope: Scope = Scope.ROLE

    def __str__(self) -> str:
        text = str(self.credential)
        if self.roles:
            text += ": " + ", ".join(sorted(role.value for role in self.roles))
        text += f" [{self.scope.value}]" if self.scope is not Scope.ROLE else ""
        return text + (" (same origin)" if self.same_origin else "")


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def text_error(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message)


class UndeclaredRoute(ValueError):
    """A route was added whose handler declares no access."""


_DECLARED: weakref.WeakKeyDictionary[Callable[..., object], Access] = weakref.WeakKeyDictionary()


def requires(
    *,
    roles: Iterable[Role],
    refusal: Refusal,
    credential: Credential = Credential.BEARER,
    same_origin: bool = False,
    scope: Scope = Scope.ROLE,
) -> Callable[[Handler], Handler]:
    """Only a signed-in caller with one of ``roles`` gets through (``roles`` is empty for the scrape
    token, which carries no role), and only to what ``scope`` admits."""
    admitted = frozenset(roles)
    if credential is Credential.NONE:
        raise ValueError("requires() needs a credential; use public() for an open route")
    if (credential is Credential.SCRAPE_TOKEN) == bool(admitted):
        raise ValueError("session credentials need the roles they admit; the scrape token has none")
    return _declare(Access(credential, admitted, refusal, same_origin, scope))


def public(*, same_origin: bool = False, refusal: Refusal | None = None) -> Callable[[Handler], Handler]:
    """Anyone may call the route (``same_origin``: browsers only from this server's pages)."""
    if same_origin and refusal is None:
        raise ValueError("a same-origin route needs a refusal to answer other origins with")
    return _declare(Access(Credential.NONE, frozenset(), refusal, same_origin))


def signs_in_by_hello() -> Callable[[Handler], Handler]:
    """The signaling websocket: open to connect (its own Origin check), signed in by its first message
    (app.py checks the hello's credentials; docs/security.md lists them per role)."""
    return _declare(Access(Credential.HELLO))


def _declare(access: Access) -> Callable[[Handler], Handler]:
    def declare(handler: Handler) -> Handler:
        if access.credential in (Credential.NONE, Credential.HELLO) and not access.same_origin:
            _DECLARED[handler] = access
            return handler

        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            refused = _refuse(request, access)
            if refused is not None:
                return refused
            return await handler(request)

        _DECLARED[checked] = access
        return checked

    return declare


def _refuse(request: web.Request, access: Access) -> web.StreamResponse | None:
    refusal = access.refusal
    assert refusal is not None  # requires() and public(same_origin=True) insist on one
    if access.credential is Credential.SCRAPE_TOKEN:
        expected = request.app.get(SCRAPE_TOKEN, "")
        given = bearer_token(request)
        if expected and not hmac.compare_digest(_bytes(given), _bytes(expected)):
            return refusal.respond(401, refusal.unauthenticated)
    elif access.credential is not Credential.NONE:
        principal = _session(request, access.credential)
        if principal is None:
            return refusal.respond(401, refusal.unauthenticated)
        if principal.role not in access.roles:
            if refusal.forbidden is None:
                return refusal.respond(401, refusal.unauthenticated)
            return refusal.respond(403, refusal.forbidden)
        request[PRINCIPAL] = principal
        if access.scope in (Scope.CASE_READ, Scope.CASE_SAVE):
            request[CASE] = authorise_case(request, principal, access.scope)
    if access.same_origin and request.method != "GET" and not same_origin(request):
        return refusal.respond(403, "cross-origin request refused")
    return None


def authorise_case(request: web.Request, principal: Principal, scope: Scope) -> CallRecord:
    """The case ``{call_id}`` names, if ``principal`` may reach it; otherwise an HTTP error (400 for an id
    that cannot be one, 404 for no such case, 403 for someone else's)."""
    call_id = request.match_info.get("call_id", "")
    if not SAFE_ID.match(call_id):
        raise web.HTTPBadRequest(text="bad case id")
    record = request.app[STORE].call(call_id)
    if record is None:
        raise web.HTTPNotFound(text="no such case")
    if scope is Scope.CASE_SAVE:
        if not policy.may_save_case(principal, record, time.time()):
            raise web.HTTPForbidden(
                text="only the officer who handled the call saves its documents, within a day"
            )
    elif not policy.may_read_case(principal, record):
        raise web.HTTPForbidden(text="not your case")
    return record


def scoped_stats(request: web.Request, stats: dict) -> dict:
    """Statistics as the signed-in principal may see them (a route with ``Scope.DEPARTMENTS``)."""
    return policy.stats_for(request[PRINCIPAL], stats)


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")  # header bytes that are not UTF-8 arrive as surrogates


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""


def session_token(request: web.Request, credential: Credential) -> str:
    """The session token a request carries by ``credential``; "" when it has none (or an overlong one)."""
    if credential is Credential.BEARER:
        token = bearer_token(request)
    elif credential is Credential.COOKIE:
        token = request.cookies.get(SESSION_COOKIE, "")
    else:
        return ""
    return token if len(token) <= MAX_TOKEN_CHARS else ""


def _session(request: web.Request, credential: Credential) -> Principal | None:
    token = session_token(request, credential)
    return request.app[AUTHENTICATOR].session_principal(token) if token else None


def signed_in(request: web.Request) -> Principal | None:
    """Who the request is signed in as, checked again now against its route's declaration; None when the
    session has ended or the role is no longer admitted (a long response, like an event stream, asks)."""
    access = access_of(request.match_info.route.handler)
    if access is None or access.credential not in (Credential.BEARER, Credential.COOKIE):
        return None
    principal = _session(request, access.credential)
    return principal if principal is not None and principal.role in access.roles else None


def same_origin(request: web.Request) -> bool:
    """Browsers send Origin on POST and websockets; it must be this server or an allowed origin."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    allowed = set(getattr(request.app[CONFIG].server, "allowed_origins", []) or [])
    parts = urlsplit(origin)
    return parts.netloc == request.host or origin in allowed


def access_of(handler: Callable[..., object]) -> Access | None:
    return _DECLARED.get(handler)


def add_routes(app: web.Application, routes: Iterable[web.AbstractRouteDef]) -> None:
    """Add routes whose handlers all declare their access; otherwise refuse, naming the route."""
    routes = list(routes)
    for route in routes:
        if not isinstance(route, web.RouteDef):
            raise UndeclaredRoute(f"{route!r}: only plain routes carry an access declaration")
        if access_of(route.handler) is None:
            name = getattr(route.handler, "__qualname__", repr(route.handler))
            raise UndeclaredRoute(
                f"{route.method} {route.path} ({name}) declares no access: "
                "decorate the handler with @requires(...) or @public()"
            )
    app.router.add_routes(routes)


def declared_routes(app: web.Application) -> dict[str, str]:
    """Every route of the app but HEAD (it shares its GET's handler) → its declared access, for review."""
    table = {}
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        path = route.resource.canonical if route.resource is not None else "?"
        access = access_of(route.handler)
        table[f"{route.method} {path}"] = str(access) if access is not None else "undeclared"
    return table
