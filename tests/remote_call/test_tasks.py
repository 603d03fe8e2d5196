"""Stopping tasks without losing the stopper's own cancellation (remote_call/tasks.py).

The shape that lost it: a task cancels a helper task and awaits it under ``suppress(CancelledError)``, and is
itself cancelled meanwhile. Each test cancels the stopper exactly while it waits for a helper that takes a
few loop turns to end, and checks that the stopper ends cancelled instead of going on."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from remote_call.tasks import BackgroundTasks, cancel_and_wait

TIMEOUT = 5.0


async def slow_to_stop(release: asyncio.Event) -> None:
    """A task that, once cancelled, takes until ``release`` to end (a session closing its transports)."""
    try:
        await asyncio.get_running_loop().create_future()
    finally:
        await release.wait()


async def stopper_cancelled_while_waiting(stop) -> asyncio.Task[str]:
    """Run ``stop()`` in a task that carries on (returns "went on") unless its cancellation reaches it; cancel
    it while ``stop`` waits."""
    waiting = asyncio.Event()

    async def stopper() -> str:
        waiting.set()
        await stop()
        return "went on"

    task = asyncio.create_task(stopper())
    await asyncio.wait_for(waiting.wait(), TIMEOUT)
    await asyncio.sleep(0)  # one turn: the stopper is now suspended inside stop()
    task.cancel()
    return task


async def test_a_stopper_cancelled_while_it_waits_ends_cancelled():
    release = asyncio.Event()
    helper = asyncio.create_task(slow_to_stop(release))
    await asyncio.sleep(0)
    stopper = await stopper_cancelled_while_waiting(lambda: cancel_and_wait(helper))
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(stopper, TIMEOUT)
    assert stopper.cancelled()
    assert helper.cancelled()  # and the helper was stopped all the same


async def test_the_old_shape_loses_the_cancellation():
    """What the helper replaces, kept as the reason for it: the stopper goes on after being cancelled."""
    release = asyncio.Event()
    helper = asyncio.create_task(slow_to_stop(release))
    await asyncio.sleep(0)

    async def old_stop() -> None:
        helper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await helper

    stopper = await stopper_cancelled_while_waiting(old_stop)
    release.set()
    assert await asyncio.wait_for(stopper, TIMEOUT) == "went on"


async def test_background_tasks_pass_the_stoppers_cancellation_on():
    release = asyncio.Event()
    tasks = BackgroundTasks(logging.getLogger("test"), "test")
    helper = tasks.spawn(slow_to_stop(release), "slow")
    await asyncio.sleep(0)
    stopper = await stopper_cancelled_while_waiting(tasks.cancel_and_wait)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(stopper, TIMEOUT)
    assert helper.cancelled() and len(tasks) == 0


async def test_ended_and_failed_tasks_are_not_the_callers(caplog):
    async def fail() -> None:
        raise ValueError("the device went away")

    failed = asyncio.create_task(fail(), name="failing")
    done = asyncio.create_task(asyncio.sleep(0))
    await asyncio.wait([failed, done])
    with caplog.at_level(logging.WARNING, logger="remote_call.tasks"):
        await cancel_and_wait(failed, done, None, asyncio.current_task())  # None and itself skipped
    assert "task failing had failed before it was stopped: ValueError('the device went away')" in caplog.text
