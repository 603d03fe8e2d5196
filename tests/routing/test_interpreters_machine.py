"""Random event sequences against the interpreter pool (Hypothesis RuleBasedStateMachine).

The machine plays the server: sign-ins and sign-outs, requests, cancels, accepts, declines, leaves, away
and back, and the clock passing ring timeouts and wrap-ups. It applies every decision to its own model of
what the server believes and checks after each step: an interpreter is never offered two requests at once,
a request is never offered to two interpreters at once, a request of a language nobody on duty speaks is
closed "unavailable", every request ends in exactly one outcome, states move only along the table, and
the statistics add up.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from signaling_server.routing.interpreters import InterpreterPool
from signaling_server.routing.interpreters_decisions import (
    INTERPRETER_TRANSITIONS,
    ON_DUTY,
    InterpretationClosed,
    InterpreterState,
    InterpreterStateChanged,
    JoinInterpreter,
    OfferInterpretation,
    PoolError,
    WithdrawInterpretation,
)

from .conftest import FakeClock

S = InterpreterState
LANGUAGES = ["en", "ne", "jsl"]
SPEAKS = {"i1": {"en"}, "i2": {"en", "ne"}, "i3": {"jsl"}, "i4": {"ne", "jsl"}}
INTERPRETERS = sorted(SPEAKS)
CALLS = [f"c{n}" for n in range(6)]


class PoolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.pool = InterpreterPool(clock=self.clock, ring_timeout_s=20, wrap_up_s=10)
        self.state = dict.fromkeys(INTERPRETERS, S.OFFLINE)
        self.ringing: dict[str, str] = {}  # interpreter -> call it is offered
        self.offered: dict[str, str] = {}  # call -> interpreter ringing for it
        self.live: dict[str, str] = {}  # call -> language of its open request
        self.joined: dict[str, str] = {}  # call -> interpreter in it
        self.outcomes: dict[str, int] = {}
        self.requested = 0

    def apply(self, decisions: list) -> None:
        for d in decisions:
            if isinstance(d, InterpreterStateChanged):
                old = self.state[d.interpreter_id]
                assert d.state in INTERPRETER_TRANSITIONS[old], f"{old} → {d.state}"
                self.state[d.interpreter_id] = d.state
            elif isinstance(d, OfferInterpretation):
                assert d.interpreter_id not in self.ringing, "an interpreter offered two requests"
                assert d.call_id not in self.offered, "a request offered to two interpreters"
                assert d.language in SPEAKS[d.interpreter_id]
                self.ringing[d.interpreter_id] = d.call_id
                self.offered[d.call_id] = d.interpreter_id
            elif isinstance(d, WithdrawInterpretation):
                assert self.ringing.pop(d.interpreter_id) == d.call_id
                del self.offered[d.call_id]
            elif isinstance(d, JoinInterpreter):
                assert self.ringing.pop(d.interpreter_id) == d.call_id
                del self.offered[d.call_id]
                del self.live[d.call_id]
                self.joined[d.call_id] = d.interpreter_id
                self.outcomes["joined"] = self.outcomes.get("joined", 0) + 1
            elif isinstance(d, InterpretationClosed):
                assert d.call_id not in self.offered
                del self.live[d.call_id]
                self.outcomes[d.outcome] = self.outcomes.get(d.outcome, 0) + 1

    def on_duty(self, language: str) -> bool:
        return any(self.state[i] in ON_DUTY and language in SPEAKS[i] for i in INTERPRETERS)

    def attempt(self, event, *args) -> list | None:
        try:
            out = event(*args)
        except PoolError:
            return None
        self.apply(out)
        return out

    @rule(who=st.sampled_from(INTERPRETERS))
    def sign_in(self, who: str) -> None:
        self.attempt(self.pool.online, who, SPEAKS[who])

    @rule(who=st.sampled_from(INTERPRETERS))
    def sign_out(self, who: str) -> None:
        in_call = [c for c, i in self.joined.items() if i == who]
        if self.attempt(self.pool.offline, who) is not None:
            for call in in_call:
                del self.joined[call]

    @rule(call=st.sampled_from(CALLS), language=st.sampled_from(LANGUAGES))
    def request(self, call: str, language: str) -> None:
        if call in self.joined or call in self.live:
            assert self.attempt(self.pool.request, call, language) is None
            return
        available = self.on_duty(language)
        self.live[call] = language
        out = self.attempt(self.pool.request, call, language)
        assert out is not None
        self.requested += 1
        if not available:
            assert InterpretationClosed(call, language, "unavailable") in out

    @rule(call=st.sampled_from(CALLS))
    def cancel(self, call: str) -> None:
        self.attempt(self.pool.cancel, call)

    @rule(who=st.sampled_from(INTERPRETERS), call=st.sampled_from(CALLS))
    def accept(self, who: str, call: str) -> None:
        expected = self.ringing.get(who) == call
        assert (self.attempt(self.pool.accept, who, call) is not None) == expected

    @rule(who=st.sampled_from(INTERPRETERS), call=st.sampled_from(CALLS))
    def decline(self, who: str, call: str) -> None:
        self.attempt(self.pool.decline, who, call)

    @rule(call=st.sampled_from(CALLS))
    def leave(self, call: str) -> None:
        if self.attempt(self.pool.leave, call) is not None:
            del self.joined[call]

    @rule(who=st.sampled_from(INTERPRETERS), away=st.booleans())
    def status(self, who: str, away: bool) -> None:
        if away:
            self.attempt(self.pool.set_away, who, "break")
        else:
            self.attempt(self.pool.set_available, who)

    @rule(seconds=st.sampled_from([1.0, 10.0, 20.0, 60.0]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.apply(self.pool.tick())

    @invariant()
    def offers_match_states(self) -> None:
        for who in INTERPRETERS:
            assert (self.state[who] is S.RINGING) == (who in self.ringing)
            assert self.pool.state(who) is self.state[who]
        for call, language in self.live.items():
            assert self.pool.request_of(call) == (language, self.offered.get(call))

    @invariant()
    def statistics_add_up(self) -> None:
        languages = self.pool.stats()["languages"]
        assert sum(s["requested"] for s in languages.values()) == self.requested
        for outcome in ("joined", "unavailable", "no_answer", "cancelled"):
            assert sum(s[outcome] for s in languages.values()) == self.outcomes.get(outcome, 0)
        live = sum(s["waiting"] + s["ringing"] for s in languages.values())
        assert live == len(self.live)
        assert self.requested == sum(self.outcomes.values()) + live

    @invariant()
    def a_waiting_request_has_someone_on_duty(self) -> None:
        for call, language in self.live.items():
            assert self.on_duty(language), f"{call} waits for {language} that nobody on duty speaks"


PoolMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestPoolMachine = PoolMachine.TestCase
