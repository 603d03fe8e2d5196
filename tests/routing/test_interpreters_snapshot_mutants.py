"""The interpreter pool's waiting requests across a restart, pinned for ``./run-mutation routing``: the
saved form, reading it back, the requests waiting again in their order with who declined, and each
request's place and estimate."""

from __future__ import annotations

import pytest

from signaling_server.routing.interpreters import InterpreterPool
from signaling_server.routing.interpreters_decisions import InterpretationWaiting, OfferInterpretation
from signaling_server.routing.interpreters_snapshot import (
    InterpreterSnapshot,
    InterpreterSnapshotError,
    WaitingRequest,
)

from .conftest import FakeClock


def new_pool(clock: FakeClock) -> InterpreterPool:
    return InterpreterPool(clock=clock, ring_timeout_s=20, wrap_up_s=30, default_session_s=600)


def test_the_snapshot_is_written_and_read_back_whole() -> None:
    snapshot = InterpreterSnapshot(
        (WaitingRequest("c1", "tl", 10.5, ("jose", "maria")), WaitingRequest("c2", "vi", 11.0)),
        {"c3": "ne"},
    )
    saved = snapshot.to_json()
    assert saved == {
        "requests": [
            {"call_id": "c1", "language": "tl", "requested_at": 10.5, "tried": ["jose", "maria"]},
            {"call_id": "c2", "language": "vi", "requested_at": 11.0, "tried": []},
        ],
        "asked": {"c3": "ne"},
    }
    assert InterpreterSnapshot.from_json(saved) == snapshot
    assert InterpreterSnapshot().to_json() == {"requests": [], "asked": {}}
    assert InterpreterSnapshot.from_json(None) == InterpreterSnapshot()
    assert InterpreterSnapshot.from_json({}) == InterpreterSnapshot((), {})
    bare = WaitingRequest.from_json({"call_id": 7, "language": "tl", "requested_at": "3"})
    assert bare == WaitingRequest("7", "tl", 3.0, ())


@pytest.mark.parametrize(
    "saved",
    [
        {"requests": [{"language": "tl", "requested_at": 1}]},
        {"requests": [{"call_id": "c1", "language": "tl", "requested_at": "soon"}]},
        {"requests": "not a list of requests"},
        {"asked": ["c1"]},
    ],
)
def test_a_snapshot_this_version_cannot_read_is_refused_by_name(saved: dict) -> None:
    with pytest.raises(InterpreterSnapshotError, match="interpreter snapshot field is missing or wrong"):
        InterpreterSnapshot.from_json(saved)


def test_requests_wait_again_in_their_order_and_are_not_closed_while_held(clock: FakeClock) -> None:
    pool = new_pool(clock)
    saved = [
        WaitingRequest("late", "tl", clock() - 10),
        WaitingRequest("early", "tl", clock() - 60, ("maria",)),
        WaitingRequest("vi1", "vi", clock() - 30),
    ]
    out = pool.restore_requests(saved, hold_s=60)
    assert out == [
        InterpretationWaiting("early", "tl", 1, None),  # nobody on duty yet: no estimate
        InterpretationWaiting("vi1", "vi", 1, None),
        InterpretationWaiting("late", "tl", 2, None),
    ]
    assert [w.call_id for w in pool.waiting()] == ["early", "vi1", "late"]
    assert pool.stats()["languages"]["tl"]["requested"] == 2
    assert pool.next_deadline() == clock() + 60
    assert pool.restore_requests([WaitingRequest("early", "tl", 0.0)], hold_s=60) == []  # waiting already
    out = pool.online("maria", ["tl"])  # declined "early" before the restart: offered "late"
    assert [d.call_id for d in out if isinstance(d, OfferInterpretation)] == ["late"]
    assert pool.status_of("late") == ("tl", "ringing", None, None)
    assert pool.status_of("early") == ("tl", "waiting", 1, 600.0)
    assert pool.status_of("vi1") == ("vi", "waiting", 1, None) and pool.status_of("nothing") is None
    clock.advance(59)
    pool.tick()
    assert pool.request_of("early") == ("tl", None)  # held: still waiting for a speaker to sign in
    pool.online("jose", ["tl"])
    assert pool.request_of("early") == ("tl", "jose")


def test_waiting_lists_every_live_request_with_who_declined(clock: FakeClock) -> None:
    pool = new_pool(clock)
    for name in ("maria", "jose"):
        pool.online(name, ["tl"])
    pool.request("c1", "tl")
    first = pool.request_of("c1")
    assert first is not None and first[1] is not None
    pool.decline(first[1], "c1")
    (waiting,) = pool.waiting()
    assert (waiting.call_id, waiting.language, waiting.requested_at) == ("c1", "tl", clock())
    assert waiting.tried == (first[1],)


def test_a_held_request_is_closed_once_its_hold_is_over(clock: FakeClock) -> None:
    pool = new_pool(clock)
    pool.restore_requests(
        [WaitingRequest("c1", "tl", clock()), WaitingRequest("c2", "vi", clock(), ("x",))], 60
    )
    clock.advance(59.5)
    assert pool.tick() == []  # held: nobody on duty, but they may be signing in again
    clock.advance(0.5)  # exactly the end of the hold
    out = pool.tick()
    assert [(d.call_id, d.outcome) for d in out] == [("c1", "unavailable"), ("c2", "no_answer")]
    assert pool.waiting() == () and pool.next_deadline() is None
    pool.online("maria", ["tl"])
    assert pool.request("c3", "tl") != [] and pool.ringing("maria") == "c3"


def test_every_request_is_looked_at_after_an_event(clock: FakeClock) -> None:
    pool = new_pool(clock)
    pool.restore_requests([WaitingRequest("held", "tl", clock())], 60)  # first in line, held
    pool.online("maria", ["vi"])
    pool.request("c1", "vi")  # rings maria
    out = pool.request("c2", "ne")  # nobody speaks Nepali: closed at once, whatever waits before it
    assert [(d.call_id, d.outcome) for d in out if hasattr(d, "outcome")] == [("c2", "unavailable")]
    assert pool.request_of("c2") is None and pool.ringing("maria") == "c1"
