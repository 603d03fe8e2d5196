"""Run the controller's coroutines from Qt slots under qasync, reporting failures instead of losing them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class TaskRunner:
    """``run(coro)`` starts a task on the running (qasync) loop; an exception goes to ``on_error``.

    ``settle()`` awaits every task started so far: tests use it instead of sleeping."""

    def __init__(self, on_error: Callable[[BaseException], None]):
        self.on_error = on_error
        self.tasks: set[asyncio.Task] = set()

    def run(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.info("console action failed: %s", exc)
            self.on_error(exc)

    async def settle(self, timeout: float = 20.0) -> None:
        while self.tasks:
            await asyncio.wait_for(asyncio.gather(*list(self.tasks), return_exceptions=True), timeout)

    def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()


def use_thread_pool_executor(loop: asyncio.AbstractEventLoop) -> None:
    """Give a qasync loop a plain ThreadPoolExecutor as its default executor.

    qasync's own QThreadExecutor joins its workers with ``QThread.wait()``, which holds the GIL: if a worker
    is still inside a job that needs the GIL (aiortc runs every VP8 encode and decode in the default
    executor) when the loop closes, the process deadlocks. ``ThreadPoolExecutor.shutdown`` joins with the
    GIL released.
    """
    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="console-executor"))
