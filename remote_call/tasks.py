"""Background tasks an owner starts and does not await: kept referenced, failures logged, cancelled together.

The event loop keeps only weak references to tasks, so a task nobody holds can vanish mid-way; and an
exception in a task nobody awaits surfaces only as "Task exception was never retrieved" at garbage
collection. ``BackgroundTasks`` holds each task until it ends, logs its failure under the owner's logger and
cancels every task still running when the owner stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any


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
        """Cancel every task but the calling one and wait until they have finished."""
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
