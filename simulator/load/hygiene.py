"""What keeps a load run inside its machine: a fleet that fits the processes' file-descriptor limits, and no
server or worker process outliving the simulator.

- **Descriptor budget** (``check_fd_budget``): every client is one socket in a worker and one in the server
  process it connects to, and RLIMIT_NOFILE (20,000 hard here) caps each process. A fleet over it used to
  run for ten minutes printing nothing (issue #17: 20,000 kiosks and 5,000 officers against one server);
  it is now refused before anything starts, with the numbers.
- **No orphans**: the server and the workers run in process groups of their own (a Ctrl-C at the terminal
  reaches the simulator only, which stops them in order), and each asks the kernel to kill it when the
  simulator dies (``PR_SET_PDEATHSIG``), so even a SIGKILL of the simulator leaves nothing running. The
  server is started through this module (``python -m simulator.load.hygiene PARENT_PID ARGS...``), which
  sets that up and then execs the server: the flag survives exec.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import pwd
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from simulator.load.options import LoadOptions
from simulator.load.routes import busiest_node

SERVER_FD_RESERVE = 128  # a server's own descriptors: 10 when idle (measured), room for SQLite, HTTP, logs
WORKER_FD_RESERVE = 64  # a worker's own: its event loop, the report queue's pipes, DNS, stdio (~20)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class FleetTooLarge(ValueError):
    """The fleet cannot fit the descriptor limits of the processes that would hold it."""


def check_fd_budget(options: LoadOptions, limit: int, *, nodes: int | None = None) -> None:
    """Raise FleetTooLarge naming the numbers unless every server process and every worker fits ``limit``
    descriptors (the hard RLIMIT_NOFILE they all inherit). With several nodes (``nodes``, else the
    options') a node holds the clients whose list starts with it and, with ``--kill-node-at``, those that
    move to it when another node dies (simulator.load.routes): the busiest moment counts."""
    nodes = nodes or options.nodes
    clients = options.kiosks + options.officers
    kill = options.kill_node_at is not None
    per_node = busiest_node(options.kiosks, options.officers, nodes, kill=kill) if nodes > 1 else clients
    fleet = f"{options.kiosks:,} kiosks + {options.officers:,} officers = {clients:,} connections"
    if per_node + SERVER_FD_RESERVE > limit:
        fit = max(0, limit - SERVER_FD_RESERVE) * (max(1, nodes - 1) if kill else nodes)
        where = "the server process" if nodes == 1 else f"the busiest of the {nodes} server processes"
        after = " once a node is killed and its clients move" if kill else ""
        raise FleetTooLarge(
            f"this fleet cannot fit the file-descriptor limit: {fleet}; {where} would hold "
            f"{per_node:,} connections{after} + {SERVER_FD_RESERVE} descriptors of its own, but "
            f"RLIMIT_NOFILE is {limit:,} here. At most "
            f"{fit:,} clients fit: use a smaller fleet, more server nodes, or raise the hard limit "
            "(ulimit -Hn, systemd LimitNOFILE)"
        )
    workers = min(options.worker_count(), options.kiosks)
    per_worker = math.ceil(clients / workers)
    if per_worker + WORKER_FD_RESERVE > limit:
        needed = math.ceil(clients / max(1, limit - WORKER_FD_RESERVE))
        raise FleetTooLarge(
            f"this fleet cannot fit the file-descriptor limit: {fleet}; each of the {workers} worker "
            f"processes would hold {per_worker:,} connections + {WORKER_FD_RESERVE} descriptors of its own, "
            f"but RLIMIT_NOFILE is {limit:,} here: use --workers {needed} or more"
        )


def die_with_parent(parent_pid: int) -> None:
    """Be killed (SIGKILL) when the process ``parent_pid`` that started this one dies; exit at once if it
    already has. Linux: PR_SET_PDEATHSIG; elsewhere a thread watching the parent's pid."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    else:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the kernel was told
        os._exit(1)


def _watch_parent(parent_pid: int) -> None:
    stop = threading.Event()
    while not stop.wait(1.0):  # no prctl here: the parent's pid is polled
        if os.getppid() != parent_pid:
            os._exit(1)


def own_process_group() -> None:
    """Leave the simulator's process group: a terminal's Ctrl-C reaches the simulator alone."""
    with contextlib.suppress(OSError):  # already a group leader (started with process_group=0)
        os.setpgid(0, 0)


def become(user: str) -> None:
    """Run as ``user`` from here on (a root simulator's PostgreSQL, which refuses root)."""
    entry = pwd.getpwnam(user)
    os.initgroups(user, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)


def main(argv: list[str]) -> None:
    """``python -m simulator.load.hygiene PARENT_PID ARGS...``: die with the parent, then exec
    ``python ARGS...`` (the same pid, the flag kept); ``PARENT_PID --exec PROGRAM ARGS...`` execs another
    program (redis-server); ``PARENT_PID --as-user USER --exec PROGRAM ARGS...`` as USER (postgres)."""
    if len(argv) < 2 or not argv[0].isdigit():
        raise SystemExit(
            "usage: python -m simulator.load.hygiene PARENT_PID [--as-user USER] [--exec PROGRAM] ARGS..."
        )
    own_process_group()
    if argv[1] == "--as-user" and len(argv) > 3:
        become(argv[2])  # first: a change of user clears the parent-death signal set below
        argv = [argv[0], *argv[3:]]
    die_with_parent(int(argv[0]))
    if argv[1] == "--exec" and len(argv) > 2:
        os.execv(argv[2], argv[2:])
    os.execv(sys.executable, [sys.executable, *argv[1:]])


if __name__ == "__main__":
    main(sys.argv[1:])


WORKDIR_PREFIX = "madoguchi-load-"
OWNER_FILE = "simulator.pid"  # in a run's work directory: the simulator that owns it


@contextlib.contextmanager
def work_directory() -> Iterator[Path]:
    """A temporary directory for one run (its database, configuration, node logs, Redis socket), removed
    afterwards; first the directories of runs that were killed (a SIGKILL leaves nothing to clean up)."""
    sweep_killed_runs(Path(tempfile.gettempdir()))
    with tempfile.TemporaryDirectory(prefix=WORKDIR_PREFIX) as tmp:
        (Path(tmp) / OWNER_FILE).write_text(f"{os.getpid()}\n")
        yield Path(tmp)


def sweep_killed_runs(parent: Path) -> list[Path]:
    """Remove the run directories under ``parent`` whose simulator is gone; which. A directory without an
    owner (being made, or by an older simulator) is left alone."""
    removed = []
    for directory in sorted(parent.glob(f"{WORKDIR_PREFIX}*")):
        try:
            owner = int((directory / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not _alive(owner):
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the simulator: unwinds like Ctrl-C, so every ``finally`` stops what it
    started."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block SIGTERM (and SIGINT) raise ``Interrupted``; the previous handlers come back after."""

    def interrupt(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
