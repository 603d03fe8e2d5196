"""Fixtures shared by the whole suite: an embedded server with provisioned kiosks and officers."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from remote_call.session import restrict_to_loopback
from signaling_server.auth import hash_password
from signaling_server.embedded import EmbeddedServer, provision
from signaling_server.testing import test_config

KIOSKS = ["kiosk-ueda", "kiosk-tonan", "kiosk-tamayama"]
OFFICERS = ["hanako", "jiro"]
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session", autouse=True)
def loopback_media():
    """Media in tests stays on 127.0.0.1: every peer connection (ours and bare aiortc ones) gathers only the
    loopback host candidate, and processes the tests start follow through MADOGUCHI_MEDIA_LOOPBACK=1."""
    restrict_to_loopback()
    yield
    restrict_to_loopback(False)


@pytest.fixture
def make_server(tmp_path: Path):
    """A factory: ``async with make_server(**server_overrides) as srv`` (srv.fleet has the credentials)."""

    def factory(config=None, *, clock=time.time, listeners=(), **overrides) -> EmbeddedServer:
        config = config or test_config(**overrides)
        server = EmbeddedServer(config, tmp_path / "madoguchi.sqlite3", clock=clock, listeners=listeners)
        server.fleet = provision(server.store, config, kiosk_ids=KIOSKS, officers=OFFICERS, password=PASSWORD)
        # An officer serving one department only, for authorisation tests.
        server.store.add_officer(
            "kenji", "健康 賢治", "officer", hash_password(PASSWORD), {"kenko-hoken": "primary"}
        )
        return server

    return factory


@pytest.fixture
async def server(make_server) -> AsyncIterator[EmbeddedServer]:
    async with make_server() as srv:
        yield srv
