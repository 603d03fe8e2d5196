"""The aiohttp application: the signaling websocket, health and REST endpoints.

`create_app(config, store)` builds everything; `signaling_server.cli` runs it. Tests run the same app with
aiohttp's own test utilities.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Annotated, Protocol

from aiohttp import WSMsgType, web
from pydantic import Field, TypeAdapter, ValidationError

from config.schema import AppConfig
from remote_call import protocol as p
from remote_call.protocol import PROTOCOL_VERSION, ErrorCode, ProtocolError
from remote_call.tasks import cancel_and_wait
from signaling_server.access import add_routes, same_origin, signs_in_by_hello
from signaling_server.appkeys import AUTHENTICATOR, CONFIG, STORE, SWITCHBOARD
from signaling_server.appointments import APPOINTMENTS, setup_appointments
from signaling_server.audit_behind import WriteBehindAudit
from signaling_server.auth import Authenticator, AuthError, Principal
from signaling_server.business.routes import setup_business
from signaling_server.case_routes import setup_case_documents
from signaling_server.cluster.node import CLUSTER, setup_cluster
from signaling_server.database_watch import setup_database_watch
from signaling_server.db import DatabaseUnavailable
from signaling_server.drain import close_all, setup_drain
from signaling_server.guests import setup_guests
from signaling_server.interpreter_routes import setup_interpreter_invitations
from signaling_server.limits import parse_guarded
from signaling_server.monitor import MONITOR
from signaling_server.monitoring import setup_monitoring
from signaling_server.outbox import Outbox
from signaling_server.ratelimit import TokenBucket
from signaling_server.rest import setup_rest
from signaling_server.revocation import REVOCATIONS, setup_revocations
from signaling_server.routing import Router
from signaling_server.signin import SIGN_IN, setup_sign_in
from signaling_server.store import Store
from signaling_server.switchboard import Client, Listener, Switchboard
from signaling_server.switchboard.board import AUDIT_ACTIONS

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 10.0
SEND_QUEUE_LIMIT = 256  # messages waiting for a slow client before it is cut off

SOCKETS = web.AppKey("sockets", set[web.WebSocketResponse])
INTERNET_REFUSED_ROLES = frozenset({p.Role.KIOSK, p.Role.IT_ADMIN})  # no kiosk or IT dashboard on that side
FLOOD_STRIKES = 3  # a client refused this many bursts in a row is cut off


# Client messages validated straight from their JSON text in one pass of pydantic-core: 2.2 µs for an
# ice_candidate against parse_message's 5.5 µs (json.loads, then validation of the dict), on the relay path
# of every SDP and ICE message. A text this does not accept goes to parse_message, which accepts or refuses
# it exactly as before and names the problem (compared case by case: duplicate keys, trailing data, BOM,
# control characters, NaN, lone surrogates, extra fields, server message types).
_CLIENT_MESSAGES: TypeAdapter[p.ClientMessage] = TypeAdapter(
    Annotated[p.ClientMessage, Field(discriminator="type")]
)
_validate_client_json = _CLIENT_MESSAGES.validator.validate_json


def parse_client_message(text: str, max_bytes: int) -> p.AnyMessage:
    """A message from a signed-in client, or ProtocolError; as ``protocol.parse_message``, but faster."""
    # A character is at most 4 bytes in UTF-8: most messages need no encoding to be measured.
    if len(text) <= max_bytes // 4 or len(text.encode()) <= max_bytes:
        try:
            return _validate_client_json(text)
        except ValidationError:
            pass
    return p.parse_message(text, max_bytes=max_bytes)


def create_app(
    config: AppConfig,
    store: Store | None = None,
    *,
    clock: Callable[[], float] = time.time,
    listeners: Iterable[Listener] = (),
) -> web.Application:
    """The application; the switchboard and its router run on ``clock`` and tell ``listeners`` (besides
    the monitor) what happens."""
    app = web.Application(client_max_size=64 * 1024)
    store = store if store is not None else Store(config.server.database)
    app[CONFIG] = config
    app[STORE] = store
    app[AUTHENTICATOR] = Authenticator(store, session_ttl_s=config.server.session_ttl_s)
    app[SOCKETS] = set()
    app.on_shutdown.append(_close_sockets)
    add_routes(app, [web.get("/ws", websocket_handler)])
    setup_drain(app)  # SIGTERM: /healthz says draining, new connections refused, then clients moved
    setup_rest(app)  # /healthz, /api/departments, /api/stats, /api/officers/me/calls
    app.cleanup_ctx.append(functools.partial(_switchboard_ctx, clock=clock, listeners=tuple(listeners)))
    if config.server.cluster is not None:  # several nodes, one leads the switchboard: deployment-cluster.md
        setup_cluster(app, functools.partial(parse_client_message, max_bytes=config.server.max_message_bytes))
    setup_sign_in(app)  # throttles and summarises failed sign-ins; after the switchboard's context
    setup_revocations(app)  # revoked tokens, disabled accounts: live connections end within ~2 s
    setup_database_watch(app)  # PostgreSQL unreachable: the degraded mode, and recovery when it returns
    internet = config.server.profile == "internet"  # docs/deployment-internet.md: business endpoints only
    if not internet:
        setup_monitoring(app)  # health registry, alerts, IT dashboard, /metrics, public wait board
    setup_case_documents(app, readable=not internet)  # documents officers save to a case, encrypted at rest
    setup_business(app)  # invitations, /api/business/redeem, the browser client at /b/ (docs/business.md)
    setup_guests(app)  # a family member by link: guest links, the page at /g/ (docs/guests.md)
    setup_interpreter_invitations(app)  # external interpreters by invitation, /i/ (docs/interpreters.md)
    setup_appointments(app, clock=clock)  # 予約: the booking service, /booking, the staff API
    return app


async def _switchboard_ctx(
    app: web.Application, *, clock: Callable[[], float], listeners: tuple[Listener, ...]
) -> AsyncIterator[None]:
    # Runs at start-up, after every setup_* call: the monitor is the one the app ends up with.
    config, store = app[CONFIG], app[STORE]
    monitor = app.get(MONITOR)
    board = Switchboard(
        config,
        store,
        router=Router.from_config(config, clock=clock),
        audit=WriteBehindAudit(store.conn, extra_actions=AUDIT_ACTIONS),  # waits while PostgreSQL is down
        clock=clock,
        monitor=monitor,
        listeners=(monitor.on_switchboard_event, *listeners) if monitor is not None else listeners,
        session_valid=app[AUTHENTICATOR].session_valid,
        appointments=app.get(APPOINTMENTS),  # kiosks check in with a booking's PIN
    )
    app[SWITCHBOARD] = board
    if config.server.cluster is not None:  # the node restores and runs it while it leads (cluster/node.py)
        yield
        store.close()
        return
    board.restore()
    timers = asyncio.create_task(board.run_timers(), name="router-timers")
    yield
    board.shutdown()
    await cancel_and_wait(timers)
    store.close()


async def _close_sockets(app: web.Application) -> None:
    """On shutdown (SIGTERM): save the queue, then tell every client to go away; they reconnect by
    themselves to the restarted server, and calls in progress keep their peer-to-peer media."""
    if CLUSTER in app:  # a leader saves the queue and hands the lease on; a follower saves nothing
        await app[CLUSTER].stop()
    else:
        app[SWITCHBOARD].shutdown()
    await close_all(app[SOCKETS], app[CONFIG].server.drain_timeout_s)  # 1001 going away, all at once


class _Gateway(Protocol):
    def attach(self, client: Client) -> None: ...
    def handle(self, client: Client, message: p.AnyMessage, text: str) -> None: ...
    def detach(self, client: Client) -> None: ...


class _Local:
    """A single node: a connection's client talks to the switchboard in this process."""

    def __init__(self, board: Switchboard) -> None:
        self.board = board
        self.handle = board.handle
        self.detach = board.detach

    def attach(self, client: Client) -> None:
        client.send(self.board.attach(client))  # the welcome before anything else the client is to hear
        self.board.resume(client)


@signs_in_by_hello()
async def websocket_handler(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    if not same_origin(request):
        # A browser page from elsewhere may not open signaling connections (cross-site websocket hijacking).
        log.warning(
            "%s: websocket from a foreign origin refused: %s",
            request.remote,
            request.headers.get("Origin", "")[:100],
        )
        raise web.HTTPForbidden(text="origin not allowed")
    ws = web.WebSocketResponse(
        heartbeat=config.server.ws_heartbeat_s,
        max_msg_size=config.server.max_message_bytes * 4,  # oversize frames up to this get a readable error
        compress=False,
    )
    try:
        await ws.prepare(request)
    except ConnectionResetError:  # gone before its upgrade was answered (an impatient client of a herd):
        raise web.HTTPBadRequest(text="connection lost") from None  # not a traceback in the log for each
    request.app[SOCKETS].add(ws)
    try:
        await _Connection(request, ws).serve()
    finally:
        request.app[SOCKETS].discard(ws)
    return ws


class _Connection:
    """Owns one websocket: the sign-in, its outbox (signaling_server.outbox), the read loop."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse):
        self.app = request.app
        self.ws = ws
        self.peer = request.remote or "?"
        self.remote = request.remote or "unknown"
        self.server = self.app[CONFIG].server
        self.board = self.app[SWITCHBOARD]
        self.max_bytes = self.server.max_message_bytes
        self.outbox = Outbox(
            ws,
            request.transport,
            limit=SEND_QUEUE_LIMIT,
            name=f"ws-writer {self.peer}",
            on_full=self._cut_off,
        )
        self.send_raw = self.outbox.send
        self._closer: asyncio.Future | None = None
        # Where this connection's client goes: the switchboard here, or the cluster's leader (cluster/).
        self.gateway: _Gateway = self.app[CLUSTER].gateway if CLUSTER in self.app else _Local(self.board)

    # ------------------------------------------------------------------ sending

    def _cut_off(self) -> None:
        log.warning("%s: cannot keep up with its messages; closing", self.peer)
        self.close()

    def send(self, message: p.Wire) -> None:
        self.send_raw(p.encode(message))

    def close(self) -> None:
        self.outbox.stop()
        if not self.ws.closed and self._closer is None:
            self._closer = asyncio.ensure_future(self.ws.close(code=1008, message=b"closed by server"))

    # ------------------------------------------------------------------ the connection's life

    async def serve(self) -> None:
        client: Client | None = None
        try:
            client = await self._sign_in()
            if client is None:
                return
            log.info("%s connected as %s %s", self.peer, client.role.value, client.identity)
            await self._read(client)
        finally:
            if client is not None:
                self.gateway.detach(client)
                log.info("%s disconnected (%s %s)", self.peer, client.role.value, client.identity)
            await self.outbox.finish()

    async def _sign_in(self) -> Client | None:
        """The first message must be a valid hello with valid credentials, within HELLO_TIMEOUT_S. The
        welcome is queued before anything else the client is to hear."""
        hello = await self._receive_hello()
        if hello is None:
            return None
        if self.server.profile == "internet" and hello.role in INTERNET_REFUSED_ROLES:
            detail = (
                f"this is the internet-side instance for businesses; a {hello.role.value} signs in to the "
                "city-network instance"
            )
            await self._refuse(ErrorCode.FORBIDDEN, detail, "hello")
            return None
        principal = await self._authenticate(hello)
        if principal is None:
            return None
        client = Client(principal=principal, send_raw=self.send_raw, close=self.close)
        self.app[REVOCATIONS].signed_in(client, hello.credentials)
        self.gateway.attach(client)
        return client

    async def _receive_hello(self) -> p.Hello | None:
        """The hello, or None when the connection was refused."""
        try:
            frame = await self.ws.receive(timeout=HELLO_TIMEOUT_S)
        except TimeoutError:
            await self._refuse(ErrorCode.UNAUTHENTICATED, "no hello within the time allowed")
            return None
        if frame.type is not WSMsgType.TEXT:
            await self._refuse(ErrorCode.MALFORMED, "the first message must be a text 'hello'")
            return None
        try:
            hello = parse_guarded(
                lambda: p.parse_message(frame.data, max_bytes=self.server.max_message_bytes)
            )
        except ProtocolError as exc:
            await self._refuse(exc.code, exc.detail, exc.about)
            return None
        if not isinstance(hello, p.Hello):
            await self._refuse(ErrorCode.UNAUTHENTICATED, "the first message must be 'hello'")
            return None
        if hello.v != PROTOCOL_VERSION:
            detail = f"protocol version {hello.v} is not supported; this server speaks {PROTOCOL_VERSION}"
            await self._refuse(ErrorCode.VERSION, detail)
            return None
        return hello

    async def _refuse(self, code: ErrorCode, detail: str, about: str | None = None) -> None:
        """Refuse the connection before sign-in: the error, then close."""
        error = ProtocolError(code, detail, about).to_message()
        log.warning("%s: connection refused before sign-in: %s: %s", self.remote, code.value, detail[:200])
        await self._close_unauthenticated(error)

    async def _authenticate(self, hello: p.Hello) -> Principal | None:
        attempt = self.app[SIGN_IN].begin(hello.credentials, self.remote)  # signaling_server.signin
        if attempt.refused_unchecked:
            attempt.failed()
            detail = f"too many failed sign-ins; try again in {attempt.wait_s:.0f} s"
            await self._close_unauthenticated(
                p.Error(code=ErrorCode.RATE_LIMITED, about="hello", detail=detail)
            )
            return None
        try:
            if hello.role is p.Role.GUEST:  # a family member by link: its session lives with its call
                principal = self.board.guests.principal(hello.credentials)
            else:
                principal = await self.app[AUTHENTICATOR].authenticate(hello.role, hello.credentials)
        except DatabaseUnavailable as exc:  # degraded mode (database_watch.py): clients retry
            attempt.unchecked()
            detail = f"{exc}: signing in is not possible right now; retrying"
            await self._close_unauthenticated(p.Error(code=ErrorCode.INTERNAL, detail=detail, about="hello"))
            return None
        except AuthError as exc:
            attempt.failed()  # one audit entry per address and window (signin.py)
            error = p.Error(code=ErrorCode.UNAUTHENTICATED, detail=str(exc), about="hello")
            if attempt.wait_s > 0:  # a token from an address locked out for its failures
                detail = f"too many failed sign-ins from this address; try again in {attempt.wait_s:.0f} s"
                error = p.Error(code=ErrorCode.RATE_LIMITED, about="hello", detail=detail)
            await self._close_unauthenticated(error)
            return None
        attempt.succeeded()
        self.app[SIGN_IN].signed_in(principal.identity, principal.role.value, self.remote)
        return principal

    async def _close_unauthenticated(self, error: p.Error) -> None:
        self.send(error)
        self.outbox.stop()
        await self.outbox.writer
        await self.ws.close(code=1008, message=b"authentication failed")

    # ------------------------------------------------------------------ reading

    async def _read(self, client: Client) -> None:
        bucket = TokenBucket(self.server.messages_per_second, self.server.message_burst)
        held: list[Outbox] = []
        strikes = 0
        async for frame in self.ws:
            if not bucket.allow():
                strikes += 1
                if self._refuse_burst(client, strikes):
                    await self.ws.close(code=1008, message=b"message flood")
                    return
                continue
            strikes = 0
            if frame.type is WSMsgType.TEXT:
                Outbox.collecting = held
                try:
                    self._handle(client, frame.data)
                finally:
                    Outbox.collecting = None
                try:
                    for outbox in held:  # written here, not by waking each connection's writer
                        await outbox.write_held()
                except BaseException:  # cancelled: the ones not reached are their writers' again
                    for outbox in held:
                        outbox.release()
                    raise
                finally:
                    held.clear()
            elif frame.type is WSMsgType.BINARY:
                self.send(p.Error(code=ErrorCode.MALFORMED, detail="binary frames are not accepted"))

    def _refuse_burst(self, client: Client, strikes: int) -> bool:
        """One message over the rate: refused with an error; True once the client has flooded the server."""
        who = f"{self.peer} ({client.role.value} {client.identity})"
        if strikes == 1:
            log.warning("%s is sending too many messages", who)
        self.send(
            p.Error(
                code=ErrorCode.RATE_LIMITED,
                detail=f"too many messages; at most {self.server.messages_per_second:g}/s",
            )
        )
        if strikes >= FLOOD_STRIKES * self.server.message_burst:
            log.warning("%s flooded the server; disconnecting", who)
            return True
        return False

    def _handle(self, client: Client, text: str) -> None:
        try:
            message = parse_guarded(lambda: parse_client_message(text, self.max_bytes))  # limits.py
            if message.type not in p.CLIENT_TYPES or isinstance(message, p.Hello):
                raise ProtocolError(
                    ErrorCode.FORBIDDEN,
                    f"{message.type!r} is not a message a client sends now",
                    about=message.type,
                )
            self.gateway.handle(client, message, text)
        except ProtocolError as exc:
            log.info("%s %s: %s", client.identity, exc.code.value, exc.detail[:200])
            self.send(exc.to_message())
        except Exception:
            log.exception("%s: handling a message failed", client.identity)
            self.send(p.Error(code=ErrorCode.INTERNAL, detail="the server could not handle that message"))
