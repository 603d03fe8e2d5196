"""Simulator hygiene (issue #17, Must show): a fleet that cannot fit the processes' descriptor limits is
refused before anything starts, and an interrupted or killed simulator leaves no server or worker process
behind (real processes; the descendants are looked up with psutil while the calls run), nor a work
directory that the next run does not sweep."""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from simulator.load import LoadOptions
from simulator.load.hygiene import (
    OWNER_FILE,
    SERVER_FD_RESERVE,
    WORKDIR_PREFIX,
    FleetTooLarge,
    check_fd_budget,
    sweep_killed_runs,
)

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120.0
_READERS: set[asyncio.Future[None]] = set()


def test_the_budget_names_the_numbers():
    big = LoadOptions(kiosks=20_000, officers=5_000, calls=20_000)
    with pytest.raises(FleetTooLarge) as caught:
        check_fd_budget(big, 20_000)
    message = str(caught.value)
    for number in ("20,000 kiosks", "5,000 officers", "25,000 connections", "RLIMIT_NOFILE is 20,000"):
        assert number in message
    assert f"At most {20_000 - SERVER_FD_RESERVE:,} clients fit" in message
    check_fd_budget(big, 20_000, nodes=3)  # 8,334 a node: fits
    check_fd_budget(LoadOptions(kiosks=19_000, officers=800, calls=1), 20_000)  # just under
    with pytest.raises(FleetTooLarge, match="use --workers 2 or more"):
        check_fd_budget(LoadOptions(kiosks=1_500, officers=100, calls=1, workers=1), 1_600, nodes=2)


def _lower_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


async def test_a_fleet_over_the_limit_is_refused_before_anything_starts():
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator.cli",
        "--signaling-only",
        "--kiosks",
        "2000",
        "--officers",
        "500",
        "--calls",
        "2000",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_lower_fd_limit,  # this machine's 20,000 would be 1,024 elsewhere: the same numbers
    )
    out, err = await asyncio.wait_for(sim.communicate(), TIMEOUT)
    assert sim.returncode == 2 and out == b""
    text = err.decode()
    assert "refused before starting" in text and "2,000 kiosks + 500 officers = 2,500 connections" in text
    assert "RLIMIT_NOFILE is 1,024" in text


def test_a_killed_runs_directory_is_swept_a_live_or_unknown_one_is_not(tmp_path: Path):
    dead = subprocess.Popen(["true"])  # a process that has come and gone: its pid is free
    dead.wait()
    killed, running, unknown = (tmp_path / f"{WORKDIR_PREFIX}{name}" for name in ("killed", "running", "x"))
    for directory in (killed, running, unknown):
        directory.mkdir()
        (directory / "load.sqlite3").write_bytes(b"")
    (killed / OWNER_FILE).write_text(f"{dead.pid}\n")
    (running / OWNER_FILE).write_text(f"{os.getpid()}\n")
    (tmp_path / "madoguchi-other").mkdir()  # not a load run's
    assert sweep_killed_runs(tmp_path) == [killed]
    assert not killed.exists() and running.exists() and unknown.exists()
    assert (tmp_path / "madoguchi-other").exists()


async def _started_run(
    log: list[str], nodes: int = 1, env: dict[str, str] | None = None, database: str = "sqlite"
) -> tuple[asyncio.subprocess.Process, list[psutil.Process]]:
    """A signaling-only run with long calls (``nodes`` server processes; above one, with a redis-server;
    ``database`` "postgres": with a PostgreSQL server), once its workers have connected: the simulator and
    every process under it."""
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator.cli",
        "--signaling-only",
        "--kiosks",
        "4",
        "--officers",
        "2",
        "--calls",
        "40",
        "--call-seconds",
        "60",
        "--workers",
        "2",
        "--log-level",
        "INFO",
        "--nodes",
        str(nodes),
        "--database",
        database,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert sim.stderr is not None
    placing = asyncio.get_running_loop().create_future()

    async def read(stream: asyncio.StreamReader) -> None:
        while line := (await stream.readline()).decode(errors="replace"):
            log.append(line.rstrip())
            if "placing the calls" in line and not placing.done():
                placing.set_result(None)
        if not placing.done():
            placing.set_exception(RuntimeError("the simulator ended early:\n" + "\n".join(log[-20:])))

    reader = asyncio.ensure_future(read(sim.stderr))
    _READERS.add(reader)  # kept until it has read to the end
    reader.add_done_callback(_READERS.discard)
    try:
        await asyncio.wait_for(placing, TIMEOUT * (1 + nodes))  # the nodes start in parallel; a busy machine
    except BaseException:  # the test never gets the simulator: stop it (and what it started) here
        sim.terminate()
        await asyncio.wait_for(sim.wait(), TIMEOUT)
        raise
    return sim, psutil.Process(sim.pid).children(recursive=True)


def _still_running(processes: list[psutil.Process]) -> list[str]:
    """Those of ``processes`` not gone within the timeout (a zombie waiting for its reaper counts as gone)."""
    _gone, alive = psutil.wait_procs(processes, timeout=30)
    running = []
    for proc in alive:
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                running.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            pass
    return running


@pytest.mark.slow
@pytest.mark.parametrize("nodes", [1, 2], ids=lambda n: f"{n}-node")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
async def test_an_interrupted_or_killed_simulator_leaves_no_process_behind(
    signum: signal.Signals, nodes: int
):
    if nodes > 1 and shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; scripts/bootstrap.sh)")
    log: list[str] = []
    # Its work directory in one of this test's own (short: the Redis socket's path must fit 108 bytes).
    runs = Path(tempfile.mkdtemp(prefix="mlh-"))
    sim, descendants = await _started_run(log, nodes, {**os.environ, "TMPDIR": str(runs)})
    try:
        commands = [" ".join(p.cmdline()) for p in descendants]
        assert sum("signaling_server.cli" in c for c in commands) == nodes, commands  # the servers
        assert sum("redis-server" in c for c in commands) == (nodes > 1), commands
        assert sum("multiprocessing" in c and "spawn_main" in c for c in commands) == 2, commands  # workers
        sim.send_signal(signum)
        # First the descendants: a survivor would hold the simulator's stderr, and sim.wait() waits for it.
        assert await asyncio.to_thread(_still_running, descendants) == []
        code = await asyncio.wait_for(sim.wait(), TIMEOUT)
        left = list(runs.glob(f"{WORKDIR_PREFIX}*"))
        if signum == signal.SIGKILL:
            assert code == -signal.SIGKILL
            assert len(left) == 1  # nothing of it could clean up; the next run's sweep removes it
            assert sweep_killed_runs(runs) == left and not left[0].exists()
        else:  # stopped in order, and said so
            assert code == 128 + signum, "\n".join(log[-40:])
            assert any(f"interrupted ({signum.name})" in line for line in log), "\n".join(log[-40:])
            assert left == []
    finally:
        shutil.rmtree(runs, ignore_errors=True)
        for proc in descendants:  # teardown on every path: nothing of this test survives it
            if proc.is_running():
                proc.kill()
        if sim.returncode is None:
            sim.kill()
            await sim.wait()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
async def test_a_run_on_postgresql_leaves_no_database_server_behind(signum: signal.Signals):
    """``--database postgres``: the PostgreSQL server (and every backend of it) dies with the simulator
    too, stopped in order or killed with it."""
    from devtools.postgres_engine import missing_reason

    if (reason := missing_reason()) or shutil.which("redis-server") is None:
        pytest.skip(reason or "redis-server is not installed (scripts/bootstrap.sh installs it)")
    log: list[str] = []
    runs = Path(tempfile.mkdtemp(prefix="mlh-"))
    runs.chmod(0o711)  # PostgreSQL runs as its own user under root, and must reach its directory in here
    sim, descendants = await _started_run(log, 2, {**os.environ, "TMPDIR": str(runs)}, "postgres")
    try:
        commands = [" ".join(p.cmdline()) for p in descendants]
        assert sum("bin/postgres -D" in c for c in commands) == 1, commands  # the server, in the run's dir
        nodes = [c for c in commands if "signaling_server.cli" in c]
        assert len(nodes) == 2 and all("--database postgresql://" in c for c in nodes), commands
        sim.send_signal(signum)
        assert await asyncio.to_thread(_still_running, descendants) == []
        code = await asyncio.wait_for(sim.wait(), TIMEOUT)
        assert code == (-signal.SIGKILL if signum == signal.SIGKILL else 128 + signum), "\n".join(log[-40:])
        if signum == signal.SIGKILL:
            (left,) = runs.glob(f"{WORKDIR_PREFIX}*")
            assert sweep_killed_runs(runs) == [left] and not left.exists()  # the database's files too
    finally:
        shutil.rmtree(runs, ignore_errors=True)
        for proc in descendants:
            if proc.is_running():
                proc.kill()
        if sim.returncode is None:
            sim.kill()
            await sim.wait()
