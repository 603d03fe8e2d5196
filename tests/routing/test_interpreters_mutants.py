"""The interpreter pool where ``./run-mutation routing`` found nothing in tests/routing reaching it: an
interpreter's reason and ring, a session restored after a restart, a call that ends with a request or an
interpreter in it."""

from __future__ import annotations

import pytest

from signaling_server.routing.interpreters import InterpreterPool
from signaling_server.routing.interpreters_decisions import (
    InterpretationClosed,
    InterpreterState,
    InterpreterStateChanged,
    OfferInterpretation,
    PoolError,
    WithdrawInterpretation,
)

from .conftest import FakeClock

S = InterpreterState


@pytest.fixture
def pool(clock: FakeClock) -> InterpreterPool:
    return InterpreterPool(clock=clock, ring_timeout_s=20, wrap_up_s=30, default_session_s=600)


def test_reason_and_ringing_follow_the_interpreter(pool: InterpreterPool) -> None:
    assert (pool.reason("maria"), pool.ringing("maria")) == (None, None)  # never signed in
    pool.online("maria", ["tl"])
    assert (pool.reason("maria"), pool.ringing("maria")) == (None, None)
    pool.set_away("maria", "break")
    assert (pool.reason("maria"), pool.ringing("maria")) == ("break", None)
    pool.set_available("maria")
    pool.request("c1", "tl")
    assert (pool.reason("maria"), pool.ringing("maria")) == (None, "c1")
    pool.accept("maria", "c1")
    assert pool.ringing("maria") is None  # in the call, no longer ringing


def test_an_interpreter_left_ringing_goes_away_for_no_answer(pool: InterpreterPool, clock: FakeClock) -> None:
    pool.online("maria", ["tl"])
    pool.request("c1", "tl")
    clock.advance(20)
    pool.tick()
    assert (pool.state("maria"), pool.reason("maria"), pool.ringing("maria")) == (S.AWAY, "no_answer", None)


def test_a_restored_session_holds_the_interpreter_in_the_call(
    pool: InterpreterPool, clock: FakeClock
) -> None:
    out = pool.restore_session("c9", "maria", ["tl", "es"], "tl", clock() - 90)
    assert out == [InterpreterStateChanged("maria", S.IN_CALL, None)]
    assert (pool.state("maria"), pool.session_of("c9"), pool.ringing("maria")) == (
        S.IN_CALL,
        ("maria", "tl"),
        None,
    )
    assert pool.stats()["interpreters"] == {"maria": {"state": "in_call", "languages": ["es", "tl"]}}
    with pytest.raises(PoolError, match="in use already"):
        pool.restore_session("c9", "jose", ["tl"], "tl", clock())  # the call has its interpreter
    with pytest.raises(PoolError, match="in use already"):
        pool.restore_session("c8", "maria", ["tl"], "tl", clock())  # the interpreter is in a call
    with pytest.raises(PoolError, match="already has an interpreter"):
        pool.request("c9", "tl")
    clock.advance(30)
    pool.leave("c9")
    assert pool.stats()["languages"]["tl"]["minutes"] == 2.0  # in the call since 120 s ago
    clock.advance(30)
    pool.tick()
    assert pool.state("maria") is S.AVAILABLE
    out = pool.request("c2", "es")  # its restored languages: offered a Spanish call
    assert [d.interpreter_id for d in out if isinstance(d, OfferInterpretation)] == ["maria"]


def test_a_restored_session_for_an_interpreter_online_is_refused(
    pool: InterpreterPool, clock: FakeClock
) -> None:
    pool.online("maria", ["tl"])
    with pytest.raises(PoolError, match="interpreter maria or call c9 is in use already"):
        pool.restore_session("c9", "maria", ["tl"], "tl", clock())
    assert pool.session_of("c9") is None and pool.state("maria") is S.AVAILABLE


def test_a_restored_session_for_an_interpreter_signed_out_takes_it_back(
    pool: InterpreterPool, clock: FakeClock
) -> None:
    pool.online("maria", ["tl"])
    pool.offline("maria")
    pool.restore_session("c9", "maria", ["vi"], "vi", clock())
    assert (pool.state("maria"), pool.session_of("c9")) == (S.IN_CALL, ("maria", "vi"))


def test_a_call_gone_cancels_its_request_or_lets_its_interpreter_go(pool: InterpreterPool) -> None:
    assert pool.call_gone("nothing") == []
    pool.online("maria", ["tl"])
    pool.request("c1", "tl")  # ringing maria
    out = pool.call_gone("c1")
    assert WithdrawInterpretation("maria", "c1", "caller_left") in out
    assert InterpretationClosed("c1", "tl", "cancelled") in out
    assert pool.state("maria") is S.AVAILABLE and pool.request_of("c1") is None
    pool.request("c2", "tl")
    pool.accept("maria", "c2")
    out = pool.call_gone("c2")
    assert out == [InterpreterStateChanged("maria", S.WRAP_UP, None)]
    assert pool.session_of("c2") is None and pool.call_gone("c2") == []


def test_going_offline_while_ringing_or_in_a_call(pool: InterpreterPool, clock: FakeClock) -> None:
    pool.online("maria", ["tl"])
    pool.online("jose", ["tl"])
    pool.request("c1", "tl")
    ringing = next(n for n in ("maria", "jose") if pool.ringing(n) == "c1")
    other = "jose" if ringing == "maria" else "maria"
    out = pool.offline(ringing)
    assert WithdrawInterpretation(ringing, "c1", "timeout") in out
    assert pool.ringing(other) == "c1"  # offered to the next one at once
    pool.accept(other, "c1")
    pool.online(ringing, ["tl"])  # back: c1 is served, nothing rings
    clock.advance(90)
    out = pool.offline(other)  # gone in the middle of the call: the session ends
    assert out == [InterpreterStateChanged(other, S.OFFLINE, None)]
    assert pool.session_of("c1") is None and pool.stats()["languages"]["tl"]["minutes"] == 1.5
    assert pool.offline(other) == []  # offline already


def test_going_away_while_ringing_declines_and_keeps_the_reason(pool: InterpreterPool) -> None:
    pool.online("maria", ["tl"])
    pool.online("jose", ["tl"])
    pool.request("busy", "tl")
    first = next(n for n in ("maria", "jose") if pool.ringing(n) == "busy")
    pool.accept(first, "busy")
    second = "jose" if first == "maria" else "maria"
    pool.request("c1", "tl")
    out = pool.set_away(second, "break")
    assert WithdrawInterpretation(second, "c1", "declined") in out
    assert (pool.state(second), pool.reason(second)) == (S.AWAY, "break")
    assert pool.request_of("c1") == ("tl", None)  # waits for the busy one
    assert pool.next_deadline() is None  # nothing rings, nobody is in wrap-up
    pool.set_available(second)
    assert pool.ringing(second) is None  # it declined c1: not offered it again
    assert [w.tried for w in pool.waiting()] == [(second,)]


def test_accepting_what_rings_for_someone_else_is_refused(pool: InterpreterPool) -> None:
    pool.online("maria", ["tl"])
    pool.request("c1", "tl")
    pool.online("jose", ["tl"])
    with pytest.raises(PoolError):
        pool.accept("jose", "c1")
    assert pool.ringing("maria") == "c1" and pool.session_of("c1") is None


def test_leaving_starts_the_wrap_up_which_ends_on_time(pool: InterpreterPool, clock: FakeClock) -> None:
    with pytest.raises(PoolError, match="call c9 has no interpreter"):
        pool.leave("c9")
    pool.online("maria", ["tl"])
    pool.request("c1", "tl")
    clock.advance(5)
    pool.tick()  # 5 s into a 20 s ring: still ringing
    assert pool.ringing("maria") == "c1"
    pool.accept("maria", "c1")
    pool.leave("c1")
    assert pool.next_deadline() == clock() + 30
    clock.advance(29)
    pool.tick()
    assert pool.state("maria") is S.WRAP_UP
    clock.advance(1)
    pool.tick()
    assert pool.state("maria") is S.AVAILABLE and pool.next_deadline() is None


def test_the_pools_defaults_and_the_settings_it_refuses(clock: FakeClock) -> None:
    pool = InterpreterPool(clock=clock)
    assert (pool.ring_timeout_s, pool.wrap_up_s) == (20.0, 30.0)
    pool.online("maria", ["tl"])
    pool.online("jose", ["tl"])
    for call_id in ("c1", "c2"):
        pool.request(call_id, "tl")
        pool.accept(next(n for n in ("maria", "jose") if pool.ringing(n) == call_id), call_id)
    assert pool.request("c3", "tl")[-1].estimate_s == 600.0  # the default session, before any ended
    InterpreterPool(clock=clock, ring_timeout_s=0.5, wrap_up_s=0, default_session_s=0.5)  # the smallest
    for settings in ({"ring_timeout_s": 0}, {"wrap_up_s": -1}, {"default_session_s": 0}):
        with pytest.raises(
            ValueError, match=r"^ring timeout and session length must be positive, wrap-up not"
        ):
            InterpreterPool(clock=clock, **settings)
