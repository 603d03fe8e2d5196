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
        ({"max_failures": True}, "max_failures"),
        ({"max_failures": 2.5}, "max_failures"),
        ({"max_keys": 0}, "max_keys"),
    ],
)
def test_throttle_bad_configuration(kwargs: dict, fragment: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=fragment):
        LoginThrottle(**kwargs)


def test_throttle_bad_keys() -> None:
    throttle = LoginThrottle(clock=FakeClock())
    with pytest.raises(ValueError, match=r"^throttle key must be a non-empty string$"):
        throttle.check("")
    with pytest.raises(ValueError, match="at most 256"):
        throttle.failure("x" * 257)
    assert throttle.failure("x" * 256) == 0.0  # the longest key allowed


def test_bucket_full_retry_after_is_zero_and_a_cost_of_the_whole_burst_fits() -> None:
    bucket = TokenBucket(rate_per_s=2, burst=3, clock=FakeClock())
    assert bucket.retry_after() == 0.0 and bucket.retry_after(cost=3) == 0.0
    assert bucket.allow(cost=3) and not bucket.allow()


@pytest.mark.parametrize("cost", [2, 1.5])
def test_bucket_refuses_a_cost_above_the_burst_whatever_the_cost(cost: float) -> None:
    bucket = TokenBucket(rate_per_s=1, burst=1, clock=FakeClock())
    with pytest.raises(ValueError, match="exceeds the burst 1"):
        bucket.allow(cost=cost)


def test_the_sign_in_policy_of_the_server() -> None:
    """LoginThrottle() as the app and the IT dashboard build it: locked after the 5th failure for 30 s,
    doubling to at most 15 minutes; a key quiet for an hour is forgotten."""
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    assert [throttle.failure("k") for _ in range(5)] == [0.0, 0.0, 0.0, 0.0, 30.0]
    assert [throttle.lockout_for(n) for n in (6, 9, 10, 50)] == [60.0, 480.0, 900.0, 900.0]
    clock.advance(3599)
    assert throttle.failures("k") == 5
    clock.advance(1)
    assert throttle.failures("k") == 0


def test_the_server_remembers_100_000_keys() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for i in range(100_001):
        throttle.failure(f"spray-{i}")
    assert len(throttle) == 100_000 and throttle.failures("spray-0") == 0


def test_the_smallest_settings_are_accepted() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(
        max_failures=1, base_lockout_s=0.5, max_lockout_s=0.5, forget_after_s=0.5, max_keys=1, clock=clock
    )
    assert throttle.failure("a") == 0.5  # the first failure locks, for the fixed lockout
    assert throttle.failure("b") == 0.5 and len(throttle) == 1


def test_a_lockout_stops_doubling_after_62_doublings() -> None:
    throttle = LoginThrottle(
        max_failures=1, base_lockout_s=1, max_lockout_s=math.inf, forget_after_s=math.inf
    )
    assert throttle.lockout_for(64) == throttle.lockout_for(10_000) == 2.0**62  # and never overflows


def test_a_key_whose_lockout_and_quiet_period_end_together_is_forgotten_then() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(
        max_failures=1, base_lockout_s=30, max_lockout_s=30, forget_after_s=30, clock=clock
    )
    throttle.failure("k")
    clock.advance(30)
    assert throttle.failures("k") == 0 and len(throttle) == 0


def test_eviction_drops_a_lockout_that_ends_this_instant_before_an_unlocked_newer_key() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=2, base_lockout_s=30, max_keys=1, clock=clock)
    throttle.failure("a")
    throttle.failure("a")  # locked until now + 30
    clock.advance(30)
    throttle.failure("b")  # one key too many: "a" is no longer locked, so it goes
    assert (throttle.failures("a"), throttle.failures("b")) == (0, 1)


def test_when_every_key_is_locked_only_the_oldest_is_dropped() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_failures=1, max_keys=2, clock=clock)
    for key in ("a", "b", "c"):
        clock.advance(1)
        throttle.failure(key)
    assert len(throttle) == 2
    assert [throttle.failures(key) for key in ("a", "b", "c")] == [0, 1, 1]


def test_signing_in_without_earlier_failures_clears_nothing_and_raises_nothing() -> None:
    throttle = LoginThrottle(clock=FakeClock())
    throttle.login_succeeded("sato", "10.1.2.3")
    throttle.success("user:nobody")
    assert len(throttle) == 0
