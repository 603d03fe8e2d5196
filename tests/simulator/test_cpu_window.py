"""``failover_cpu``: the cores each process used in the seconds after a kill (simulator/load/cpu_window.py),
read from the kernel's per-process CPU times of real processes."""

from __future__ import annotations

import os
import subprocess
import sys

from simulator.load.cpu_window import CpuWindow


def test_a_busy_worker_and_an_idle_node_are_told_apart() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        window = CpuWindow({"node-2": idle.pid, "worker-0": busy.pid}, window_s=0.5)
        window.close()
        assert window.figures() is None  # never started: no kill
        window.start()
        assert window.ended.wait(30)
        figures = window.figures()
        assert figures is not None
        cores = figures["cores"]
        assert isinstance(cores, dict)
        assert cores["worker-0"] > cores["node-2"]  # the spinning one used the CPU
        assert figures["simulator_share"] is not None and figures["simulator_share"] > 0.5
        assert figures["machine_cores"] == os.cpu_count()
    finally:
        busy.kill()
        idle.kill()
        busy.wait()
        idle.wait()


def test_a_process_gone_before_the_window_ends_is_left_out() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    window = CpuWindow({"me": os.getpid(), "worker-1": gone.pid}, window_s=60)
    window.start()
    gone.wait()
    window.close()  # the run ended before the window did
    figures = window.figures()
    assert figures is not None and set(figures["cores"]) == {"me"}  # type: ignore[arg-type]
