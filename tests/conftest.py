"""Fixtures shared by the whole suite: an embedded server with provisioned kiosks and officers."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from argon2 import PasswordHasher

from devtools.stall_report import report_stalled_tasks  # noqa: F401 (autouse: tasks' stacks before a time-out)
from remote_call.session import restrict_to_loopback
from signaling_server import auth
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


class OnceEach(PasswordHasher):
    """argon2 as the server uses it, each password hashed and each right password checked once a session.

    argon2 is slow on purpose: 150 ms a hash and 144 ms a check here, and every server the tests build
    hashed the same password twice (16 % of the CPU of tests/signaling_server in a py-spy profile). The
    answers are argon2's own, only not recomputed; a wrong password is checked (and refused) every time."""

    def __init__(self) -> None:
        super().__init__()
        self._hashes: dict[str, str] = {}
        self._right: set[tuple[str, str]] = set()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        if salt is not None or not isinstance(password, str):
            return super().hash(password, salt=salt)
        if password not in self._hashes:
            self._hashes[password] = super().hash(password)
        return self._hashes[password]

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        key = (str(hash), str(password))
        if key not in self._right:
            super().verify(hash, password)  # raises for a wrong password
            self._right.add(key)
        return True


@pytest.fixture(scope="session", autouse=True)
def argon2_once_each():
    real = auth._hasher
    auth._hasher = OnceEach()
    yield
    auth._hasher = real


@pytest.fixture
def make_server(tmp_path: Path, request):
    """A factory: ``async with make_server(**server_overrides) as srv`` (srv.fleet has the credentials).
    Its records are in ``tmp_path``'s SQLite file; with MADOGUCHI_TEST_ENGINE=postgresql in a new
    PostgreSQL database instead (the server-level suites on the other engine; docs/deployment-cluster.md)."""
    database: str | Path = tmp_path / "madoguchi.sqlite3"
    if os.environ.get("MADOGUCHI_TEST_ENGINE") == "postgresql":
        database = request.getfixturevalue("postgres_url")

    def factory(config=None, *, clock=time.time, listeners=(), **overrides) -> EmbeddedServer:
        config = config or test_config(**overrides)
        server = EmbeddedServer(config, database, clock=clock, listeners=listeners)
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


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throw-away PostgreSQL cluster for the whole run (devtools/postgres_engine.py), started on first
    use and stopped at the end; skipped only when PostgreSQL is not installed, with the reason."""
    from devtools.postgres_engine import missing_reason, running_cluster

    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster) -> Iterator[str]:
    """A new empty database in the session's cluster, dropped after the test."""
    url = postgres_cluster.create_database()
    yield url
    postgres_cluster.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_target(request, tmp_path: Path) -> str:
    """``server.database`` for a test that runs on both engines: a SQLite file, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "madoguchi.sqlite3")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_db(request):
    """An opened, migrated record database on each engine (SQLite in memory, or a new PostgreSQL one)."""
    from signaling_server.db import open_database

    target = ":memory:" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    db = open_database(target)
    yield db
    db.close()
