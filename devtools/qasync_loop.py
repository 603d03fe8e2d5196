"""A qasync loop for the GUI test suites whose asyncio callbacks run only while the loop runs.

qasync's ``run_until_complete`` ends by processing Qt events once more after the loop has stopped
(``eventDispatcher().processEvents(AllEvents)``, "run loop one last time"), and a Qt timer that falls due
then runs its asyncio callback with no running loop. pytest-asyncio runs every async fixture's setup, the
test and every async fixture's teardown as separate ``run_until_complete`` calls on one loop, so a task
whose sleep ended at one of those moments was stepped outside the loop: the embedded server's revocation
check (every 2 s) or monitor check (every 5 s) went on to its next ``asyncio.sleep``, which raised "no
running event loop"; the task died with that error and the server's cleanup, awaiting it, re-raised it as
a teardown error of whichever test was running. A loaded machine makes it likelier (each run is longer,
so a periodic timer is more often due at its end); ``tests/staff_console/test_loop.py`` shows it without
load, with a callback due at the very end of a run.

``DeferringLoop`` keeps asyncio's rule that callbacks run inside ``run_forever`` only: qasync's timer is
handed a stand-in that runs the handle while the loop runs and otherwise re-arms it to run first thing on
the loop's next run. Cancelling still works (the stand-in reads the handle's own flag); a loop that is
closed instead drops its pending callbacks as qasync always did.
"""

from __future__ import annotations

import asyncio
from typing import Any

import qasync


class _WhileRunning:
    """What qasync's timer calls in place of a handle (it reads ``_cancelled`` and calls ``_run``)."""

    __slots__ = ("handle", "loop")

    def __init__(self, handle: asyncio.Handle, loop: DeferringLoop) -> None:
        self.handle = handle
        self.loop = loop

    @property
    def _cancelled(self) -> bool:
        return self.handle.cancelled()

    def _run(self) -> None:
        if self.loop.is_running():
            self.handle._run()
        else:
            self.loop.deferred += 1
            self.loop._rearm(self)


class DeferringLoop(qasync.QEventLoop):
    """qasync's loop, but a callback due while the loop is stopped waits for its next run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deferred = 0  # callbacks held back until the next run (tests/staff_console/test_loop.py)

    def _add_callback(self, handle: asyncio.Handle, delay: float = 0) -> asyncio.Handle:
        super()._add_callback(_WhileRunning(handle, self), delay)
        return handle

    def _rearm(self, stand_in: _WhileRunning) -> None:
        super()._add_callback(stand_in, 0)
