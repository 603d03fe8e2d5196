"""A three-node cluster under fire, for the cluster chaos test (tests/cluster/test_chaos_cluster.py).

Real parts only: ``madoguchi-server`` node processes (``ClusterNode``) sharing one database and one Redis,
link proxies (``LinkProxy``: a tiny loopback TCP forwarder per client whose connections a fault aborts,
RST on both sides) and the fault schedule (``Chaos``): kill -9 of the leader or of a follower, a SIGTERM
drain, a Redis restart on the same socket, a client's link cut. Each fault waits until the cluster leads
again before the next one starts (one outage at a time). The parties that place and answer the calls are
in ``devtools.cluster_parties``.

Engines (Redis, haproxy, PostgreSQL) are the tests' fixtures; this module only needs their start/stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp

START_TIMEOUT = 120.0  # a node process under a load average of 35 on 2 cores took more than 40 s
LEADER_TIMEOUT = 60.0
KINDS = ("kill_leader", "kill_follower", "drain", "redis_restart", "link_cut")

# The nodes' log level: CHAOS_NODE_LOG_LEVEL=DEBUG to follow a run's calls in the node logs.
NODE_LOG_LEVEL = os.environ.get("CHAOS_NODE_LOG_LEVEL", "WARNING")


class Engine(Protocol):
    """What the rig needs of Redis (tests/cluster/conftest.py ``RedisServer``)."""

    async def start(self) -> None: ...

    async def stop(self, *, kill: bool = False) -> None: ...


class ClusterNode:
    """One ``madoguchi-server`` process of the shared configuration (``--node-id``, ``--port``); its output
    kept across restarts for the diagnosis."""

    def __init__(self, node_id: str, config_path: Path, port: int) -> None:
        # Written as it runs (a hung run keeps it), under $CHAOS_LOG_DIR if set (pytest prunes tmp_path).
        logs = Path(os.environ.get("CHAOS_LOG_DIR") or config_path.parent)
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{node_id}.log"
        self.node_id = node_id
        self.config_path = config_path
        self.port = port
        self.url = f"ws://127.0.0.1:{port}/ws"
        self.http = f"http://127.0.0.1:{port}"
        self.output: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self._reader: asyncio.Task[None] | None = None
        self._lines = asyncio.Condition()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        env = dict(os.environ, MADOGUCHI_MAX_CONNECTIONS_PER_ADDRESS="0")  # behind haproxy: one address
        self.starts += 1
        self.output.append(f"---- start {self.starts}")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "signaling_server.cli", "--config", str(self.config_path),
            "--node-id", self.node_id, "--port", str(self.port), "--log-level", NODE_LOG_LEVEL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
        )  # fmt: skip
        assert self.proc.stdout is not None
        mark = len(self.output)
        self._reader = asyncio.create_task(self._read(self.proc.stdout))
        try:
            await self.logged("Running on", START_TIMEOUT, after=mark)
        except BaseException:
            await self.kill()
            raise

    async def _read(self, stdout: asyncio.StreamReader) -> None:
        while line := (await stdout.readline()).decode(errors="replace"):
            self.output.append(line.rstrip())
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(line)
            async with self._lines:
                self._lines.notify_all()
        self.output.append("---- exited")
        async with self._lines:
            self._lines.notify_all()

    async def logged(self, text: str, timeout: float, *, after: int = 0) -> str:
        """The first line of its output (from index ``after``) containing ``text``, once written."""

        def found() -> str | None:
            seen = next((line for line in self.output[after:] if text in line), None)
            if seen is None and self.output[-1:] == ["---- exited"]:
                raise RuntimeError(f"{self.node_id} exited: " + "\n".join(self.output[-15:]))
            return seen

        async with self._lines:
            return await asyncio.wait_for(self._lines.wait_for(found), timeout)  # type: ignore[arg-type]

    async def _wait(self, timeout: float) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if self._reader is not None:
            await self._reader
        return code

    async def kill(self) -> None:
        """kill -9: no goodbye to anyone."""
        if self.running:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            await self._wait(START_TIMEOUT)

    async def drain(self) -> int:
        """SIGTERM: notice, clients told to go, exit; its exit status (0 when the drain went well)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await self._wait(START_TIMEOUT)

    async def health(self) -> dict[str, Any] | None:
        if not self.running:
            return None
        try:
            timeout = aiohttp.ClientTimeout(total=5)
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.get(f"{self.http}/healthz") as response,
            ):
                return dict(json.loads(await response.text()))
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            return None


class Cluster:
    """The nodes, and who leads them (asked of each node's /healthz)."""

    def __init__(self, nodes: Sequence[ClusterNode]) -> None:
        self.nodes = {node.node_id: node for node in nodes}

    async def leader(self) -> str | None:
        """The node whose /healthz says it leads now (None during a hand-over)."""
        answers = await asyncio.gather(*(node.health() for node in self.nodes.values()))
        leading = [a["cluster"]["node"] for a in answers if a and a.get("cluster", {}).get("leader")]
        return leading[0] if len(leading) == 1 else None

    async def await_leader(self, timeout: float = LEADER_TIMEOUT) -> str:
        """Who leads, once some node does: each try after a node has logged a change of leader."""
        deadline = time.monotonic() + timeout
        while True:
            marks = {node_id: len(node.output) for node_id, node in self.nodes.items()}
            leader = await self.leader()
            if leader is not None:
                return leader
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no node has led for {timeout} s: " + self.tails())
            changes = [
                asyncio.ensure_future(node.logged("leader is now", left, after=marks[node_id]))
                for node_id, node in self.nodes.items()
                if node.running
            ] + [
                asyncio.ensure_future(node.logged("leads the switchboard", left, after=marks[node_id]))
                for node_id, node in self.nodes.items()
                if node.running
            ]
            if not changes:
                raise RuntimeError("no node is running")
            _done, pending = await asyncio.wait(changes, return_when=asyncio.FIRST_COMPLETED)
            for waiter in pending:
                waiter.cancel()
            await asyncio.gather(*changes, return_exceptions=True)

    async def start(self) -> str:
        """Every node, one after the other (the first one takes the lease); the leader."""
        for node in self.nodes.values():
            await node.start()
        return await self.await_leader()

    async def close(self) -> None:
        await asyncio.gather(*(node.kill() for node in self.nodes.values()))

    def tails(self, lines: int = 12) -> str:
        return "\n".join(
            f"[{node_id}]\n" + "\n".join(node.output[-lines:]) for node_id, node in self.nodes.items()
        )


class LinkProxy:
    """A client's own link: a loopback TCP forwarder to ``upstream_port``; ``cut`` aborts every connection
    through it (both sides see a reset) and refuses new ones for ``hold_s``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.down = False
        self.cuts = 0
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> LinkProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        link = (writer, up_writer)
        self._links.add(link)
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)
        finally:
            self._links.discard(link)
            for end in link:
                end.transport.abort()

    @property
    def connections(self) -> int:
        return len(self._links)

    def cut(self, hold_s: float) -> int:
        """Cut the link now; it comes back after ``hold_s``. How many connections it cut."""
        self.cuts += 1
        self.down = True
        cut = list(self._links)
        for ends in cut:
            for end in ends:
                end.transport.abort()
        asyncio.get_running_loop().call_later(hold_s, self._restore)
        return len(cut)

    def _restore(self) -> None:
        self.down = False

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for ends in list(self._links):
            for end in ends:
                end.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


def fault_schedule(rng: random.Random, kinds: Sequence[str], count: int) -> list[str]:
    """``count`` faults in random order, every kind among the first ones (shuffled), as the single-node
    chaos test schedules them: a short run still has each kind."""
    first = rng.sample(list(kinds), len(kinds))
    return first + [rng.choice(list(kinds)) for _ in range(max(0, count - len(first)))]


@dataclass
class Fault:
    kind: str
    target: str
    at_s: float  # since the chaos began
    detail: str = ""


@dataclass
class Chaos:
    """Faults at seeded random times until ``done`` (the calls are over) or the schedule ends."""

    cluster: Cluster
    redis: Engine
    links: dict[str, LinkProxy]  # a client's name -> its link
    rng: random.Random
    gap_s: tuple[float, float] = (1.0, 3.0)
    down_s: tuple[float, float] = (0.5, 2.0)
    faults: list[Fault] = field(default_factory=list)
    began: float = field(default_factory=time.monotonic)

    def by_kind(self) -> dict[str, int]:
        counts = Counter(f.kind for f in self.faults)
        return {kind: counts.get(kind, 0) for kind in KINDS}

    async def run(self, count: int, done: asyncio.Event) -> None:
        self.began = time.monotonic()
        for index, kind in enumerate(fault_schedule(self.rng, KINDS, count)):
            with contextlib.suppress(TimeoutError):  # the calm before the fault (the scenario's timing)
                await asyncio.wait_for(done.wait(), self.rng.uniform(*self.gap_s))
            if done.is_set() and index >= len(KINDS):
                return  # every kind has happened and the calls are over
            await self.inject(kind)

    async def inject(self, kind: str) -> None:
        handler = {
            "kill_leader": self._kill_leader,
            "kill_follower": self._kill_follower,
            "drain": self._drain,
            "redis_restart": self._redis_restart,
            "link_cut": self._link_cut,
        }[kind]
        await handler(kind)
        await self.cluster.await_leader()  # one outage at a time: the next fault finds a leader

    def _note(self, kind: str, target: str, detail: str = "") -> None:
        self.faults.append(Fault(kind, target, round(time.monotonic() - self.began, 1), detail))

    async def _down_for_a_moment(self) -> None:
        await asyncio.sleep(self.rng.uniform(*self.down_s))  # how long the part stays down (scenario)

    async def _kill(self, kind: str, node_id: str) -> None:
        node = self.cluster.nodes[node_id]
        await node.kill()
        self._note(kind, node_id)
        await self._down_for_a_moment()
        await node.start()

    async def _kill_leader(self, kind: str) -> None:
        await self._kill(kind, await self.cluster.await_leader())

    async def _kill_follower(self, kind: str) -> None:
        leader = await self.cluster.await_leader()
        await self._kill(kind, self.rng.choice(sorted(set(self.cluster.nodes) - {leader})))

    async def _drain(self, kind: str) -> None:
        leader = await self.cluster.await_leader()
        node_id = self.rng.choice(sorted(self.cluster.nodes))
        node = self.cluster.nodes[node_id]
        code = await node.drain()
        role = "leader" if node_id == leader else "follower"
        self._note(kind, node_id, f"{role}, exit {code}")
        if code != 0:
            raise AssertionError(f"draining {node_id} ended with {code}: " + "\n".join(node.output[-15:]))
        await node.start()

    async def _redis_restart(self, kind: str) -> None:
        await self.redis.stop(kill=True)
        self._note(kind, "redis")
        await self._down_for_a_moment()
        await self.redis.start()

    async def _link_cut(self, kind: str) -> None:
        active = sorted(name for name, link in self.links.items() if link.connections)
        name = self.rng.choice(active or sorted(self.links))  # a link in use, unless none is
        cut = self.links[name].cut(self.rng.uniform(*self.down_s))
        self._note(kind, name, f"{cut} connection(s)")
