"""The interpreter pool, event by event, on a fake clock."""

from __future__ import annotations

import pytest

from signaling_server.routing.interpreters import InterpreterPool
from signaling_server.routing.interpreters_decisions import (
    IllegalInterpreterTransition,
    InterpretationClosed,
    InterpretationRinging,
    InterpretationWaiting,
    InterpreterState,
    InterpreterStateChanged,
    JoinInterpreter,
    OfferInterpretation,
    PoolError,
    WithdrawInterpretation,
)

from .conftest import FakeClock

S = InterpreterState


def of(kind: type, decisions: list) -> list:
    return [d for d in decisions if isinstance(d, kind)]


@pytest.fixture
def pool(clock: FakeClock) -> InterpreterPool:
    return InterpreterPool(clock=clock, ring_timeout_s=20, wrap_up_s=30, default_session_s=600)


def test_a_language_nobody_speaks_is_unavailable_at_once(pool: InterpreterPool):
    pool.online("maria", ["tl", "es"])
    out = pool.request("c1", "ne")
    assert out == [InterpretationClosed("c1", "ne", "unavailable")]
    assert pool.request_of("c1") is None
    assert pool.stats()["languages"]["ne"]["unavailable"] == 1


def test_the_longest_idle_speaker_is_offered_and_joins(pool: InterpreterPool, clock: FakeClock):
    pool.online("maria", ["tl"])
    clock.advance(5)
    pool.online("jose", ["tl", "es"])
    out = pool.request("c1", "tl")
    assert of(OfferInterpretation, out) == [OfferInterpretation("maria", "c1", "tl", 20, 0.0)]
    assert of(InterpretationRinging, out) == [InterpretationRinging("c1", "tl")]
    assert pool.state("maria") is S.RINGING and pool.state("jose") is S.AVAILABLE
    clock.advance(3)
    out = pool.accept("maria", "c1")
    assert JoinInterpreter("c1", "maria", "tl", 3.0) in out
    assert pool.session_of("c1") == ("maria", "tl")
    assert pool.state("maria") is S.IN_CALL


def test_decline_goes_to_the_next_and_the_last_decline_is_no_answer(pool: InterpreterPool):
    pool.online("a", ["vi"])
    pool.online("b", ["vi"])
    first = of(OfferInterpretation, pool.request("c1", "vi"))[0].interpreter_id
    out = pool.decline(first, "c1")
    assert WithdrawInterpretation(first, "c1", "declined") in out
    second = of(OfferInterpretation, out)[0].interpreter_id
    assert second != first
    out = pool.decline(second, "c1")
    assert InterpretationClosed("c1", "vi", "no_answer") in out
    assert not of(OfferInterpretation, out)  # nobody is offered it a third time
    assert pool.state("a") is S.AVAILABLE and pool.state("b") is S.AVAILABLE


def test_ringing_out_sets_the_interpreter_away_and_offers_the_next(pool: InterpreterPool, clock: FakeClock):
    pool.online("a", ["ko"])
    clock.advance(1)
    pool.online("b", ["ko"])
    pool.request("c1", "ko")
    assert pool.next_deadline() == clock.now + 20
    clock.advance(20)
    out = pool.tick()
    assert WithdrawInterpretation("a", "c1", "timeout") in out
    assert InterpreterStateChanged("a", S.AWAY, "no_answer") in out
    assert of(OfferInterpretation, out)[0].interpreter_id == "b"
    clock.advance(20)
    out = pool.tick()
    assert InterpretationClosed("c1", "ko", "no_answer") in out


def test_requests_wait_fifo_with_place_and_estimate(pool: InterpreterPool, clock: FakeClock):
    pool.online("a", ["zh"])
    pool.request("c1", "zh")
    pool.accept("a", "c1")
    out2 = pool.request("c2", "zh")
    out3 = pool.request("c3", "zh")
    assert of(InterpretationWaiting, out2) == [InterpretationWaiting("c2", "zh", 1, 600.0)]
    assert of(InterpretationWaiting, out3) == [InterpretationWaiting("c3", "zh", 2, 1200.0)]
    clock.advance(300)
    out = pool.leave("c1")  # a 300 s session: the estimate follows it
    assert InterpreterStateChanged("a", S.WRAP_UP, None) in out
    assert of(InterpretationWaiting, out) == [
        InterpretationWaiting("c2", "zh", 1, 300.0),
        InterpretationWaiting("c3", "zh", 2, 600.0),
    ]
    clock.advance(30)
    out = pool.tick()  # wrap-up over: the head of the queue is offered, the second moves up
    assert of(OfferInterpretation, out)[0].call_id == "c2"
    assert of(InterpretationWaiting, out) == [InterpretationWaiting("c3", "zh", 1, 300.0)]


def test_cancel_withdraws_the_ring_and_frees_the_interpreter(pool: InterpreterPool):
    pool.online("a", ["jsl"])
    pool.request("c1", "jsl")
    out = pool.cancel("c1")
    assert WithdrawInterpretation("a", "c1", "caller_left") in out
    assert InterpretationClosed("c1", "jsl", "cancelled") in out
    assert pool.state("a") is S.AVAILABLE
    with pytest.raises(PoolError, match="no interpreter request"):
        pool.cancel("c1")


def test_bad_events_are_refused_with_a_reason(pool: InterpreterPool):
    pool.online("a", ["en"])
    pool.online("b", ["en"])
    pool.request("c1", "en")
    with pytest.raises(PoolError, match="already waiting"):
        pool.request("c1", "en")
    with pytest.raises(PoolError, match="not ringing for interpreter b"):
        pool.accept("b", "c1")
    pool.accept("a", "c1")
    with pytest.raises(PoolError, match="not ringing"):
        pool.accept("a", "c1")  # a reused accept
    with pytest.raises(PoolError, match="already has an interpreter"):
        pool.request("c1", "en")
    with pytest.raises(PoolError, match="in_call: cannot go away"):
        pool.set_away("a", "break")
    with pytest.raises(PoolError, match="already signed in"):
        pool.online("a", ["en"])


def test_the_transition_table_names_both_states(pool: InterpreterPool):
    pool.online("a", ["en"])
    pool.set_away("a", "break")
    with pytest.raises(IllegalInterpreterTransition, match="away → in_call"):
        pool._move(pool._interpreters["a"], S.IN_CALL, None, [])


def test_an_interpreter_going_offline_while_ringing_passes_the_request_on(pool: InterpreterPool):
    pool.online("a", ["fr"])
    pool.online("b", ["fr"])
    pool.request("c1", "fr")
    out = pool.offline("a")
    assert of(OfferInterpretation, out)[0].interpreter_id == "b"
    out = pool.offline("b")
    assert InterpretationClosed("c1", "fr", "no_answer") in out


def test_minutes_per_language_add_up(pool: InterpreterPool, clock: FakeClock):
    pool.online("a", ["pt"])
    pool.request("c1", "pt")
    clock.advance(10)
    pool.accept("a", "c1")
    clock.advance(90)
    assert pool.stats()["languages"]["pt"]["minutes"] == 1.5  # live session counted
    pool.leave("c1")
    clock.advance(600)
    pool.tick()
    stats = pool.stats()["languages"]["pt"]
    assert stats["minutes"] == 1.5
    assert stats["requested"] == stats["joined"] == 1
    assert stats["wait_p50_s"] == 10.0
    assert pool.state("a") is S.AVAILABLE
