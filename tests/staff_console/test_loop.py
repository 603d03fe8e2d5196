"""The GUI suites' qasync loop runs asyncio callbacks only while it runs (devtools/qasync_loop.py).

pytest-asyncio runs each async fixture's setup and teardown and the test as separate runs of one loop;
qasync processes Qt events once more after every run, and a timer due then used to step a task outside its
loop. The embedded server's periodic checks (revocations every 2 s, monitoring every 5 s) died of it with
"no running event loop", which their cleanup re-raised as a teardown error under load.
"""

from __future__ import annotations

import asyncio
import contextlib

from PySide6.QtWidgets import QApplication

from devtools.qasync_loop import DeferringLoop


def test_a_callback_due_as_a_run_ends_waits_for_the_next_run(qapp: QApplication) -> None:
    loop = DeferringLoop(qapp)
    loops_seen: list[asyncio.AbstractEventLoop] = []

    async def periodic() -> None:  # a server check, with its sleep shortened to nothing
        while True:
            await asyncio.sleep(0)
            loops_seen.append(asyncio.get_running_loop())

    async def start() -> asyncio.Task[None]:
        return asyncio.create_task(periodic())

    async def stop(task: asyncio.Task[None]) -> None:
        await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        task = loop.run_until_complete(start())  # ends with the task's first step due
        assert loop.deferred >= 1 and not task.done()
        loop.run_until_complete(stop(task))
    finally:
        loop.close()
    assert task.cancelled()  # not dead of "no running event loop"
    assert loops_seen and all(seen is loop for seen in loops_seen)


def test_a_cancelled_callback_stays_cancelled_after_deferral(qapp: QApplication) -> None:
    loop = DeferringLoop(qapp)
    calls: list[str] = []
    handles: list[asyncio.Handle] = []

    def arm() -> None:  # runs inside the run, and schedules a callback due just after it ends
        handles.append(loop.call_soon(calls.append, "ran"))

    async def schedule() -> None:
        loop.call_soon(arm)

    try:
        loop.run_until_complete(schedule())
        assert loop.deferred >= 1 and calls == []  # due at the run's end: held back
        handles[0].cancel()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    assert calls == []


async def test_the_console_suite_runs_on_the_deferring_loop() -> None:
    assert isinstance(asyncio.get_running_loop(), DeferringLoop)
