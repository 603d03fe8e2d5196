"""A throw-away PostgreSQL cluster for tests and benchmarks: initdb in a temporary directory, listening
only on a unix socket in that directory, stopped and deleted afterwards.

PostgreSQL refuses to run as root, so under root the cluster belongs to the ``postgres`` system user
(Debian's package makes it) and its directory is handed over to it; the tests connect over the socket
as the cluster's superuser, with trust authentication (nothing but this machine can reach the socket).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

SUPERUSER = "postgres"


def find_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on the PATH, or Debian's versioned directory (newest first)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def missing_reason() -> str | None:
    """Why no cluster can be started here, or None."""
    bin_dir = find_bin_dir()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        return "PostgreSQL is not installed (no initdb, pg_ctl): scripts/bootstrap.sh installs it"
    try:
        import psycopg  # noqa: F401  (the cluster extra)
    except ImportError:
        return "psycopg is not installed (pip install -e '.[cluster]'; scripts/bootstrap.sh does)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            return "running as root and there is no 'postgres' system user to run PostgreSQL as"
    return None


class PostgresCluster:
    def __init__(self, *, durable: bool = False) -> None:
        """``durable``: keep fsync (a benchmark); tests run without it (nothing outlives them)."""
        bin_dir = find_bin_dir()
        assert bin_dir is not None, missing_reason()
        self._bin = bin_dir
        self._durable = durable
        self.dir = Path(tempfile.mkdtemp(prefix="madoguchi-pg-"))
        self.data = self.dir / "data"
        self._names = itertools.count(1)
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam(SUPERUSER)
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", SUPERUSER, "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run(
            str(self._bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8"
        )
        self.start_server()

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data (``pg_ctl stop -m fast``: a database going away under the
        nodes, tests/db/test_database_down.py); ``start_server`` brings it back."""
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def start_server(self) -> None:
        options = [
            "-c listen_addresses=''",  # no TCP at all: the socket in our directory only
            f"-c unix_socket_directories='{self.dir}'",
            "-c max_connections=200",
            "-c synchronous_commit=off",  # as the SQLite store's synchronous=NORMAL: no wait per commit
        ]
        if not self._durable:
            options += ["-c fsync=off", "-c full_page_writes=off"]
        # pg_ctl -w returns once the server accepts connections (or fails): no polling of ours.
        self._run(
            str(self._bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
            "-o", " ".join(options), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.dir}"

    def create_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.split("@/", 1)[1].split("?", 1)[0]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def running_cluster(*, durable: bool = False) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster(durable=durable)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
