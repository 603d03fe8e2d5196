"""Token bucket and login throttle, driven by a fake clock."""

from __future__ import annotations

import math

import pytest

from signaling_server.ratelimit import LoginThrottle, TokenBucket, address_key, user_key


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_bucket_allows_burst_then_refills_at_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=2, burst=5, clock=clock)
    assert [bucket.allow() for _ in range(6)] == [True] * 5 + [False]
    assert bucket.retry_after() == pytest.approx(0.5)
    clock.advance(0.49)
    assert not bucket.allow()
    clock.advance(0.01)
    assert bucket.allow()
    assert not bucket.allow()
    clock.advance(100)  # refill is capped at the burst
    assert bucket.tokens == 5
    assert [bucket.allow() for _ in range(6)] == [True] * 5 + [False]


def test_bucket_costs_and_failed_attempts_spend_nothing() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=1, burst=10, clock=clock)
    assert bucket.allow(cost=7)
    assert not bucket.allow(cost=4)  # 3 left: refused, and nothing spent
    assert bucket.allow(cost=3)
    assert bucket.retry_after(cost=2) == pytest.approx(2)
    clock.advance(1.5)
    assert bucket.allow(cost=1.5)


def test_bucket_sustained_rate_matches_configuration() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=50, burst=200, clock=clock)
    allowed = 0
    for _ in range(10_000):  # 1000 attempts per second for 10 simulated seconds
        clock.advance(0.001)
        allowed += bucket.allow()
    assert allowed == pytest.approx(200 + 50 * 10, abs=2)


def test_bucket_ignores_a_clock_stepping_backwards() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=1, burst=1, clock=clock)
    assert bucket.allow()
    clock.advance(-50)
    assert not bucket.allow()
    clock.advance(1)
    assert bucket.allow()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"rate_per_s": 0, "burst": 1}, "rate_per_s"),
        ({"rate_per_s": math.inf, "burst": 1}, "rate_per_s"),
        ({"rate_per_s": 1, "burst": 0}, "burst"),
        ({"rate_per_s": 1, "burst": 2.5}, "burst"),
    ],
)
def test_bucket_bad_configuration(kwargs: dict, fragment: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=fragment):
        TokenBucket(**kwargs)


def test_bucket_bad_cost() -> None:
    bucket = TokenBucket(1, 3, clock=FakeClock())
    with pytest.raises(ValueError, match="exceeds the burst 3"):
        bucket.allow(cost=4)
    with pytest.raises(ValueError, match="positive"):
        bucket.allow(cost=0)


def test_throttle_locks_after_max_failures_and_doubles() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=3, base_lockout_s=30, max_lockout_s=200, clock=clock)
    key = user_key("Tanaka")
    assert [throttle.failure(key) for _ in range(2)] == [0.0, 0.0]
    assert throttle.check(key) == 0.0
    assert throttle.failure(key) == 30  # third failure: locked for the base lockout
    clock.advance(10)
    assert throttle.check(key) == pytest.approx(20)
    clock.advance(20)
    assert throttle.check(key) == 0.0
    expected = [60, 120, 200, 200]  # each further failure doubles, capped at max_lockout_s
    for lockout in expected:
        assert throttle.failure(key) == lockout
        clock.advance(lockout)
        assert throttle.check(key) == 0.0
    assert throttle.failures(key) == 7


def test_throttle_success_clears_and_keys_are_independent() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=2, base_lockout_s=30, clock=clock)
    throttle.failure("user:a")
    throttle.failure("user:a")
    assert throttle.check("user:a") == 30
    assert throttle.check("user:b") == 0
    throttle.success("user:a")
    assert throttle.check("user:a") == 0 and throttle.failures("user:a") == 0
    assert throttle.failure("user:a") == 0  # counting starts again from zero


def test_throttle_forgets_old_failures() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(
        max_failures=2, base_lockout_s=30, max_lockout_s=60, forget_after_s=600, clock=clock
    )
    throttle.failure("k")
    clock.advance(599)
    assert throttle.failures("k") == 1
    clock.advance(1)
    assert throttle.failures("k") == 0 and len(throttle) == 0
    assert throttle.failure("k") == 0


def test_login_throttles_username_and_address() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=3, base_lockout_s=30, clock=clock)
    # One address trying many accounts gets locked out by address.
    for name in ("sato", "suzuki", "takahashi"):
        throttle.login_failed(name, "10.1.2.3")
    assert throttle.check_login("watanabe", "10.1.2.3") == 30
    assert throttle.check_login("watanabe", "10.1.2.4") == 0
    # One account attacked from many addresses gets locked out by username (case-insensitively).
    for host in ("10.9.0.1", "10.9.0.2", "10.9.0.3"):
        throttle.login_failed("Kato", host)
    assert throttle.check_login("kato", "10.9.0.99") == 30
    # The rightful owner signing in later clears the account, but not the guessing address.
    clock.advance(30)
    throttle.login_succeeded("sato", "10.1.2.3")
    assert throttle.failures(user_key("sato")) == 0
    assert throttle.failures(address_key("10.1.2.3")) == 3


def test_throttle_memory_is_bounded() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=2, clock=clock, max_keys=100)
    throttle.failure("victim")
    throttle.failure("victim")  # locked
    for i in range(1000):
        clock.advance(0.001)
        throttle.failure(f"spray-{i}")
    assert len(throttle) == 100
    assert throttle.check("victim") > 0  # locked keys are kept while unlocked ones are dropped


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_failures": 0}, "max_failures"),
        ({"base_lockout_s": 0}, "base_lockout_s"),
        ({"base_lockout_s": 100, "max_lockout_s": 10}, "max_lockout_s"),
        ({"forget_after_s": 10}, "forget_after_s"),
    ],
)
def test_throttle_bad_configuration(kwargs: dict, fragment: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=fragment):
        LoginThrottle(**kwargs)


def test_throttle_bad_keys() -> None:
    throttle = LoginThrottle(clock=FakeClock())
    with pytest.raises(ValueError, match="non-empty"):
        throttle.check("")
    with pytest.raises(ValueError, match="at most 256"):
        throttle.failure("x" * 257)
