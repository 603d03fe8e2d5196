"""The server side of a multi-node load run (``--nodes N``): one redis-server and N node processes.

- **Redis**: Debian's ``redis-server`` on a unix socket in the run's temporary directory (no TCP listener,
  no persistence), as the cluster tests run it, with the pub/sub output buffer the deployment guide advises.
- **The database**: one SQLite file shared by every node. docs/deployment-cluster.md allows it on one
  machine (nodes side by side on one file, WAL); only the leader writes calls and the queue, the others
  read credentials. ``--database postgres``: a throw-away PostgreSQL instead (``simulator.load.postgres``).
- **The nodes**: ``madoguchi-server`` over one configuration file with ``[server.cluster]``, each with its
  own ``--node-id`` and ``--port``, started together: the first to take the lease leads.
- Every process is started through ``simulator.load.hygiene`` (its own process group, killed by the kernel
  if the simulator dies), from the main thread (PR_SET_PDEATHSIG follows the thread that started it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

from simulator.load.server import City, ServerProcess, free_port

log = logging.getLogger(__name__)

REDIS = shutil.which("redis-server")
POLL_S = 0.05  # polling a child process's socket while it starts, not test synchronisation


class RedisProcess:
    """redis-server on 127.0.0.1 (the nodes' ``url``, TCP as between machines: a unix socket's send buffer,
    some 200 KB, would bound what a node reads of a batch per turn of its loop: bench/bench_wide_reads.py)
    and on ``workdir/redis.sock`` (the readiness check)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.socket = workdir / "redis.sock"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_file = workdir / "redis.log"

    def start(self, timeout_s: float = 90.0) -> None:  # the launcher's imports on a busy machine
        if REDIS is None:
            raise RuntimeError(
                "--nodes needs redis-server (Debian package redis-server; scripts/bootstrap.sh)"
            )
        with open(self.log_file, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "simulator.load.hygiene", str(os.getpid()), "--exec", REDIS,
                    "--bind", "127.0.0.1", "--port", str(self.port),
                    "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                    "--save", "", "--appendonly", "no", "--dir", str(self.workdir), "--maxclients", "1000",
                    # as docs/deployment-cluster.md advises: a subscription was 40 MB behind after a
                    # failover at 20,000 kiosks, past the default 32 MB at which Redis drops it
                    "--client-output-buffer-limit", "pubsub", "256mb", "64mb", "60",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with code {self.proc.returncode}: {self._log_tail()}"
                )
            if self.socket.exists():
                with contextlib.suppress(redis.RedisError, OSError):
                    client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2)
                    try:
                        if client.ping():
                            return
                    finally:
                        client.close()
            time.sleep(POLL_S)
        raise RuntimeError(f"redis-server did not answer within {timeout_s:.0f} s: {self._log_tail()}")

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_file.read_text(errors="replace")[-1000:]
        return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Nodes:
    """The node processes of one run, their leader, and the one ``kill`` takes down."""

    def __init__(self, city: City, count: int) -> None:
        self.servers = [
            ServerProcess(city, node_id=f"node-{i + 1}", port=city.port if i == 0 else free_port())
            for i in range(count)
        ]
        self.killed: dict[str, Any] | None = None  # which node, its role, when (monotonic)

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def start(self, timeout_s: float = 120.0) -> None:  # three imports at once on a busy machine
        """All at once (whichever takes the lease first leads), then until every node names the leader."""
        for server in self.servers:
            server.launch()
        for server in self.servers:
            server.wait_ready(timeout_s)
            log.info("load: node %s serves on port %d", server.node_id, server.port)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            leaders = {self._cluster(s).get("leader_node") for s in self.servers}
            if len(leaders) == 1 and None not in leaders:
                return
            time.sleep(POLL_S)
        raise RuntimeError(f"the nodes did not agree on a leader within {timeout_s:.0f} s")

    def _cluster(self, server: ServerProcess) -> dict[str, Any]:
        with contextlib.suppress(OSError, ValueError):
            return server.health().get("cluster", {})
        return {}

    def leader(self) -> ServerProcess | None:
        return next((s for s in self.alive() if self._cluster(s).get("leader")), None)

    def alive(self) -> list[ServerProcess]:
        return [s for s in self.servers if s.proc is not None and s.proc.poll() is None]

    def health(self) -> dict[str, Any]:
        """The leader's /healthz: its switchboard holds every node's clients (relayed ones too)."""
        leader = self.leader()
        return leader.health() if leader is not None else {}

    def kill(self, which: str, at_run_s: float) -> None:
        """kill -9 of the leader or of a follower (the last alive that does not lead)."""
        leader = self.leader()
        if which == "leader":
            victim = leader
        else:
            victim = next((s for s in reversed(self.alive()) if s is not leader), None)
        if victim is None:
            raise RuntimeError(f"no {which} node to kill")
        victim.kill()
        self.killed = {"node": victim.node_id, "role": which, "at_s": round(at_run_s, 2), "wall": time.time()}

    def stop(self) -> list[tuple[ServerProcess, int | None]]:
        for server in self.alive():  # all at once: each drains its own clients
            server.proc.terminate()  # type: ignore[union-attr]
        return [(s, s.stop()) for s in self.servers]

    def figures(self) -> list[dict[str, Any]]:
        """Per node: its peak RSS (MiB) and CPU seconds (sampled to the end, or to its death)."""
        return [
            {
                "node": s.node_id,
                "port": s.port,
                "killed": s.killed,
                "rss_mb": round(s.peak_rss_mb(), 1),
                "cpu_s": round(max((cpu for _t, _rss, cpu in s.samples), default=0.0), 2),
            }
            for s in self.servers
        ]
