"""Queue places: the first at once, later changes coalesced to one per POSITION_BATCH_S per resident."""

from __future__ import annotations

from remote_call import protocol as p
from signaling_server.calls import Call
from signaling_server.routing import QueuePosition
from signaling_server.store import CallRecord
from signaling_server.switchboard import Client
from signaling_server.switchboard.positions import POSITION_BATCH_S, PositionBatcher
from signaling_server.switchboard.roster import Roster
from signaling_server.switchboard.timers import EdgeTimers, FlushPositions

from .conftest import Inbox, kiosk


def waiting(call_id: str, kiosk_id: str, now: float) -> Call:
    return Call(CallRecord(call_id, kiosk_id, "kosodate", None, "ja", "queued", now))


def setup(clock) -> tuple[PositionBatcher, EdgeTimers, dict[str, Call], Inbox]:
    calls = {"c1": waiting("c1", "kiosk-ueda", clock())}
    roster = Roster()
    inbox = Inbox()
    roster.kiosks["kiosk-ueda"] = Client(kiosk("kiosk-ueda"), inbox.send_raw, inbox.close)
    timers = EdgeTimers(clock)
    return PositionBatcher(calls, roster, timers), timers, calls, inbox


def fire(timers: EdgeTimers, batcher: PositionBatcher, now: float) -> None:
    for due in timers.pop_due(now):
        assert isinstance(due, FlushPositions)
        batcher.flush(due)


def test_the_first_place_goes_at_once_later_ones_coalesce(clock) -> None:
    batcher, timers, _calls, inbox = setup(clock)
    batcher.place(QueuePosition("c1", "kosodate", 6, 720.04))
    assert [(m.position, m.ewt_s) for m in inbox.take()] == [(6, 720.0)]  # the kiosk learns its call id
    batcher.place(QueuePosition("c1", "kosodate", 5, 600.0))
    batcher.place(QueuePosition("c1", "kosodate", 4, None))
    assert inbox.texts == [] and timers.next_due() == clock() + POSITION_BATCH_S
    fire(timers, batcher, clock() + POSITION_BATCH_S / 2)
    assert inbox.texts == []
    fire(timers, batcher, clock() + POSITION_BATCH_S)
    assert [(m.position, m.ewt_s) for m in inbox.only(p.Queued)] == [(4, None)]  # the latest only


def test_a_call_answered_meanwhile_gets_no_stale_place(clock) -> None:
    batcher, timers, calls, inbox = setup(clock)
    batcher.place(QueuePosition("c1", "kosodate", 3, 60.0))
    batcher.place(QueuePosition("c1", "kosodate", 2, 30.0))
    calls["c1"].move(p.CallState.RINGING, clock())
    calls["c1"].move(p.CallState.CONNECTING, clock())
    inbox.take()
    fire(timers, batcher, clock() + POSITION_BATCH_S)
    assert inbox.texts == []


def test_an_immediate_place_replaces_a_pending_one(clock) -> None:
    batcher, timers, _calls, inbox = setup(clock)
    batcher.place(QueuePosition("c1", "kosodate", 3, 60.0))
    batcher.place(QueuePosition("c1", "kosodate", 2, 30.0))
    batcher.place(QueuePosition("c1", "kosodate", 1, 0.0), immediate=True)  # a resumed kiosk
    fire(timers, batcher, clock() + POSITION_BATCH_S)
    assert [m.position for m in inbox.only(p.Queued)] == [3, 1]


def test_no_place_for_an_unknown_call_or_an_absent_kiosk(clock) -> None:
    batcher, timers, calls, inbox = setup(clock)
    batcher.place(QueuePosition("nobody", "kosodate", 1, 0.0))
    calls["c2"] = waiting("c2", "kiosk-tonan", clock())  # its kiosk is not connected
    batcher.place(QueuePosition("c2", "kosodate", 2, 0.0))
    assert inbox.texts == [] and not calls["c2"].position_sent and timers.next_due() is None
