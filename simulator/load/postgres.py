"""The records of a load run in PostgreSQL (``--database postgres``), where docs/deployment-cluster.md puts
a multi-node city's: a throw-away cluster in the run's directory.

- ``initdb`` into ``<workdir>/pg/data`` (trust authentication: only the socket's directory can reach it);
- ``postgres`` in the foreground, started through ``simulator.load.hygiene`` like redis-server and the
  nodes, so that it dies with the simulator even after a SIGKILL of it; it listens on a unix socket in
  ``<workdir>/pg`` and on no TCP port;
- under root it runs as the ``postgres`` system user (PostgreSQL refuses root; Debian's package makes the
  user), and the run's directory is opened for traversal (mode 0711) so that it reaches its own.

A shared SQLite file (the default) keeps every write of every node behind one file lock: a node waits up
to ``busy_timeout`` (5 s) for another's write, in its event loop.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.postgres_engine import SUPERUSER, find_bin_dir, missing_reason

POLL_S = 0.1  # polling the new server's socket while it starts, not test synchronisation
DATABASE = "madoguchi"


class PostgresProcess:
    """``start()``, ``url`` for the nodes' ``server.database``, ``stop()``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.dir = workdir / "pg"
        self.data = self.dir / "data"
        self.log_file = workdir / "postgres.log"
        self.url = self._url(DATABASE)
        self.proc: subprocess.Popen | None = None
        self._as_root = os.geteuid() == 0

    def _url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.dir}"

    def start(self, timeout_s: float = 120.0) -> None:  # initdb and a first start on a busy machine
        reason = missing_reason()
        bin_dir = find_bin_dir()
        if reason is not None or bin_dir is None:
            raise RuntimeError(f"--database postgres: {reason}")
        self.dir.mkdir()
        if self._as_root:
            user = pwd.getpwnam(SUPERUSER)
            os.chmod(self.workdir, 0o711)
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", SUPERUSER, "--"] if self._as_root else []
        subprocess.run(
            [*as_user, str(bin_dir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
             "-E", "UTF8"],
            check=True, capture_output=True, timeout=timeout_s,
        )  # fmt: skip
        self._launch(bin_dir / "postgres")
        self._wait_ready(timeout_s)

    def _launch(self, postgres: Path) -> None:
        hygiene = [sys.executable, "-m", "simulator.load.hygiene", str(os.getpid())]
        if self._as_root:
            hygiene += ["--as-user", SUPERUSER]
        with open(self.log_file, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    *hygiene, "--exec", str(postgres), "-D", str(self.data),
                    "-c", "listen_addresses=", "-c", f"unix_socket_directories={self.dir}",
                    "-c", "max_connections=100",
                    "-c", "synchronous_commit=off",  # as the SQLite store's synchronous=NORMAL
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )  # fmt: skip

    def _wait_ready(self, timeout_s: float) -> None:
        import psycopg

        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with code {self.proc.returncode}: {self._log_tail()}")
            try:
                with psycopg.connect(self._url(SUPERUSER), autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE {DATABASE}")
                return
            except psycopg.OperationalError:
                time.sleep(POLL_S)
        raise RuntimeError(f"postgres did not answer within {timeout_s:.0f} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-1000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """A fast shutdown (SIGINT: sessions ended, no checkpoint wait); killed if it does not end."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
