"""The aiohttp application: the signaling websocket, health and REST endpoints.

`create_app(config, store)` builds everything; `signaling_server.cli` runs it. Tests run the same app with
aiohttp's own test utilities.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import WSMsgType, web

from config.schema import AppConfig
from remote_call import protocol as p
from remote_call.protocol import PROTOCOL_VERSION, ErrorCode, ProtocolError
from signaling_server.appkeys import AUTHENTICATOR, CONFIG, STORE, SWITCHBOARD
from signaling_server.auth import Authenticator, AuthError, token_hash
from signaling_server.case_routes import setup_case_documents
from signaling_server.monitoring import same_origin, setup_monitoring
from signaling_server.ratelimit import LoginThrottle, TokenBucket, user_key
from signaling_server.rest import setup_rest
from signaling_server.store import Store
from signaling_server.switchboard import Client, Switchboard

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 10.0
SEND_QUEUE_LIMIT = 256  # messages waiting for a slow client before it is cut off

THROTTLE = web.AppKey("login_throttle", LoginThrottle)
SOCKETS = web.AppKey("sockets", set)
FLOOD_STRIKES = 3  # a client refused this many bursts in a row is cut off


def create_app(config: AppConfig, store: Store | None = None) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    store = store if store is not None else Store(config.server.database)
    app[CONFIG] = config
    app[STORE] = store
    app[AUTHENTICATOR] = Authenticator(store, session_ttl_s=config.server.session_ttl_s)
    app[THROTTLE] = LoginThrottle()
    app[SOCKETS] = set()
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/ws", websocket_handler)
    setup_rest(app)  # /healthz, /api/departments, /api/stats, /api/officers/me/calls
    app.cleanup_ctx.append(_switchboard_ctx)
    setup_monitoring(app)  # health registry, alerts, IT dashboard, /metrics, public wait board
    setup_case_documents(app)  # documents officers save to a case, encrypted at rest
    return app


async def _switchboard_ctx(app: web.Application):
    board = Switchboard(app[CONFIG], app[STORE])
    board.session_valid = app[AUTHENTICATOR].session_valid
    board.restore()
    app[SWITCHBOARD] = board
    timers = asyncio.create_task(board.run_timers(), name="router-timers")
    yield
    board.shutdown()
    timers.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await timers
    app[STORE].close()


async def _close_sockets(app: web.Application) -> None:
    """On shutdown (SIGTERM): save the queue, then tell every client to go away; they reconnect by
    themselves to the restarted server, and calls in progress keep their peer-to-peer media."""
    app[SWITCHBOARD].shutdown()
    for ws in list(app[SOCKETS]):
        await ws.close(code=1001, message=b"server shutting down")


class _Connection:
    """Owns one websocket: a bounded send queue, its writer task, and the read loop."""

    def __init__(self, ws: web.WebSocketResponse, peer: str):
        self.ws = ws
        self.peer = peer
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(SEND_QUEUE_LIMIT)
        self.writer = asyncio.create_task(self._write(), name=f"ws-writer {peer}")
        self._closer: asyncio.Future | None = None

    def send_raw(self, text: str) -> None:
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("%s: cannot keep up with its messages; closing", self.peer)
            self.close()

    def send(self, message: p.Wire) -> None:
        self.send_raw(p.encode(message))

    def close(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.outbox.put_nowait(None)
        if not self.ws.closed and self._closer is None:
            self._closer = asyncio.ensure_future(self.ws.close(code=1008, message=b"closed by server"))

    async def _write(self) -> None:
        while True:
            text = await self.outbox.get()
            if text is None or self.ws.closed:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def finish(self) -> None:
        self.writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.writer


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    board = request.app[SWITCHBOARD]
    limit = config.server.max_message_bytes
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
        max_msg_size=limit * 4,  # oversize frames up to this get a readable error; beyond, 1009
        compress=False,
    )
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    conn = _Connection(ws, request.remote or "?")
    client: Client | None = None
    try:
        client = await _handshake(request, ws, conn, limit)
        if client is None:
            return ws
        log.info("%s connected as %s %s", conn.peer, client.role.value, client.identity)
        bucket = TokenBucket(config.server.messages_per_second, config.server.message_burst)
        strikes = 0
        async for frame in ws:
            if not bucket.allow():
                strikes += 1
                if strikes == 1:
                    log.warning(
                        "%s (%s %s) is sending too many messages",
                        conn.peer,
                        client.role.value,
                        client.identity,
                    )
                conn.send(
                    p.Error(
                        code=ErrorCode.RATE_LIMITED,
                        detail=f"too many messages; at most {config.server.messages_per_second:g}/s",
                    )
                )
                if strikes >= FLOOD_STRIKES * config.server.message_burst:
                    log.warning(
                        "%s (%s %s) flooded the server; disconnecting",
                        conn.peer,
                        client.role.value,
                        client.identity,
                    )
                    await ws.close(code=1008, message=b"message flood")
                    break
                continue
            strikes = 0
            if frame.type is not WSMsgType.TEXT:
                if frame.type is WSMsgType.BINARY:
                    conn.send(p.Error(code=ErrorCode.MALFORMED, detail="binary frames are not accepted"))
                continue
            try:
                message = p.parse_message(frame.data, max_bytes=limit)
                if message.type not in p.CLIENT_TYPES or isinstance(message, p.Hello):
                    raise ProtocolError(
                        ErrorCode.FORBIDDEN,
                        f"{message.type!r} is not a message a client sends now",
                        about=message.type,
                    )
                board.handle(client, message, frame.data)
            except ProtocolError as exc:
                log.info("%s %s: %s", client.identity, exc.code.value, exc.detail[:200])
                conn.send(exc.to_message())
            except Exception:
                log.exception("%s: handling a message failed", client.identity)
                conn.send(p.Error(code=ErrorCode.INTERNAL, detail="the server could not handle that message"))
    finally:
        if client is not None:
            board.detach(client)
            log.info("%s disconnected (%s %s)", conn.peer, client.role.value, client.identity)
        await conn.finish()
        request.app[SOCKETS].discard(ws)
    return ws


async def _handshake(
    request: web.Request, ws: web.WebSocketResponse, conn: _Connection, limit: int
) -> Client | None:
    """The first message must be a valid hello with valid credentials, within HELLO_TIMEOUT_S."""
    remote = request.remote or "unknown"

    async def refuse(error: p.Error) -> None:
        log.warning(
            "%s: connection refused before sign-in: %s: %s", remote, error.code.value, error.detail[:200]
        )
        conn.send(error)
        await _close(ws, conn)

    try:
        frame = await ws.receive(timeout=HELLO_TIMEOUT_S)
    except TimeoutError:
        await refuse(p.Error(code=ErrorCode.UNAUTHENTICATED, detail="no hello within the time allowed"))
        return None
    if frame.type is not WSMsgType.TEXT:
        await refuse(p.Error(code=ErrorCode.MALFORMED, detail="the first message must be a text 'hello'"))
        return None
    try:
        hello = p.parse_message(frame.data, max_bytes=limit)
    except ProtocolError as exc:
        await refuse(exc.to_message())
        return None
    if not isinstance(hello, p.Hello):
        await refuse(p.Error(code=ErrorCode.UNAUTHENTICATED, detail="the first message must be 'hello'"))
        return None
    if hello.v != PROTOCOL_VERSION:
        await refuse(
            p.Error(
                code=ErrorCode.VERSION,
                detail=f"protocol version {hello.v} is not supported; this server speaks {PROTOCOL_VERSION}",
            )
        )
        return None
    credentials = hello.credentials
    # Passwords can be guessed: throttle the account and the address. Device and session tokens are
    # 256-bit random: throttle only that identity, so that failures from one address (a community centre
    # behind one NAT) cannot lock out the other kiosks there.
    throttle = request.app[THROTTLE]
    if isinstance(credentials, p.PasswordCredentials):
        who = credentials.username
        wait_s = throttle.check_login(who, remote)
    else:
        who = (
            f"session-{token_hash(credentials.token)[:12]}"
            if isinstance(credentials, p.SessionCredentials)
            else credentials.kiosk_id
        )
        wait_s = throttle.check(user_key(who))
    if wait_s > 0:
        log.warning("%s: sign-in for %s refused: locked out for %.0f s", remote, who, wait_s)
        conn.send(
            p.Error(
                code=ErrorCode.RATE_LIMITED,
                about="hello",
                detail=f"too many failed sign-ins; try again in {wait_s:.0f} s",
            )
        )
        await _close(ws, conn)
        return None
    audit = request.app[SWITCHBOARD].audit
    try:
        principal = await request.app[AUTHENTICATOR].authenticate(hello.role, credentials)
    except AuthError as exc:
        if isinstance(credentials, p.PasswordCredentials):
            throttle.login_failed(who, remote)
        else:
            throttle.failure(user_key(who))
        log.warning("%s: sign-in refused for %s %s: %s", remote, hello.role.value, who, exc)
        audit.append(who, "sign_in_failed", "", {"role": hello.role.value, "remote": remote})
        conn.send(p.Error(code=ErrorCode.UNAUTHENTICATED, detail=str(exc), about="hello"))
        await _close(ws, conn)
        return None
    if isinstance(credentials, p.PasswordCredentials):
        throttle.login_succeeded(who, remote)
    else:
        throttle.success(user_key(who))
    audit.append(principal.identity, "sign_in", "", {"role": principal.role.value, "remote": remote})
    client = Client(principal=principal, send_raw=conn.send_raw, close=conn.close)
    welcome = request.app[SWITCHBOARD].attach(client)
    # The welcome must precede anything attach() queued (e.g. a ring for an officer).
    pending = []
    while not conn.outbox.empty():
        pending.append(conn.outbox.get_nowait())
    conn.send(welcome)
    for item in pending:
        conn.outbox.put_nowait(item)
    return client


async def _close(ws: web.WebSocketResponse, conn: _Connection) -> None:
    conn.outbox.put_nowait(None)
    await conn.writer
    await ws.close(code=1008, message=b"authentication failed")
