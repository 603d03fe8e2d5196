"""Background tasks an owner starts and does not await: kept referenced, failures logged, cancelled together.

The event loop keeps only weak references to tasks, so a task nobody holds can vanish mid-way; and an
exception in a task nobody awaits surfaces only as "Task exception was never retrieved" at garbage
collection. ``BackgroundTasks`` holds each task until it ends, logs its failure under the owner's logger and
cancels every task still running when the owner stops.

``cancel_and_wait`` stops tasks without losing the caller's own cancellation. The usual
``task.cancel(); with suppress(CancelledError): await task`` loses it: a task cancelled while it awaits
another task has the cancel passed on to the awaited one (``Task.cancel`` cancels the future it waits on),
and the ``CancelledError`` it then gets back is taken by the ``suppress`` as the other task's. The task goes
on as if nothing had been asked of it, e.g. a message loop cancelled while a message made it close a call
session reads on (its awaiting owner waits with it). ``asyncio.wait`` never raises the awaited tasks' ends
and passes the caller's cancellation on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel ``tasks`` (``None`` and the calling task skipped) and wait until each has ended. Their ends are
    not the caller's: a task that had failed is logged here; the caller's own cancellation is passed on."""
    current = asyncio.current_task()
    pending = [task for task in tasks if task is not None and task is not current]
    for task in pending:
        task.cancel()
    if not pending:
        return
    await asyncio.wait(pending)
    for task in pending:
        if not task.cancelled() and task.exception() is not None:
            log.warning("task %s had failed before it was stopped: %r", _name(task), task.exception())


def _name(task: asyncio.Future[Any]) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else repr(task)


class BackgroundTasks:
    def __init__(self, log: logging.Logger, owner: str) -> None:
        self._log = log
        self._owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("%s task %s failed: %r", self._owner, task.get_name(), task.exception())

    def cancel(self) -> None:
        """Cancel every task still running (without waiting for them to finish)."""
        for task in self._tasks:
            task.cancel()

    async def cancel_and_wait(self) -> None:
        """Cancel every task but the calling one and wait until they have finished (their failures are
        logged by ``_done``, so not again here)."""
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
