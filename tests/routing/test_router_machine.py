"""Random event sequences against the router (Hypothesis RuleBasedStateMachine).

The machine plays the server: it sends joins, leaves, accepts, declines, timeouts (by moving the
injected clock), disconnects, transfers and restarts, applies every decision to its own model of what
the server believes, and checks after each step that no caller is lost or duplicated, no officer is
offered two callers, queues are FIFO within a priority, officers moved only along allowed transitions
and the statistics add up.
"""

from __future__ import annotations

import itertools
import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from signaling_server.routing import (
    ALLOWED_TRANSITIONS,
    CallerRemoved,
    CaseAdvanced,
    Connect,
    JoinRefused,
    OfficerState,
    OfficerStateChanged,
    RequeueCaller,
    Ring,
    Router,
    RouterError,
    SkillLevel,
    WithdrawRing,
)
from signaling_server.routing.states import SERVING_STATES

from .conftest import FakeClock, make_department

P = SkillLevel.PRIMARY
S = SkillLevel.SECONDARY

DEPARTMENTS = [
    make_department("a", overflow_after_s=60, max_queue=6),
    make_department("b", strategy="ring_all", wrap_up_s=0),
    make_department("c", strategy="fewest_calls", wrap_up_s=5, overflow_after_s=None),
    make_department("os", kind="one_stop", one_stop_departments=["a", "c"]),
]
DEP_IDS = [d.id for d in DEPARTMENTS]
SKILLS = {
    "o1": {"a": P, "b": P},
    "o2": {"a": P, "c": S},
    "o3": {"b": P, "c": P},
    "o4": {"os": P, "a": S},
    "o5": {"c": P, "os": P, "b": S},
}
OFFICERS = sorted(SKILLS)
KIOSKS = ["k1", "k2", "k3", ""]


class RouterMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.clock = FakeClock()
        self.router = Router(DEPARTMENTS, clock=self.clock, rejoin_grace_s=120, position_push_s=15)
        self.ids = itertools.count()
        self.state = dict.fromkeys(OFFICERS, OfficerState.OFFLINE)
        self.ringing: dict[str, str] = {}  # officer -> call it is being offered
        self.connected: dict[str, str] = {}  # call -> officer
        self.held: dict[str, str] = {}  # officer -> call held across a restart
        self.queued: set[str] = set()
        self.live: set[str] = set()
        self.warm: set[str] = set()  # calls with a warm transfer pending

    # ------------------------------------------------------------ applying decisions

    def apply(self, out: list) -> None:
        for d in out:
            if isinstance(d, OfficerStateChanged):
                old = self.state[d.officer_id]
                assert d.state in ALLOWED_TRANSITIONS[old], f"{d.officer_id}: {old} -> {d.state}"
                if d.state is not OfficerState.RINGING:
                    self.ringing.pop(d.officer_id, None)
                if old is OfficerState.IN_CALL and d.state is not OfficerState.IN_CALL:
                    for call, officer in list(self.connected.items()):
                        if officer == d.officer_id:
                            del self.connected[call]
                            self.warm.discard(call)
                if d.state is OfficerState.IN_CALL and d.reason == "resumed":
                    self.connected[self.held.pop(d.officer_id)] = d.officer_id
                self.state[d.officer_id] = d.state
            elif isinstance(d, Ring):
                assert self.state[d.officer_id] is OfficerState.RINGING
                assert d.officer_id not in self.ringing, f"{d.officer_id} offered two callers"
                assert d.call_id in self.queued and d.call_id in self.live
                assert d.ring_timeout_s > 0
                self.ringing[d.officer_id] = d.call_id
            elif isinstance(d, WithdrawRing):
                assert self.ringing.get(d.officer_id) == d.call_id
                del self.ringing[d.officer_id]
            elif isinstance(d, Connect):
                assert self.state[d.officer_id] is OfficerState.IN_CALL
                self.connected[d.call_id] = d.officer_id
                self.queued.discard(d.call_id)
                self.warm.discard(d.call_id)
            elif isinstance(d, CallerRemoved):
                self.live.discard(d.call_id)
                self.held = {o: c for o, c in self.held.items() if c != d.call_id}
                self.queued.discard(d.call_id)
                self.connected.pop(d.call_id, None)
            elif isinstance(d, RequeueCaller) or (isinstance(d, CaseAdvanced) and d.to_department):
                self.queued.add(d.call_id)
                self.held = {o: c for o, c in self.held.items() if c != d.call_id}

    def officer(self, data: st.DataObject, states: set[OfficerState] | None = None) -> str | None:
        choices = [o for o in OFFICERS if states is None or self.state[o] in states]
        return data.draw(st.sampled_from(choices)) if choices else None

    def call(self, data: st.DataObject, pool: set[str] | list[str]) -> str | None:
        choices = sorted(pool)
        return data.draw(st.sampled_from(choices)) if choices else None

    # ------------------------------------------------------------ officer events

    @rule(data=st.data())
    def officer_online(self, data: st.DataObject) -> None:
        officer = self.officer(data)
        self.apply(self.router.officer_online(officer, SKILLS[officer]))

    @rule(data=st.data())
    def officer_offline(self, data: st.DataObject) -> None:
        officer = self.officer(data)
        self.apply(self.router.officer_offline(officer))
        assert self.router.officer_state(officer) is OfficerState.OFFLINE

    @rule(data=st.data(), reason=st.sampled_from(["break", "counter", "meeting"]))
    def set_away(self, data: st.DataObject, reason: str) -> None:
        officer = self.officer(data)
        legal = self.state[officer] in {
            OfficerState.AVAILABLE,
            OfficerState.WRAP_UP,
            OfficerState.AWAY,
            OfficerState.RINGING,
        }
        try:
            self.apply(self.router.set_away(officer, reason))
        except RouterError:
            assert not legal
        else:
            assert legal

    @rule(data=st.data())
    def set_available(self, data: st.DataObject) -> None:
        officer = self.officer(data)
        legal = self.state[officer] in {OfficerState.AVAILABLE, OfficerState.WRAP_UP, OfficerState.AWAY}
        try:
            self.apply(self.router.set_available(officer))
        except RouterError:
            assert not legal
        else:
            assert legal

    @precondition(lambda self: self.ringing)
    @rule(data=st.data())
    def accept(self, data: st.DataObject) -> None:
        officer = self.call(data, set(self.ringing))
        if officer is not None:
            self.apply(self.router.accept(officer, self.ringing[officer]))

    @rule(data=st.data())
    def accept_wrong_call(self, data: st.DataObject) -> None:
        officer = self.officer(data)
        call = self.call(data, self.live)
        if call is not None and self.ringing.get(officer) != call:
            try:
                self.router.accept(officer, call)
            except RouterError:
                return
            raise AssertionError("accepting a call that is not offered must fail")

    @precondition(lambda self: self.ringing)
    @rule()
    def answer_every_offer(self) -> None:
        for officer in sorted(self.ringing):
            call = self.ringing.get(officer)
            if call is not None:
                self.apply(self.router.accept(officer, call))

    @precondition(lambda self: self.ringing)
    @rule(data=st.data())
    def decline(self, data: st.DataObject) -> None:
        officer = self.call(data, set(self.ringing))
        if officer is not None:
            self.apply(self.router.decline(officer, self.ringing[officer]))

    # ------------------------------------------------------------ caller events

    @rule(dep=st.sampled_from(DEP_IDS), kiosk=st.sampled_from(KIOSKS), head=st.booleans())
    def join(self, dep: str, kiosk: str, head: bool) -> None:
        call = f"c{next(self.ids)}"
        try:
            out = self.router.join(call, dep, kiosk_id=kiosk, head=head)
        except JoinRefused as refused:
            assert refused.reason == "queue_full"
            assert len(self.router.waiting(dep)) >= 6
            return
        self.live.add(call)
        self.queued.add(call)
        self.apply(out)

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        call = self.call(data, self.live)
        if call is not None:
            out = self.router.leave(call)
            assert CallerRemoved(call, "cancelled") in out
            self.apply(out)
            assert call not in self.live

    @precondition(lambda self: self.connected or self.held)
    @rule(data=st.data(), outcome=st.sampled_from([None, "resolved", "other"]))
    def call_finished(self, data: st.DataObject, outcome: str | None) -> None:
        call = self.call(data, set(self.connected) | set(self.held.values()))
        if call is None:
            return
        out = self.router.call_finished(call, outcome=outcome)
        held_officer = next((o for o, c in self.held.items() if c == call), None)
        if held_officer is not None:
            del self.held[held_officer]
        self.apply(out)
        advanced = any(isinstance(d, CaseAdvanced) and d.to_department for d in out)
        if call not in self.queued and not advanced:
            self.live.discard(call)
        self.connected.pop(call, None)

    @precondition(lambda self: self.connected)
    @rule(data=st.data())
    def requeue(self, data: st.DataObject) -> None:
        call = self.call(data, set(self.connected))
        if call is not None:
            self.apply(self.router.requeue(call))
            assert call in self.queued

    @precondition(lambda self: set(self.connected) - self.queued)
    @rule(data=st.data(), to=st.sampled_from(DEP_IDS), warm=st.booleans())
    def transfer(self, data: st.DataObject, to: str, warm: bool) -> None:
        call = self.call(data, set(self.connected) - self.queued)
        if call is None:
            return
        self.queued.add(call)
        if warm:
            self.warm.add(call)
        self.apply(self.router.transfer(call, to, "note", warm=warm))

    @precondition(lambda self: self.warm)
    @rule(data=st.data())
    def cancel_transfer(self, data: st.DataObject) -> None:
        call = self.call(data, {c for c in self.warm if c in self.connected and c in self.queued})
        if call is not None:
            self.queued.discard(call)
            self.warm.discard(call)
            self.apply(self.router.cancel_transfer(call))

    # ------------------------------------------------------------ time and restarts

    @rule(seconds=st.sampled_from([0.5, 3, 6, 15, 21, 61, 125]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        deadline = self.router.next_deadline()
        out = self.router.tick()
        self.apply(out)
        after = self.router.next_deadline()
        assert after is None or after > self.clock.now
        if deadline is not None and deadline > self.clock.now:
            assert out == []

    @rule()
    def restart(self) -> None:
        snap = json.loads(json.dumps(self.router.snapshot()))
        stats_before = self.router.stats()
        self.router = Router(DEPARTMENTS, clock=self.clock, rejoin_grace_s=120, position_push_s=15)
        self.router.restore(snap)
        for dep in DEP_IDS:
            for key in ("offered", "answered", "abandoned", "requeued"):
                assert self.router.stats()["departments"][dep][key] == stats_before["departments"][dep][key]
        self.held.update({officer: call for call, officer in self.connected.items()})
        self.connected.clear()
        self.ringing.clear()
        self.warm.clear()
        self.state = dict.fromkeys(OFFICERS, OfficerState.OFFLINE)

    # ------------------------------------------------------------ invariants

    @invariant()
    def officers_match_the_model(self) -> None:
        for officer in OFFICERS:
            assert self.router.officer_state(officer) is self.state[officer]
            if self.state[officer] is OfficerState.RINGING:
                assert officer in self.ringing
        for call, officer in self.connected.items():
            assert self.state[officer] is OfficerState.IN_CALL, (call, officer)

    @invariant()
    def no_caller_lost_or_duplicated(self) -> None:
        queued: list[str] = []
        for dep in DEP_IDS:
            queued += self.router.waiting(dep)
        assert len(queued) == len(set(queued)), "a caller is queued twice"
        assert set(queued) == self.queued
        assert self.queued <= self.live
        for call in self.live:
            info = self.router.call_info(call)
            assert info["state"] in {"queued", "ringing", "connected", "held"}
            assert call in self.queued or call in self.connected or call in self.held.values()

    @invariant()
    def fifo_within_priority(self) -> None:
        for dep in DEP_IDS:
            keys = [
                (info["priority"], info["join_time"])
                for info in (self.router.call_info(c) for c in self.router.waiting(dep))
            ]
            assert keys == sorted(keys)

    @invariant()
    def no_waiting_caller_next_to_an_idle_officer(self) -> None:
        for officer in OFFICERS:
            if self.state[officer] is not OfficerState.AVAILABLE:
                continue
            for dep, level in SKILLS[officer].items():
                if level is P:
                    states = {self.router.call_info(c)["state"] for c in self.router.waiting(dep)}
                    assert "queued" not in states, f"{officer} idle while {dep} has a caller waiting"

    @invariant()
    def no_overflowed_caller_next_to_an_idle_secondary_officer(self) -> None:
        for officer in OFFICERS:
            if self.state[officer] is not OfficerState.AVAILABLE:
                continue
            for dep, level in SKILLS[officer].items():
                after = DEPARTMENTS[DEP_IDS.index(dep)].overflow_after_s
                if level is not S or after is None:
                    continue
                for call in self.router.waiting(dep):
                    info = self.router.call_info(call)
                    overflowed = self.clock.now - info["entered_at"] >= after
                    assert not (info["state"] == "queued" and overflowed), (
                        f"{officer} idle, {call} overflowed"
                    )

    @invariant()
    def one_wait_estimate_consistent_with_the_officers(self) -> None:
        stats = self.router.stats()["departments"]
        for dep in DEP_IDS:
            status = self.router.department_status(dep)
            estimate, waiting = status.estimate, len(self.router.waiting(dep))
            primary = [o for o in OFFICERS if SKILLS[o].get(dep) is P]
            free = [o for o in primary if self.state[o] in (OfficerState.AVAILABLE, OfficerState.RINGING)]
            serving = [o for o in primary if self.state[o] in SERVING_STATES]
            state = estimate.state.value
            assert (state == "no_wait") == (estimate.minutes == 0), (dep, estimate)
            assert (state in ("closed", "no_officer")) == (estimate.minutes is None), (dep, estimate)
            if state == "no_wait":
                assert len(free) > waiting, (dep, estimate, free)
            if state == "nobody_waiting_officers_busy":
                assert waiting == 0 and not free and serving, (dep, estimate)
            if state == "wait":
                assert waiting > 0 and len(free) <= waiting, (dep, estimate)
            assert (state == "no_officer") == (status.open and not serving), (dep, estimate)
            # The console's statistics carry the same estimate the board and the kiosks get.
            assert (stats[dep]["wait_state"], stats[dep]["wait_minutes"]) == (state, estimate.minutes)

    @invariant()
    def statistics_add_up(self) -> None:
        stats = self.router.stats()
        answered = 0
        for dep in DEP_IDS:
            s = stats["departments"][dep]
            entered = s["offered"] + s["requeued"]
            left = s["answered"] + s["abandoned"] + s["withdrawn"]
            assert entered == left + len(self.router.waiting(dep)), (dep, s)
            assert s["answered_within_sl"] <= s["answered"]
            assert s["waiting"] == len(self.router.waiting(dep))
            answered += s["answered"]
        assert answered == sum(o["answered"] for o in stats["officers"].values())
        json.dumps(stats)


RouterMachine.TestCase.settings = settings(
    max_examples=120,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRouterMachine = RouterMachine.TestCase
