"""The facade: the router's and the edge's deadlines driven by tick() or by run_timers, and shutdown."""

from __future__ import annotations

import asyncio
import time

import pytest

from remote_call import protocol as p
from signaling_server.routing import QueuePosition
from signaling_server.switchboard import timers as timers_module
from signaling_server.switchboard.positions import POSITION_BATCH_S

from .conftest import kiosk, officer


def test_a_ring_times_out_on_the_fake_clock(harness) -> None:
    k, _ = harness.connect(kiosk())
    _, inbox = harness.connect(officer())
    harness.send(k, p.RequestCall(department="kosodate"))
    (offer,) = inbox.only(p.CallOffer)
    assert harness.board.next_due() <= harness.clock() + offer.ring_timeout_s
    harness.advance(offer.ring_timeout_s - 0.5)
    assert inbox.only(p.OfferWithdrawn) == []
    harness.advance(0.5)
    assert [m.reason for m in inbox.only(p.OfferWithdrawn)] == ["timeout"]


def test_a_tick_saves_the_queue_once_it_changed(harness) -> None:
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kenchiku-shido"))
    assert harness.store.load_queue() is None
    harness.board.tick()
    (caller,) = harness.store.load_queue()["callers"]
    assert caller["kiosk_id"] == "kiosk-ueda"


def _costly_saves(harness, took_s: float) -> None:
    """Every save of the queue from now on takes ``took_s`` on the cost clock (called before and after)."""
    ticks = iter(range(10**6))
    harness.cost_clock = lambda: next(ticks) * took_s
    harness.board = harness._build()


def _saved_kiosks(harness) -> list[str]:
    return [caller["kiosk_id"] for caller in harness.store.load_queue()["callers"]]


def test_after_a_costly_save_the_next_change_waits_until_saves_took_a_tenth_of_the_time(harness) -> None:
    _costly_saves(harness, took_s=0.25)
    harness.send(harness.connect(kiosk("kiosk-a"))[0], p.RequestCall(department="kenchiku-shido"))
    harness.board.tick()
    assert _saved_kiosks(harness) == ["kiosk-a"]
    harness.send(harness.connect(kiosk("kiosk-b"))[0], p.RequestCall(department="kenchiku-shido"))
    harness.board.tick()
    assert _saved_kiosks(harness) == ["kiosk-a"]  # held: 0.25 s of saving allows one more after 2.25 s
    harness.advance(2.2)
    assert _saved_kiosks(harness) == ["kiosk-a"]
    assert harness.board.next_due() == pytest.approx(harness.clock() + 0.05)  # the held save's own deadline
    harness.advance(0.05)
    assert _saved_kiosks(harness) == ["kiosk-a", "kiosk-b"]


def test_a_restart_while_a_save_is_held_loses_nobody(harness) -> None:
    _costly_saves(harness, took_s=1.0)
    for name in ("kiosk-a", "kiosk-b", "kiosk-c"):
        harness.send(harness.connect(kiosk(name))[0], p.RequestCall(department="kenchiku-shido"))
        harness.clock.advance(1.0)
        harness.board.tick()
    assert _saved_kiosks(harness) == ["kiosk-a"]  # b and c held (9 s after a save of 1 s)
    board = harness.restart()  # as after kill -9: the call records know b and c
    waiting = board.router.waiting("kenchiku-shido")
    assert [board.calls[call_id].record.kiosk_id for call_id in waiting] == ["kiosk-a", "kiosk-b", "kiosk-c"]


def test_shutdown_saves_the_queue_and_stops_every_deadline(harness) -> None:
    k, _ = harness.connect(kiosk())
    _, o_inbox = harness.connect(officer())
    harness.send(k, p.RequestCall(department="kosodate"))
    harness.board.shutdown()
    assert len(harness.store.load_queue()["callers"]) == 1
    o_inbox.take()
    harness.advance(3600)
    assert o_inbox.messages == [] and len(harness.board.calls) == 1


async def test_run_timers_fires_the_edge_deadlines_by_itself(make_harness, monkeypatch) -> None:
    """On the real clock and loop. With no cap on a sleep, the batch can only go out because its deadline
    woke the sleeper, and run_timers can only end because shutdown woke it: both are waits on the outcome
    (20 s bounds, never reached when it works), no duration is asserted. When the batch goes out is tested
    on the fake clock (test_switchboard_positions)."""
    monkeypatch.setattr(timers_module, "MAX_SLEEP_S", 3600.0)
    harness = make_harness(clock=time.time)
    k, inbox = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kenchiku-shido"))
    (call_id,) = harness.board.calls
    timers = asyncio.create_task(harness.board.run_timers())
    inbox.take()
    inbox.arrived.clear()
    harness.board.apply([QueuePosition(call_id, "kenchiku-shido", 3, 90.0)])  # coalesced: not yet sent
    assert inbox.texts == []
    due = harness.board.next_due()
    assert due is not None and due <= harness.clock() + POSITION_BATCH_S
    await asyncio.wait_for(inbox.arrived.wait(), 20)
    assert [m.position for m in inbox.only(p.Queued)] == [3]
    harness.board.shutdown()
    await asyncio.wait_for(timers, 20)  # woken: uncapped, it would sleep for an hour
    assert timers.exception() is None


def test_a_failing_deadline_stops_no_other(make_harness, caplog) -> None:
    failures = []

    def fail_once(event: str, data: dict) -> None:
        if event == "call_ended" and not failures:
            failures.append(data["call_id"])
            raise RuntimeError("a listener failed")

    harness = make_harness(setup_timeout_s=5, listeners=[fail_once])
    officers = [harness.connect(officer(name))[0] for name in ("hanako", "jiro")]
    for n, kiosk_id in enumerate(("kiosk-ueda", "kiosk-tonan")):
        k, _ = harness.connect(kiosk(kiosk_id))
        harness.send(k, p.RequestCall(department="kosodate"))
        (call_id,) = [c for c in harness.board.calls if harness.board.calls[c].record.kiosk_id == kiosk_id]
        harness.send(officers[n], p.AcceptCall(call_id=call_id))
    assert len(harness.board.calls) == 2
    harness.advance(5)  # both setup deadlines fall due in this tick; the first one's listener fails
    assert harness.board.calls == {} and len(failures) == 1
    assert "failed" in caplog.text
