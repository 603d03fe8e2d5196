"""Fixtures shared by the whole suite: an embedded server with provisioned kiosks and officers."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
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


# ./run-tests runs this suite on two pytest-xdist workers. These modules run several media peers each
# (aiortc encoders, Chromium, a chaos run's node processes) and wait for frames: two of them at once on
# 2 cores starved a call's link for 5 s (a guest test, 2026-12-04), so they go to one worker, one after
# the other, as a single unit of work; the other worker takes the rest of the suite beside them.
MEDIA_HEAVY = (
    "tests/guests/",
    "tests/interpreters/test_browser_interpreter.py",
    "tests/business/test_browser_",
    "tests/chaos/",
    "tests/cluster/test_chaos_cluster.py",
    "tests/remote_call/test_three_way",
    "tests/remote_call/test_browser_peer.py",
    "tests/simulator/test_business_sim.py",
    "tests/simulator/test_three_way_bench.py",
    "tests/simulator/test_load.py",
)


def media_apart_scope(nodeid: str) -> str:
    """The unit of work a test belongs to: every media-heavy test one, each other test its own."""
    return "media-heavy" if nodeid.startswith(MEDIA_HEAVY) else nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` as ./run-tests asks it: xdist's own groups by an ``xdist_group`` mark, which
    pytest-xdist 3.8 can no longer see under pytest 9 (it renames ``item._nodeid``, no longer read)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class MediaApart(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return media_apart_scope(nodeid)

    return MediaApart(config, log)


SUMMARY = "run summary"
_summaries: list[str] = []


@pytest.fixture
def run_summary(record_property) -> Callable[[str], None]:
    """``run_summary(line)``: a line for the end of the run's output, passed or not (the chaos tests' counts).
    It travels in the test's report, so it reaches the terminal from an xdist worker too, where a print
    with capture disabled is lost."""
    return lambda line: record_property(SUMMARY, line)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _summaries.extend(str(value) for name, value in report.user_properties if name == SUMMARY)


def pytest_terminal_summary(terminalreporter) -> None:
    if _summaries:
        terminalreporter.section("run summaries")
        for line in dict.fromkeys(_summaries):  # a report per phase carries the same properties
            terminalreporter.write_line(line)


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
