"""Run the signaling server inside another program (simulator, demo, tests) on a loopback port."""

from __future__ import annotations

import secrets
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from config.schema import AppConfig
from signaling_server.app import create_app
from signaling_server.appkeys import SWITCHBOARD
from signaling_server.auth import Authenticator, hash_password
from signaling_server.limits import GuardedRunner
from signaling_server.store import Store
from signaling_server.switchboard import Listener, Switchboard


@dataclass
class Fleet:
    """Credentials provisioned for a simulated or demo fleet: kiosk tokens and officer passwords."""

    kiosk_tokens: dict[str, str] = field(default_factory=dict)
    officer_passwords: dict[str, str] = field(default_factory=dict)


def provision(
    store: Store,
    config: AppConfig,
    *,
    kiosk_ids: list[str],
    officers: list[str],
    password: str | None = None,
    role: str = "officer",
) -> Fleet:
    """Issue kiosk tokens and create officer accounts serving every remote department (primary)."""
    fleet = Fleet()
    auth = Authenticator(store, session_ttl_s=config.server.session_ttl_s)
    for kiosk_id in kiosk_ids:
        fleet.kiosk_tokens[kiosk_id] = auth.issue_kiosk_token(kiosk_id)
    skills = {d.id: "primary" for d in config.departments if d.remote}
    # One argon2 hash for the whole simulated fleet: hashing is deliberately slow.
    shared = password or secrets.token_urlsafe(12)
    shared_hash = hash_password(shared)
    for name in officers:
        if store.officer(name) is None:
            store.add_officer(name, name, role, shared_hash, skills)
        fleet.officer_passwords[name] = shared
    return fleet


class EmbeddedServer:
    """``async with EmbeddedServer(config, db) as server:`` serves on ``server.url`` until the block ends.
    The switchboard runs on ``clock`` and tells ``listeners`` what happens (see ``create_app``)."""

    def __init__(
        self,
        config: AppConfig,
        database: str | Path = ":memory:",
        *,
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
        listeners: Iterable[Listener] = (),
    ):
        self.config = config
        self.store = Store(database)
        self.app = create_app(config, self.store, clock=clock, listeners=listeners)
        self.port = port
        self._ssl = ssl_context
        self._runner: GuardedRunner | None = None
        self.url = ""

    @property
    def switchboard(self) -> Switchboard:
        return self.app[SWITCHBOARD]

    async def __aenter__(self) -> EmbeddedServer:
        self._runner = GuardedRunner(self.app, access_log=None)  # connection limits (limits.py)
        await self._runner.setup()
        backlog = self._runner.limits.listen_backlog
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl, backlog=backlog)
        await site.start()
        port = self._runner.addresses[0][1]
        scheme = "wss" if self._ssl else "ws"
        self.url = f"{scheme}://127.0.0.1:{port}/ws"
        self.http_url = f"{'https' if self._ssl else 'http'}://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
