"""A pytest fixture that prints every pending asyncio task's stack shortly before pytest-timeout stops a test.

pytest-timeout's dump shows threads only. A test stuck in an unbounded ``await`` shows nothing but the event
loop's ``select`` (or, in the GUI suites, Qt's ``exec``), which names no culprit: a kiosk-suite run in
CI hung 300 s that way (December 2026) and could not be explained afterwards. The tasks' own stacks name
the await.

The report comes from a timer thread, ``LEAD_S`` (at most half the time-out) before the time-out: reading
a task's frames from another thread is not thread-safe, but the process is about to be stopped and a torn
read costs only the report.

With ``MADOGUCHI_STALL_LOG`` set to a file's path the report is also appended there: ``run-tests`` prints
that file again at its very end, since a CI log is often read from its tail and pytest-timeout's thread dump
(~170 lines in the kiosk suite) pushes the report out of it (stop 38's CI: the hung test went unnamed).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import os
import threading
from collections.abc import Iterator

import pytest

LEAD_S = 15.0  # enough for the report to be printed before pytest-timeout's own dump and exit
LOG_VARIABLE = "MADOGUCHI_STALL_LOG"


def pending_tasks_report(test_id: str = "") -> str:
    """Every asyncio task not yet done, in any loop of this process, with its stack."""
    tasks = [obj for obj in gc.get_objects() if isinstance(obj, asyncio.Task) and not obj.done()]
    out = io.StringIO()
    about = f" in {test_id}" if test_id else ""
    out.write(f"\n===== {len(tasks)} asyncio task(s) pending{about} =====\n")
    for task in tasks:
        with contextlib.suppress(Exception):  # a task finishing while it is read
            out.write(f"{task!r}\n{awaiting(task)}")
    return out.getvalue()


def awaiting(task: asyncio.Task) -> str:
    """The chain of awaits a task is suspended in, outermost first (``Task.print_stack`` shows only the
    task's own coroutine's frame, not the coroutines it awaits)."""
    lines = []
    awaited: object = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            lines.append(f"  {code.co_filename}:{frame.f_lineno} in {code.co_name}\n")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return "".join(lines)


def _time_out_of(request: pytest.FixtureRequest) -> float:
    marker = request.node.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(marker.args[0])
    option = request.config.getoption("timeout", None)
    if option is not None:
        return float(option)
    try:
        return float(request.config.getini("timeout") or 0)
    except ValueError:
        return 0.0


def _print_uncaptured(request: pytest.FixtureRequest, text: str) -> None:
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)
    try:
        request.config.get_terminal_writer().write(text)
        request.config.get_terminal_writer().flush()
    finally:
        if capture is not None:
            capture.resume_global_capture()


def _report(request: pytest.FixtureRequest) -> None:
    text = pending_tasks_report(request.node.nodeid)
    log = os.environ.get(LOG_VARIABLE)
    if log:
        with contextlib.suppress(OSError), open(log, "a", encoding="utf-8") as file:
            file.write(text)
    _print_uncaptured(request, text)


@pytest.fixture(autouse=True)
def report_stalled_tasks(request: pytest.FixtureRequest) -> Iterator[None]:
    time_out = _time_out_of(request)
    if time_out <= 0:
        yield
        return
    report_at = time_out - min(LEAD_S, time_out / 2)
    timer = threading.Timer(report_at, lambda: _report(request))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
