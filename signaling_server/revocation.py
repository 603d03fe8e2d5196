"""Revocation that takes effect: live connections end within seconds of their credential ending.

The admin CLI (``madoguchi-admin revoke-kiosk``, ``issue-kiosk-token``, ``disable``, ``set-password``,
``revoke-sessions``) runs in another process against the same SQLite file, so the server must notice its
writes. Every ``CHECK_EVERY_S`` the checker asks the database's change counter (SQLite: ``PRAGMA
data_version``, which changes exactly when *another* connection has committed to the file, 13 µs measured;
PostgreSQL: a sequence that changes to accounts, kiosk tokens and sessions advance, on every node). Only
then, or every ``FULL_CHECK_S`` anyway, it re-validates every signed-in connection:

- a kiosk: its device token is still the kiosk's current, unrevoked one (a re-issued token ends the old
  token's connection; the hash it signed in with is remembered per connection, never the token);
- staff: ``Authenticator.session_principal``, the same check every REST route makes: session row alive,
  account present, enabled and of the same role (disabled accounts and changed passwords end here, since
  ``set-password`` and ``disable`` delete the account's sessions).

Measured with 1,000 connected kiosks (a shared 2-core machine): a full re-validation takes 13-19 ms
(a SHA-256 compare and one indexed look-up each), so it runs only when the file changed. REST needs
nothing extra: every request re-checks its session. Businesses are checked by the switchboard's own
session timer.

A connection that fails is told ``unauthenticated`` ("signed out: ...") and closed, and the switchboard
treats it as a disconnect (a call in progress gets the usual reconnect grace, which it cannot use).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from remote_call import protocol as p
from remote_call.protocol import ErrorCode, Role
from remote_call.tasks import cancel_and_wait
from signaling_server.appkeys import AUTHENTICATOR, STORE, SWITCHBOARD
from signaling_server.auth import Authenticator, token_hash
from signaling_server.db import DatabaseUnavailable
from signaling_server.store import Store
from signaling_server.switchboard import Client, Switchboard

log = logging.getLogger(__name__)

CHECK_EVERY_S = 2.0
FULL_CHECK_S = 30.0
SWEEP_SLICE = 500  # connections re-validated per event-loop turn: ~8 ms (13-19 ms per 1,000 measured)
STAFF_ROLES = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.IT_ADMIN})


class Revocations:
    def __init__(
        self, store: Store, authenticator: Authenticator, clock: Callable[[], float] = time.monotonic
    ):
        self._store = store
        self._auth = authenticator
        self._clock = clock
        self._kiosk_tokens: weakref.WeakKeyDictionary[Client, str] = weakref.WeakKeyDictionary()
        self._version = self._data_version()
        self._full_at = clock()

    def signed_in(self, client: Client, credentials: p.Credentials) -> None:
        """Remember which device token a kiosk's connection signed in with (its hash)."""
        if isinstance(credentials, p.DeviceTokenCredentials):
            self._kiosk_tokens[client] = token_hash(credentials.token)

    def relayed(self, client: Client) -> None:
        """A kiosk that signed in on another node (signaling_server.cluster): that node checked its token a
        moment ago, so the token the database holds now is the one it signed in with."""
        if client.role is Role.KIOSK:
            signed = self._store.kiosk_token_hash(client.identity)
            if signed is not None:
                self._kiosk_tokens[client] = signed

    def _data_version(self) -> int:
        return self._store.db.change_counter()

    def due(self) -> bool:
        """Another process wrote to the database, or the periodic full check is due."""
        version, now = self._data_version(), self._clock()
        if version == self._version and now - self._full_at < FULL_CHECK_S:
            return False
        self._version, self._full_at = version, now
        return True

    def still_valid(self, client: Client) -> str | None:
        """None if the client's credential still holds; else why not (for the client and the log)."""
        principal = client.principal
        if client.role is Role.KIOSK:
            signed = self._kiosk_tokens.get(client)
            if signed is not None and self._store.kiosk_token_hash(client.identity) != signed:
                return "this kiosk's device token was revoked or replaced"
            return None
        if client.role in STAFF_ROLES and principal.session_token:
            now = self._auth.session_principal(principal.session_token)
            if now is None or now.role is not client.role:
                return "your session was ended (signed out, account disabled or password changed)"
        return None

    def sweep(self, board: Switchboard) -> list[str]:
        """End every connection whose credential has ended; their identities."""
        return self._sweep(board, [*board.kiosks.values(), *board.officers.values(), *board.watchers])

    async def sweep_in_slices(self, board: Switchboard) -> list[str]:
        """``sweep``, the event loop given back every ``SWEEP_SLICE`` connections: a cluster leader holding
        25,000 would otherwise block its loop ~0.4 s per pass (more on a busy machine) and miss renewing
        its lease (simulator/load/nodes.py, docs/performance.md)."""
        clients = [*board.kiosks.values(), *board.officers.values(), *board.watchers]
        ended: list[str] = []
        for start in range(0, len(clients), SWEEP_SLICE):
            if start:
                await asyncio.sleep(0)  # a yield to the loop between slices, not synchronisation
            ended += self._sweep(board, clients[start : start + SWEEP_SLICE])
        return ended

    def _sweep(self, board: Switchboard, clients: list[Client]) -> list[str]:
        ended = []
        for client in clients:
            reason = self.still_valid(client)
            if reason is not None:
                end_connection(board, client, reason)
                ended.append(client.identity)
        return ended

    def end_session(self, board: Switchboard, token: str) -> int:
        """Close the connections signed in with the staff session ``token`` (sign-out); how many."""
        clients = [
            c for c in [*board.officers.values(), *board.watchers] if c.principal.session_token == token
        ]
        for client in clients:
            end_connection(board, client, "you signed out")
        return len(clients)


def end_connection(board: Switchboard, client: Client, reason: str) -> None:
    log.warning("%s %s: %s; disconnecting", client.role.value, client.identity, reason)
    client.send(p.Error(code=ErrorCode.UNAUTHENTICATED, detail=f"signed out: {reason}"))
    board.detach(client)
    client.close()


REVOCATIONS = web.AppKey("revocations", Revocations)


def setup_revocations(app: web.Application) -> None:
    """Call after the switchboard's cleanup context is added (the checker needs the switchboard)."""
    app[REVOCATIONS] = Revocations(app[STORE], app[AUTHENTICATOR])
    app.cleanup_ctx.append(_checker)


async def _checker(app: web.Application) -> AsyncIterator[None]:
    revocations = app[REVOCATIONS]

    async def run() -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)  # a periodic job, not synchronisation
            try:
                if revocations.due():
                    await revocations.sweep_in_slices(app[SWITCHBOARD])
            except DatabaseUnavailable:
                pass  # degraded mode, logged and alerted once (database_watch.py); checked again after it
            except Exception:
                log.exception("revocation check failed")

    task = asyncio.create_task(run(), name="revocations")
    yield
    await cancel_and_wait(task)
