"""The edge's deadline heap: one live entry per key, cancelling, and waking the sleeper early."""

from __future__ import annotations

import asyncio

import pytest

from remote_call.protocol import Role
from signaling_server.switchboard import timers as timers_module
from signaling_server.switchboard.timers import (
    MAX_SLEEP_S,
    EdgeTimers,
    FlushPositions,
    GraceEnds,
    PushStats,
    SetupTimeout,
)


def test_scheduling_a_key_again_replaces_its_older_entry(clock) -> None:
    timers = EdgeTimers(clock)
    first = SetupTimeout("c1")
    timers.after(10, first)
    other = SetupTimeout("c2")
    timers.after(15, other)
    again = SetupTimeout("c1")
    timers.after(20, again)
    assert first != again  # each entry has its own generation
    assert list(timers.pop_due(clock() + 12)) == []  # the first c1 entry is dead
    assert list(timers.pop_due(clock() + 30)) == [other, again]
    assert timers.next_due() is None and not timers.pending(SetupTimeout.key_of("c1"))


def test_a_cancelled_entry_never_fires_and_next_due_skips_it(clock) -> None:
    timers = EdgeTimers(clock)
    timers.after(5, GraceEnds(Role.KIOSK, "kiosk-ueda"))
    timers.after(8, GraceEnds(Role.OFFICER, "kiosk-ueda"))  # same identity, other role: another key
    assert timers.pending(GraceEnds.key_of(Role.KIOSK, "kiosk-ueda"))
    timers.cancel(GraceEnds.key_of(Role.KIOSK, "kiosk-ueda"))
    assert not timers.pending(GraceEnds.key_of(Role.KIOSK, "kiosk-ueda"))
    assert timers.next_due() == clock() + 8
    assert [(e.role, e.identity) for e in timers.pop_due(clock() + 60)] == [(Role.OFFICER, "kiosk-ueda")]


def test_entries_due_together_fire_in_the_order_scheduled_and_once(clock) -> None:
    timers = EdgeTimers(clock)
    entries = [PushStats(), FlushPositions(), SetupTimeout("c1")]
    for entry in entries:
        timers.at(clock(), entry)
    assert list(timers.pop_due(clock())) == entries
    assert list(timers.pop_due(clock() + 100)) == []


def test_clear_drops_everything(clock) -> None:
    timers = EdgeTimers(clock)
    timers.after(1, SetupTimeout("c1"))
    timers.clear()
    assert timers.next_due() is None and not timers.pending(SetupTimeout.key_of("c1"))


async def test_an_earlier_deadline_wakes_the_sleeper(clock, monkeypatch) -> None:
    # Uncapped, the sleeper would sleep the 100 s to its deadline (the fake clock never moves): only the
    # wake-up can end it within the 20 s bound, so the test waits on the outcome and times nothing.
    monkeypatch.setattr(timers_module, "MAX_SLEEP_S", 3600.0)
    timers = EdgeTimers(clock)
    sleeper = asyncio.ensure_future(timers.sleep_until(clock() + 100))
    early = clock() + MAX_SLEEP_S / 2
    # Scheduled once the sleeper is asleep: callbacks run in order, the sleeper's first step came first.
    asyncio.get_running_loop().call_soon(timers.at, early, FlushPositions())
    await asyncio.wait_for(sleeper, 20)
    assert sleeper.exception() is None and timers.next_due() == early


async def test_a_later_deadline_lets_the_sleeper_sleep(clock, monkeypatch) -> None:
    # A negative check, bounded: a later deadline must not wake the sleeper within 0.25 s. Uncapped, the
    # sleeper cannot end by itself meanwhile, and a loaded machine can only make the check pass later.
    monkeypatch.setattr(timers_module, "MAX_SLEEP_S", 3600.0)
    timers = EdgeTimers(clock)
    sleeper = asyncio.ensure_future(timers.sleep_until(clock() + 100))
    asyncio.get_running_loop().call_soon(timers.at, clock() + 200, FlushPositions())
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sleeper, MAX_SLEEP_S / 4)
