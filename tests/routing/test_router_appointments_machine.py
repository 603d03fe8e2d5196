"""The router's state machine again, with residents checking in for appointments among the walk-ins.

Everything `RouterMachine` checks still holds (no caller lost or duplicated, FIFO within a priority,
statistics add up, ...), and besides: an early arrival waits outside every queue until its slot; a due
appointment is ahead of every walk-in; a caller set aside for its booked officer never waits while that
officer is free, and only within the officer's turn; no other caller waits beside a free officer.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from signaling_server.routing import AppointmentClaim, CallerRemoved, HoldForSlot, OfficerState

from .test_router_machine import DEP_IDS, DEPARTMENTS, OFFICERS, SKILLS, RouterMachine


class AppointmentMachine(RouterMachine):
    def apply(self, out: list) -> None:
        if not hasattr(self, "early"):
            self.early: dict[str, float] = {}  # call -> slot start
        for call, slot in list(self.early.items()):
            if slot <= self.clock.now and call in self.live:  # the router admits it at its slot
                del self.early[call]
                self.queued.add(call)
        super().apply(out)
        for d in out:
            if isinstance(d, HoldForSlot):
                self.early[d.call_id] = d.slot_start
            elif isinstance(d, CallerRemoved):
                self.early.pop(d.call_id, None)

    @rule(
        dep=st.sampled_from(DEP_IDS),
        officer=st.sampled_from([*OFFICERS, None]),
        offset=st.sampled_from([-130.0, -10.0, 0.0, 5.0, 20.0, 70.0, 200.0]),
        first=st.sampled_from([0.0, 30.0, 60.0]),
    )
    def check_in(self, dep: str, officer: str | None, offset: float, first: float) -> None:
        call = f"c{next(self.ids)}"
        claim = AppointmentClaim(f"b-{call}", self.clock.now + offset, officer, first)
        out = self.router.join(call, dep, kiosk_id="k-appt", appointment=claim)
        self.live.add(call)
        if offset > 0:
            assert [d for d in out if isinstance(d, HoldForSlot)] == [
                HoldForSlot(call, dep, claim.slot_start, claim.booking_id)
            ]
        else:
            self.queued.add(call)
        self.apply(out)

    def _early(self) -> dict[str, float]:
        return getattr(self, "early", {})

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
            if call in self._early():
                assert info["state"] == "early" and info["appointment"]["slot_start"] > self.clock.now
                continue
            assert info["state"] in {"queued", "ringing", "connected", "held"}
            assert call in self.queued or call in self.connected or call in self.held.values()

    @invariant()
    def no_waiting_caller_next_to_an_idle_officer(self) -> None:
        for dep in DEP_IDS:
            for call in self.router.waiting(dep):
                info = self.router.call_info(call)
                booked = info["reserved_for"]
                if booked is not None:
                    assert info["appointment"]["officer_id"] == booked
                    assert self.state[booked] is not OfficerState.AVAILABLE or info["state"] == "ringing", (
                        f"{call} waits for {booked}, who is free"
                    )
                    turn_ends = info["entered_at"] + info["appointment"]["officer_first_s"]
                    assert self.clock.now < turn_ends, f"{call} is still reserved after its officer's turn"
                    continue
                if info["state"] != "queued":
                    continue
                for officer in OFFICERS:
                    if (
                        self.state[officer] is OfficerState.AVAILABLE
                        and SKILLS[officer].get(dep) == "primary"
                    ):
                        raise AssertionError(f"{officer} idle while {call} waits in {dep}")

    @invariant()
    def no_overflowed_caller_next_to_an_idle_secondary_officer(self) -> None:
        for officer in OFFICERS:
            if self.state[officer] is not OfficerState.AVAILABLE:
                continue
            for dep, level in SKILLS[officer].items():
                after = DEPARTMENTS[DEP_IDS.index(dep)].overflow_after_s
                if level != "secondary" or after is None:
                    continue
                for call in self.router.waiting(dep):
                    info = self.router.call_info(call)
                    if info["reserved_for"] is not None:  # its booked officer's turn: nobody else's
                        continue
                    overflowed = self.clock.now - info["entered_at"] >= after
                    assert not (info["state"] == "queued" and overflowed), (
                        f"{officer} idle, {call} overflowed"
                    )

    @invariant()
    def due_appointments_are_ahead_of_walk_ins(self) -> None:
        for dep in DEP_IDS:
            infos = [self.router.call_info(c) for c in self.router.waiting(dep)]
            walk_in_seen = False
            for info in infos:
                if info["priority"] == 1:
                    walk_in_seen = True
                elif info["appointment"] is not None:
                    assert not walk_in_seen, f"walk-in ahead of appointment {info['call_id']} in {dep}"


AppointmentMachine.TestCase.settings = settings(
    max_examples=100,
    report_multiple_bugs=False,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAppointmentMachine = AppointmentMachine.TestCase
