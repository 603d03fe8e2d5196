"""Signaling-only load: thousands of raw-protocol kiosks and officers against one server process.

`madoguchi-sim --signaling-only` runs this. The signaling server runs as a separate process
(`python -m signaling_server.cli`) on a free loopback port with a temporary configuration and database
(credentials provisioned into it first). Kiosks and officers are lightweight websocket clients speaking the
wire protocol with plain JSON (no media, no pydantic on the receive path), spread over one or more worker
processes. Every call follows the real sequence: ``request_call`` → officer ``call_offer`` → ``accept_call``
→ both ``call_connecting`` → the kiosk sends an SDP offer (~3 KB), the officer answers, both send
``media_connected`` → ``call_started`` → after ``call_seconds`` the officer ends it → both ``call_ended``;
the officer then sets itself available again.

Timestamps are ``time.monotonic()`` (CLOCK_MONOTONIC, shared by every process on the machine), so a
request sent in one worker and the ring received in another give a valid routing time.

Modules: ``options`` (``LoadOptions``), ``server`` (the server process), ``clients`` (the lightweight
kiosks and officers), ``worker`` (one worker process), ``summary`` (the figures); this one runs it all.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from typing import Any

import psutil

from config.schema import CounterKind
from simulator.load.clients import fake_sdp
from simulator.load.cpu_window import CpuWindow
from simulator.load.hygiene import check_fd_budget, work_directory
from simulator.load.nodes import Nodes, RedisProcess
from simulator.load.options import LoadOptions
from simulator.load.postgres import PostgresProcess
from simulator.load.records import start_unheard, started_on_record
from simulator.load.routes import route
from simulator.load.server import City, ServerProcess, load_config_text, raise_fd_limit
from simulator.load.summary import RunRecord, nodes_summary, succeeded, summarise
from simulator.load.summary import percentiles as _percentiles
from simulator.load.worker import WorkerAssignment, worker_main

__all__ = [
    "LoadOptions",
    "_calls_per_kiosk",
    "_percentiles",
    "fake_sdp",
    "load_config_text",
    "run_load",
    "succeeded",
]

log = logging.getLogger(__name__)


def _split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


def _calls_per_kiosk(kiosk_ids: list[str], calls: int) -> dict[str, int]:
    n = len(kiosk_ids)
    return {k: calls // n + (1 if i < calls % n else 0) for i, k in enumerate(kiosk_ids)}


def run_load(options: LoadOptions) -> dict[str, Any]:
    """Start the server process (or redis-server and the nodes) and the workers, place every call, and
    summarise (see module doc)."""
    wall_start = time.monotonic()
    fd_limit = raise_fd_limit()
    check_fd_budget(options, fd_limit)  # before provisioning: a fleet that cannot fit is refused at once
    kiosk_ids = [f"load-kiosk-{i:05d}" for i in range(options.kiosks)]
    officer_names = [f"load-officer-{i:04d}" for i in range(options.officers)]
    with work_directory() as workdir:
        redis = RedisProcess(workdir) if options.nodes > 1 else None
        postgres = PostgresProcess(workdir) if options.database == "postgres" else None
        try:
            if redis is not None:
                redis.start()
            if postgres is not None:
                postgres.start()
            city = City(
                workdir,
                options,
                kiosk_ids,
                officer_names,
                redis.url if redis else None,
                postgres.url if postgres else None,
            )
            nodes = Nodes(city, options.nodes) if redis is not None else None
            server = nodes.servers[0] if nodes is not None else ServerProcess(city)
            run = _Run(server, options, kiosk_ids, officer_names, nodes)
            run.execute()
            calls = [c for r in run.record.results.values() for c in r["calls"]]
            killed_at = nodes.killed.get("wall") if nodes is not None and nodes.killed else None
            run.record.started_on_record = started_on_record(city.database, start_unheard(calls), killed_at)
        finally:
            for engine in (postgres, redis):  # the nodes are stopped by now (``_Run``)
                if engine is not None:
                    engine.stop()
    summary = summarise(options, server, run.record, fd_limit, wall_start)
    return {**summary, **nodes_summary(nodes, run.record)} if nodes is not None else summary


class _Run:
    """The worker processes of one run around the server process, and what they report."""

    def __init__(
        self,
        server: ServerProcess,
        options: LoadOptions,
        kiosk_ids: list[str],
        officers: list[str],
        nodes: Nodes | None = None,
    ):
        self.server = server
        self.nodes = nodes  # several nodes: ``server`` is the first of them
        self.options = options
        self.kiosk_ids = kiosk_ids
        self.officers = officers
        self.departments = sorted(
            d.id for d in server.config.departments if d.remote and d.kind is not CounterKind.ONE_STOP
        )
        if not self.departments:
            raise ValueError("the configuration has no remote one-to-one department to call")
        self.workers = min(options.worker_count(), options.kiosks)
        self.ctx = mp.get_context("spawn")
        self.report = self.ctx.Queue()
        self.start_calls, self.stop = self.ctx.Event(), self.ctx.Event()
        self.procs: list[Any] = []
        self.failed: dict[int, dict] = {}
        self.record = RunRecord()
        self.interrupted = False  # SIGINT / SIGTERM: stop the workers and the server without waiting long

    def execute(self) -> None:
        record, server, options = self.record, self.server, self.options
        try:
            server.start() if self.nodes is None else self.nodes.start()
            self._start_workers()
            self._collect("ready", record.ready, options.ready_timeout_s)
            log.info("load: %d workers connected their clients; placing the calls", len(record.ready))
            record.health = server.health() if self.nodes is None else self.nodes.health()
            record.rss_connected = server.rss_mb()
            record.cpu_before_calls = server.cpu_s()
            record.calls_started_at = time.monotonic()
            self.start_calls.set()
            self._collect("kiosks_done", record.done, options.call_timeout_s * max(1, options.calls) + 60)
            if options.kill_node_at is not None and self.nodes is not None and self.nodes.killed is None:
                record.errors.append(f"load: the calls ended before --kill-node-at {options.kill_node_at:g}")
            record.calls_ended_at = max((d["at"] for d in record.done.values()), default=time.monotonic())
            record.cpu_after_calls = server.cpu_s()
        except Exception as exc:
            record.errors.append(f"load: {type(exc).__name__}: {exc}")
        except KeyboardInterrupt:
            self.interrupted = True
            raise
        finally:
            self._finish_even_if_interrupted()

    def _finish_even_if_interrupted(self) -> None:
        """``_finish``; after SIGINT/SIGTERM an error while stopping is logged, not raised: it would replace
        the interruption, and the simulator would exit 1 with a traceback instead of 130/143."""
        try:
            self._finish()
        except Exception:
            if not self.interrupted:
                raise
            log.exception("load: an error while stopping after the interruption")

    def _start_workers(self) -> None:
        limits = self.server.config.server  # stay well inside the server's per-connection rate limit
        rate = (0.8 * limits.messages_per_second, max(1, min(limits.message_burst // 2, 20)))
        per_kiosk = _calls_per_kiosk(self.kiosk_ids, self.options.calls)
        kiosk_parts = _split(self.kiosk_ids, self.workers)
        officer_parts = _split(self.officers, self.workers)
        credentials = self.server.credentials
        urls = self.nodes.urls if self.nodes is not None else [self.server.url]
        routes = {k: route(i, len(urls)) for i, k in enumerate(self.kiosk_ids)}
        routes.update({o: route(i, len(urls)) for i, o in enumerate(self.officers)})
        for w in range(self.workers):
            assignment = WorkerAssignment(
                index=w,
                urls=urls,
                routes={c: routes[c] for c in (*kiosk_parts[w], *officer_parts[w])},
                kiosks={k: credentials.kiosk_tokens[k] for k in kiosk_parts[w]},
                kiosk_calls={k: per_kiosk[k] for k in kiosk_parts[w]},
                officers={
                    o: self.server.officer_sessions.get(o) or credentials.officer_passwords[o]
                    for o in officer_parts[w]
                },
                departments=self.departments,
                options=self.options,
                rate=rate,
            )
            proc = self.ctx.Process(
                target=worker_main,
                args=(assignment, self.report, self.start_calls, self.stop),
                name=f"load-worker-{w}",
                daemon=True,
            )
            proc.start()
            self.procs.append(proc)
        self.record.workers = len(self.procs)

    def _collect(self, kind: str, into: dict[int, dict], timeout: float) -> None:
        """Wait until every worker has reported ``kind`` (or failed); a worker that dies silently fails."""
        deadline = time.monotonic() + timeout
        while len(into) + len(self.failed) < self.workers:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"workers did not report {kind!r} within {timeout:.0f} s")
            try:
                tag, index, payload = self.report.get(timeout=min(remaining, 5.0, self._kill_due()))
            except Exception:  # queue.Empty, mostly: check that nobody died silently
                for index, proc in enumerate(self.procs):
                    if not proc.is_alive() and index not in into and index not in self.failed:
                        self.failed[index] = {"error": f"exited with code {proc.exitcode}"}
                        self.record.errors.append(f"worker {index}: exited with code {proc.exitcode}")
                continue
            if tag == "failed":
                self.failed[index] = payload
                self.record.errors.append(f"worker {index}: {payload['error']}")
            elif tag == kind:
                into[index] = payload
            elif tag == "result":
                self.record.results[index] = payload

    def _kill_due(self) -> float:
        """Kill the node now if ``--kill-node-at`` has come (from the main thread: see nodes.py); the
        seconds until it is due (a long time when there is none)."""
        at, nodes, started = self.options.kill_node_at, self.nodes, self.record.calls_started_at
        if at is None or nodes is None or nodes.killed is not None or not started:
            return 5.0
        into = time.monotonic() - started
        if into < at:
            return max(0.01, at - into)
        nodes.kill(self.options.kill_node, into)
        self._watch_cpu(nodes)
        killed: dict[str, Any] = nodes.killed or {}
        log.warning(
            "load: kill -9 of the %s %s, %.1f s into the calls (monotonic %.2f s)",
            *(killed["role"], killed["node"], into, time.monotonic()),
        )
        return 5.0

    def _watch_cpu(self, nodes: Nodes) -> None:
        """The survivors' and the workers' CPU over the seconds after the kill (``failover_cpu``)."""
        alive = {s.node_id or "node": s.proc.pid for s in nodes.alive() if s.proc is not None}
        workers = {f"worker-{i}": proc.pid for i, proc in enumerate(self.procs) if proc.pid is not None}
        try:
            self.record.cpu_window = CpuWindow({**alive, **workers})
        except psutil.Error as exc:  # a worker already gone: the run's errors say why
            log.warning("load: no failover CPU figures: %s", exc)
            return
        self.record.cpu_window.start()

    def _finish(self) -> None:
        """Release the workers, gather their results (a minute at most), and stop the server."""
        if self.record.cpu_window is not None:
            self.record.cpu_window.close()  # while its processes still run
        self.start_calls.set()
        self.stop.set()
        results = self.record.results
        deadline = time.monotonic() + (5 if self.interrupted else 60)
        while len(results) < len(self.procs) and time.monotonic() < deadline:
            try:
                tag, index, payload = self.report.get(timeout=1.0)
            except Exception:  # queue.Empty, mostly
                if all(not proc.is_alive() for proc in self.procs):
                    break
                continue
            if tag == "result":
                results[index] = payload
        for proc in self.procs:
            proc.join(2 if self.interrupted else 10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        log.info("load: stopping the server")
        stopped = self.nodes.stop() if self.nodes is not None else [(self.server, self.server.stop())]
        for server, code in stopped:
            if code not in (0, None, -15) and not server.killed:
                name = f"node {server.node_id}" if server.node_id else "server"
                self.record.errors.append(f"{name} exited with code {code}: {server.log_tail(500)}")
