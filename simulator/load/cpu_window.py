"""The CPU each process used in the seconds after the kill: the surviving nodes and the simulator's own
workers, on the same cores.

On this machine (two cores) the simulator's workers took 60 % of the CPU in the 10 s after a node of a
20,000-kiosk run was killed, when aiohttp's client made their ~10,000 reconnect handshakes (per-process CPU
from /proc, 2026-12-04). A real fleet does those on its own machines; a run's ``resume_s`` only means what
the servers can do when the simulator's share of the machine is known, so every run with a kill says it.
"""

from __future__ import annotations

import threading
import time

import psutil

WINDOW_S = 10.0


class CpuWindow:
    """``start()`` at the kill, ``close()`` as the run ends, then ``figures()``."""

    def __init__(self, processes: dict[str, int], window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._processes = {name: psutil.Process(pid) for name, pid in processes.items()}
        self._began: tuple[float, dict[str, float]] | None = None
        self._ended: tuple[float, dict[str, float]] | None = None
        self._timer: threading.Timer | None = None
        self.ended = threading.Event()

    def start(self) -> None:
        self._began = (time.monotonic(), self._cpu())
        self._timer = threading.Timer(self.window_s, self._end)
        self._timer.daemon = True
        self._timer.start()

    def close(self) -> None:
        """The run is ending (before its processes stop): the window ends now if it has not yet."""
        if self._timer is not None:
            self._timer.cancel()
        if self._began is not None and self._ended is None:
            self._end()

    def _end(self) -> None:
        self._ended = (time.monotonic(), self._cpu())
        self.ended.set()

    def _cpu(self) -> dict[str, float]:
        seconds: dict[str, float] = {}
        for name, process in self._processes.items():
            try:
                times = process.cpu_times()
            except psutil.Error:  # gone meanwhile (a worker that failed): counted up to its last sample
                continue
            seconds[name] = times.user + times.system
        return seconds

    def figures(self) -> dict[str, object] | None:
        """Cores each process used over the window (to the run's end when that came first), and the
        simulator's workers' share of all of it; ``None`` when it never started."""
        if self._began is None or self._ended is None:
            return None
        (t0, before), (t1, after) = self._began, self._ended
        elapsed = t1 - t0
        cores = {n: round((after[n] - before[n]) / elapsed, 2) for n in after if n in before}
        total = sum(cores.values())
        workers = sum(v for n, v in cores.items() if n.startswith("worker"))
        return {
            "window_s": round(elapsed, 2),
            "cores": cores,
            "machine_cores": psutil.cpu_count(),
            "simulator_share": round(workers / total, 2) if total else None,
        }
