"""The sign-in failure summary (one audit entry per address and window) and ``LoginThrottle.refund``,
driven by a fake clock: the fast unit tests behind what tests/security/test_signin_bursts.py shows over a
real server."""

from __future__ import annotations

import time

import pytest

from signaling_server.ratelimit import FailureSummary, FailureWindow, LoginThrottle


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


REFUSAL = "^window_s must be > 0 and max_addresses >= 1$"


def test_summary_defaults_are_a_minute_and_ten_thousand_addresses_on_the_wall_clock() -> None:
    before = time.time()
    summary = FailureSummary()
    window = summary.add("10.0.0.1", "alice", "password")
    assert before <= window.first_at <= time.time()
    assert (summary.window_s, summary.max_addresses) == (60.0, 10_000)
    for n in range(2, 10_001):
        summary.add(f"10.0.{n // 256}.{n % 256}", "x", "password")
    assert len(summary) == 10_000 and summary.due() == []
    summary.add("10.1.0.1", "x", "password")  # the 10,001st address hands the oldest out early
    assert len(summary) == 10_000
    assert [w.remote for w in summary.due()] == ["10.0.0.1"]


@pytest.mark.parametrize(("window_s", "max_addresses"), [(0, 5), (-1, 5), (60, 0), (0, 0)])
def test_summary_refuses_an_empty_window_or_no_room(window_s: float, max_addresses: int) -> None:
    with pytest.raises(ValueError, match=REFUSAL):
        FailureSummary(window_s, max_addresses, FakeClock())


def test_summary_accepts_the_smallest_settings() -> None:
    clock = FakeClock(0.0)
    summary = FailureSummary(0.5, 1, clock)
    assert (summary.window_s, summary.max_addresses) == (0.5, 1)
    summary.add("a", "alice", "password")
    assert len(summary) == 1 and summary.due() == []
    clock.advance(0.5)
    assert [w.remote for w in summary.due()] == ["a"]


def test_one_window_per_address_counts_every_failure_in_it() -> None:
    clock = FakeClock()
    summary = FailureSummary(60, 10, clock)
    first = summary.add("10.0.0.1", "alice", "password")
    assert (first.remote, first.first_at, first.last_at, first.count) == ("10.0.0.1", 1000.0, 1000.0, 1)
    clock.advance(59)
    again = summary.add("10.0.0.1", "bob", "pin")
    assert again is first
    assert (again.count, again.first_at, again.last_at) == (2, 1000.0, 1059.0)
    assert again.identities == ["alice", "bob"] and again.kinds == {"password", "pin"}
    other = summary.add("10.0.0.2", "carol", "password")
    assert other is not first and other.count == 1 and len(summary) == 2


def test_a_failure_at_the_window_s_end_starts_a_new_window() -> None:
    clock = FakeClock()
    summary = FailureSummary(60, 10, clock)
    old = summary.add("10.0.0.1", "alice", "password")
    clock.advance(60)
    new = summary.add("10.0.0.1", "bob", "password")
    assert new is not old
    assert (new.count, new.first_at, new.last_at, new.identities) == (1, 1060.0, 1060.0, ["bob"])
    assert (old.count, old.last_at) == (1, 1000.0)
    assert summary.due() == [old]  # the closed one, handed out once
    assert summary.due() == []
    assert len(summary) == 1


def test_identities_keep_the_first_five_distinct_names_cut_at_64() -> None:
    summary = FailureSummary(60, 10, FakeClock())
    long_name = "n" * 100
    for who in ["a", "a", long_name, long_name, "b", "c", "d", "e", "f"]:
        window = summary.add("r", who, "password")
    assert window.identities == ["a", "n" * 64, "b", "c", "d"]  # the long name tried twice: once
    assert window.count == 9 and window.kinds == {"password"}


def test_past_max_addresses_the_oldest_window_is_handed_out_early() -> None:
    clock = FakeClock()
    summary = FailureSummary(60, 2, clock)
    first = summary.add("a", "x", "password")
    clock.advance(1)
    second = summary.add("b", "x", "password")
    summary.add("a", "y", "password")  # counting again does not make it younger
    assert len(summary) == 2
    clock.advance(1)
    summary.add("c", "x", "password")
    assert len(summary) == 2
    assert summary.due() == [first]
    assert summary.due() == []
    clock.advance(60)
    assert [w.remote for w in summary.due()] == ["b", "c"]
    assert second.count == 1 and first.count == 2


def test_due_hands_out_only_closed_windows_unless_everything() -> None:
    clock = FakeClock()
    summary = FailureSummary(60, 10, clock)
    summary.add("a", "x", "password")
    clock.advance(30)
    summary.add("b", "x", "password")
    clock.advance(29)
    assert summary.due() == [] and len(summary) == 2
    clock.advance(1)
    assert [w.remote for w in summary.due(everything=False)] == ["a"]
    assert len(summary) == 1
    assert [w.remote for w in summary.due(everything=True)] == ["b"]
    assert len(summary) == 0 and summary.due(everything=True) == []


def test_due_puts_the_early_windows_first() -> None:
    clock = FakeClock()
    summary = FailureSummary(60, 10, clock)
    summary.add("a", "x", "password")
    clock.advance(60)
    summary.add("a", "y", "password")  # closes the first window early
    summary.add("b", "z", "password")
    windows = summary.due(everything=True)
    assert [(w.remote, w.identities) for w in windows] == [("a", ["x"]), ("a", ["y"]), ("b", ["z"])]


def test_a_window_s_details_are_the_audit_entry() -> None:
    window = FailureWindow("r" * 100, 10.5, 70.25, count=7, locked=3)
    window.identities = ["i" * 64] * 5
    window.kinds = {"pin", "password", "bearer"}
    details = window.details()
    assert details == {
        "remote": "r" * 64,
        "count": 7,
        "locked_out": 3,
        "first_at": 10.5,
        "last_at": 70.25,
        "identities": ",".join(["i" * 64] * 5)[:300],
        "kinds": "bearer,password,pin",
    }
    assert len(str(details["identities"])) == 300


def test_details_join_the_names_with_commas() -> None:
    window = FailureWindow("10.0.0.1", 1.0, 2.0, count=2)
    window.identities = ["alice", "bob"]
    window.kinds = {"password"}
    details = window.details()
    assert (details["identities"], details["kinds"]) == ("alice,bob", "password")


def throttle_with(failures: int, clock: FakeClock) -> LoginThrottle:
    throttle = LoginThrottle(max_failures=3, base_lockout_s=30, max_lockout_s=900, clock=clock)
    for _ in range(failures):
        throttle.failure("user:alice")
    return throttle


def test_refund_takes_back_one_failure() -> None:
    clock = FakeClock(0.0)
    throttle = throttle_with(2, clock)
    throttle.refund("user:alice")
    assert throttle.failures("user:alice") == 1 and len(throttle) == 1
    throttle.refund("user:alice")
    assert throttle.failures("user:alice") == 0 and len(throttle) == 0


def test_refund_lifts_the_lockout_the_refunded_failure_caused() -> None:
    clock = FakeClock(0.0)
    throttle = throttle_with(3, clock)
    assert throttle.check("user:alice") == 30
    throttle.refund("user:alice")
    assert throttle.failures("user:alice") == 2
    assert throttle.check("user:alice") == 0.0


def test_refund_keeps_a_lockout_earned_without_the_refunded_failure() -> None:
    clock = FakeClock(0.0)
    throttle = throttle_with(4, clock)
    assert throttle.check("user:alice") == 60
    throttle.refund("user:alice")
    assert throttle.failures("user:alice") == 3
    assert throttle.check("user:alice") == 60


def test_refund_of_an_unknown_or_forgotten_key_does_nothing() -> None:
    clock = FakeClock(0.0)
    throttle = throttle_with(1, clock)
    throttle.refund("user:bob")
    assert len(throttle) == 1 and throttle.failures("user:alice") == 1
    clock.advance(3600)
    throttle.refund("user:alice")
    assert len(throttle) == 0


def test_refund_refuses_a_bad_key() -> None:
    throttle = throttle_with(0, FakeClock())
    with pytest.raises(ValueError, match="non-empty string"):
        throttle.refund("")
