"""The signaling server of a load run: ``madoguchi-server`` in a child process with a temporary
configuration and database (credentials provisioned into it first), its memory and CPU sampled."""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from config import load_config
from config.loader import default_config_path
from config.schema import AppConfig
from simulator.load.options import LoadOptions

if TYPE_CHECKING:
    from signaling_server.embedded import Fleet


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (inherited by child processes); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


_HANDED_OUT: set[int] = set()  # ports this process chose for its servers: never the same twice


def free_port(bind: Callable[[], int] | None = None) -> int:
    """A loopback port nothing listens on now, and none this process chose before. The kernel may answer
    two binds to port 0 with the same port once the first socket is closed: two nodes of one run were
    given one port (2026-12-04), the second could not bind and died, the first answered for both, and the
    run went on with two nodes."""
    bind = bind or _bind_any_port
    while True:
        port = bind()
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def _bind_any_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answered_by(health: dict[str, Any], node_id: str | None, port: int) -> None:
    """Raise when another node answered on ``port``'s /healthz than ``node_id`` (the port was not its own)."""
    answered = health.get("cluster", {}).get("node")
    if node_id is not None and answered is not None and answered != node_id:
        raise RuntimeError(f"port {port} is served by {answered}, not by {node_id}: two nodes were given it")


_ALL_DAY = '["00:00-24:00"]'
_OPEN_ALWAYS = (
    "hours = { "
    + ", ".join(f"{d} = {_ALL_DAY}" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    + ", closed_on_public_holidays = false, closed_new_year = false, last_join_minutes_before_close = 0 }"
)


def load_config_text(
    base_text: str, *, port: int, database: str, always_open: bool = True, max_queue: int = 10_000
) -> str:
    """The base TOML adjusted for a load run: [server] port and database, every department open all day
    (unless ``always_open`` is false) and a queue long enough for the whole fleet."""
    lines = base_text.splitlines()
    out: list[str] = []
    table = ""
    server_seen = False
    for line in lines:
        stripped = line.strip()
        header = re.match(r"^\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?", stripped)
        if header:
            table = header.group(1)
            out.append(line)
            if stripped == "[server]":
                server_seen = True
                out.append(f"port = {port}")
                out.append(f"database = {json.dumps(database)}")
            elif stripped == "[[departments]]":
                out.append(f"max_queue = {max_queue}")
                if always_open:
                    out.append(_OPEN_ALWAYS)
            continue
        if table == "server" and re.match(r"^(port|database)\s*=", stripped):
            continue
        if table == "departments" and re.match(r"^max_queue\s*=", stripped):
            continue
        if always_open and table == "departments" and re.match(r"^hours\s*=", stripped):
            continue
        if always_open and table.startswith("departments.hours"):
            raise ValueError(
                "the base configuration has a [departments.hours] table; write hours inline "
                "or run with --respect-hours"
            )
        out.append(line)
    if not server_seen:  # a [server] table goes before the first table (after the top-level keys)
        first = next((i for i, ln in enumerate(out) if ln.strip().startswith("[")), len(out))
        out[first:first] = ["[server]", f"port = {port}", f"database = {json.dumps(database)}", ""]
    return "\n".join(out) + "\n"


class City:
    """The run's configuration file and database, with the fleet's credentials provisioned into it; shared
    by every node of a multi-node run (``redis_url``: the nodes' ``[server.cluster]``)."""

    def __init__(
        self,
        workdir: Path,
        options: LoadOptions,
        kiosk_ids: list[str],
        officers: list[str],
        redis_url: str | None = None,
        database: str | None = None,
    ):
        """``database``: a ``postgresql://`` URL (``--database postgres``), else a SQLite file here."""
        self.workdir = workdir
        self.options = options
        self.port = free_port()
        self.database = database or str(workdir / "load.sqlite3")
        self.config_file = workdir / "load.toml"
        base = Path(options.config_path) if options.config_path else default_config_path()
        text = load_config_text(
            base.read_text(encoding="utf-8"),
            port=self.port,
            database=self.database,
            always_open=not options.respect_hours,
            max_queue=options.max_queue,
        )
        if redis_url is not None:  # one file for every node: --node-id and --port tell them apart
            text += f'\n[server.cluster]\nredis_url = {json.dumps(redis_url)}\nnode_id = "node-1"\n'
            if options.lease_ttl_s is not None:
                text += f"lease_ttl_s = {options.lease_ttl_s}\n"
        self.config_file.write_text(text, encoding="utf-8")
        self.config: AppConfig = load_config(self.config_file)
        self.kiosk_ids = kiosk_ids
        self.officer_names = officers
        self.officer_sessions: dict[str, str] = {}  # officer_auth "session": username -> session token
        self.credentials = self._provision()

    def _provision(self) -> Fleet:
        from signaling_server.auth import new_token, token_hash
        from signaling_server.embedded import provision
        from signaling_server.store import Store

        store = Store(self.database)
        try:
            fleet = provision(store, self.config, kiosk_ids=self.kiosk_ids, officers=self.officer_names)
            if self.options.officer_auth == "session":  # as a console reconnecting after its first sign-in
                expires = time.time() + self.config.server.session_ttl_s
                for name in self.officer_names:
                    token = new_token()
                    store.add_session(token_hash(token), name, expires)
                    self.officer_sessions[name] = token
            return fleet
        finally:
            store.close()


class ServerProcess:
    """`madoguchi-server` in a child process over the city's config and database (one node of several when
    ``node_id`` is given); its RSS and CPU are sampled."""

    def __init__(self, city: City, *, node_id: str | None = None, port: int | None = None):
        self.city = city
        self.workdir = city.workdir
        self.options = city.options
        self.node_id = node_id
        self.port = port or city.port
        self.database = city.database
        self.config_file = city.config_file
        self.config: AppConfig = city.config
        self.kiosk_ids = city.kiosk_ids
        self.officer_names = city.officer_names
        self.officer_sessions = city.officer_sessions
        self.credentials = city.credentials
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.http = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.ps: psutil.Process | None = None
        self.samples: list[tuple[float, int, float]] = []  # (monotonic, rss bytes, cpu seconds)
        self._stop_sampling = threading.Event()
        self._sampler: threading.Thread | None = None
        self.log_file = city.workdir / (f"server-{node_id}.log" if node_id else "server.log")
        self.killed = False  # kill -9 by the run (--kill-node-at)

    def start(self, timeout_s: float = 30.0) -> None:
        self.launch()
        self.wait_ready(timeout_s)

    def launch(self) -> None:
        """Start the process; ``wait_ready`` waits for it to serve."""
        log = open(self.log_file, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        # Through the hygiene launcher: its own process group, killed by the kernel if the simulator dies.
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulator.load.hygiene",
                str(os.getpid()),
                "-m",
                "signaling_server.cli",
                "--config",
                str(self.config_file),
                "--port",
                str(self.port),
                "--database",
                self.database,
                "--log-level",
                "WARNING",
                *(["--node-id", self.node_id] if self.node_id else []),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=self._environment(),
            process_group=0,
        )
        self.ps = psutil.Process(self.proc.pid)
        self._sampler = threading.Thread(
            target=self._sample, args=(self.ps,), name=f"server-rss {self.node_id or ''}", daemon=True
        )
        self._sampler.start()

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.proc.returncode}: {self.log_tail()}")
            with contextlib.suppress(OSError):
                health = self.health()
                answered_by(health, self.node_id, self.port)
                return
            time.sleep(0.05)  # polling a child process's port, not test synchronisation
        raise RuntimeError(f"the server did not answer /healthz within {timeout_s:.0f} s: {self.log_tail()}")

    def _environment(self) -> dict[str, str]:
        """The connection guard's caps opened for the fleet: every client comes from 127.0.0.1, and the
        descriptor budget (simulator.load.hygiene) was checked up front."""
        clients = len(self.kiosk_ids) + len(self.officer_names)
        return {
            **os.environ,
            "MADOGUCHI_MAX_CONNECTIONS_PER_ADDRESS": "0",
            "MADOGUCHI_MAX_CONNECTIONS": str(clients + 64),
        }

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.http}/healthz", timeout=5) as response:
            return json.loads(response.read())

    def rss_mb(self) -> float:
        with contextlib.suppress(psutil.Error):
            return self.ps.memory_info().rss / 2**20 if self.ps else 0.0
        return 0.0

    def cpu_s(self) -> float:
        """Its CPU time so far; the last sample once it has died (a killed node)."""
        if not self.ps:
            return 0.0
        try:
            times = self.ps.cpu_times()
        except psutil.Error:
            return self.samples[-1][2] if self.samples else 0.0
        return times.user + times.system

    def kill(self) -> None:
        """kill -9, as a machine lost: nothing is saved, no client is told."""
        if self.proc is not None and self.proc.poll() is None:
            self.killed = True
            self.proc.kill()
            self.proc.wait()

    def _sample(self, ps: psutil.Process) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                times = ps.cpu_times()
                self.samples.append((time.monotonic(), ps.memory_info().rss, times.user + times.system))
            if self._stop_sampling.wait(0.1):
                return

    def peak_rss_mb(self, start: float = 0.0, end: float = float("inf")) -> float:
        """The highest RSS sampled between two monotonic times (MiB)."""
        return max((rss for t, rss, _ in self.samples if start <= t <= end), default=0) / 2**20

    def cpu_percent(self, start: float, end: float) -> float | None:
        """The server's CPU use between two monotonic times, in % of one core."""
        window = [(t, cpu) for t, _, cpu in self.samples if start <= t <= end]
        if len(window) < 2 or window[-1][0] <= window[0][0]:
            return None
        return 100 * (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])

    def log_tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log_file.read_text(errors="replace")[-chars:]
        return ""

    def stop(self) -> int | None:
        self._stop_sampling.set()
        if self._sampler:
            self._sampler.join()
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    code = self.proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    code = self.proc.wait()
            else:
                code = self.proc.returncode
        with contextlib.suppress(Exception):
            self._log.close()
        return code
