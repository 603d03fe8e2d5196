"""Rate limiting: a token bucket for messages and requests, and a login throttle with growing lockouts.

Pure logic with an injected clock (``time.monotonic`` by default), so it is tested with a fake clock and
never sleeps. The server keeps one ``TokenBucket`` per websocket connection
(``ServerConfig.messages_per_second`` / ``message_burst``) and one ``LoginThrottle`` for sign-ins, asking it
about both the username and the remote address (``check_login``), so neither guessing one account's
password from many addresses nor many accounts from one address gets far.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]
MAX_KEY_CHARS = 256


class TokenBucket:
    """``rate_per_s`` tokens per second accumulate up to ``burst``; each action spends ``cost`` tokens."""

    def __init__(self, rate_per_s: float, burst: int, clock: Clock = time.monotonic) -> None:
        if not (isinstance(rate_per_s, int | float) and math.isfinite(rate_per_s) and rate_per_s > 0):
            raise ValueError(f"rate_per_s must be a positive finite number, got {rate_per_s!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst must be an int >= 1, got {burst!r}")
        self.rate_per_s = float(rate_per_s)
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._last
        if elapsed > 0:  # a clock that steps backwards adds nothing
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
        self._last = now

    def _check_cost(self, cost: float) -> None:
        if not (isinstance(cost, int | float) and math.isfinite(cost) and cost > 0):
            raise ValueError(f"cost must be a positive finite number, got {cost!r}")
        if cost > self.burst:
            raise ValueError(f"cost {cost} exceeds the burst {self.burst}: it could never be allowed")

    def allow(self, cost: float = 1) -> bool:
        """Spend ``cost`` tokens if available (True); otherwise spend nothing (False)."""
        if cost != 1:  # one token always fits a burst >= 1; the check costs 5 % of a relayed message
            self._check_cost(cost)
        self._refill()
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False

    def retry_after(self, cost: float = 1) -> float:
        """Seconds until ``allow(cost)`` would succeed (0 if it would now)."""
        self._check_cost(cost)
        self._refill()
        return max(0.0, (cost - self._tokens) / self.rate_per_s)

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens


@dataclass(slots=True)
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


def user_key(username: str) -> str:
    return "user:" + username.strip().casefold()


def address_key(remote: str) -> str:
    return "addr:" + remote.strip().lower()


class LoginThrottle:
    """Lock a key out after ``max_failures`` consecutive failures; each further failure doubles the lockout.

    The n-th consecutive failure (n >= max_failures) locks the key for
    ``min(base_lockout_s * 2 ** (n - max_failures), max_lockout_s)`` seconds. ``success`` clears the key;
    a key without failures for ``forget_after_s`` is forgotten. At most ``max_keys`` keys are remembered
    (the least recently failed unlocked ones are dropped first), so spraying names cannot exhaust memory.
    """

    def __init__(
        self,
        max_failures: int = 5,
        base_lockout_s: float = 30,
        max_lockout_s: float = 900,
        clock: Clock = time.monotonic,
        forget_after_s: float = 3600,
        max_keys: int = 100_000,
    ) -> None:
        if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < 1:
            raise ValueError(f"max_failures must be an int >= 1, got {max_failures!r}")
        if not base_lockout_s > 0:
            raise ValueError(f"base_lockout_s must be > 0, got {base_lockout_s!r}")
        if not max_lockout_s >= base_lockout_s:
            raise ValueError(f"max_lockout_s ({max_lockout_s}) must be >= base_lockout_s ({base_lockout_s})")
        if not forget_after_s >= max_lockout_s:
            raise ValueError(f"forget_after_s ({forget_after_s}) must be >= max_lockout_s ({max_lockout_s})")
        if max_keys < 1:
            raise ValueError(f"max_keys must be >= 1, got {max_keys!r}")
        self.max_failures = max_failures
        self.base_lockout_s = float(base_lockout_s)
        self.max_lockout_s = float(max_lockout_s)
        self.forget_after_s = float(forget_after_s)
        self.max_keys = max_keys
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    @staticmethod
    def _check_key(key: str) -> None:
        if not isinstance(key, str) or not key:
            raise ValueError("throttle key must be a non-empty string")
        if len(key) > MAX_KEY_CHARS:
            raise ValueError(f"throttle key is {len(key)} characters long; at most {MAX_KEY_CHARS} allowed")

    def _get(self, key: str, now: float) -> _Record | None:
        record = self._records.get(key)
        if record is None:
            return None
        if now >= record.locked_until and now - record.last_failure >= self.forget_after_s:
            del self._records[key]
            return None
        return record

    def check(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0.0 if it may try now."""
        self._check_key(key)
        now = self._clock()
        record = self._get(key, now)
        if record is None:
            return 0.0
        return max(0.0, record.locked_until - now)

    def lockout_for(self, failures: int) -> float:
        """The lockout after ``failures`` consecutive failures (0 below the threshold)."""
        if failures < self.max_failures:
            return 0.0
        exponent = min(failures - self.max_failures, 62)
        return min(self.base_lockout_s * (2**exponent), self.max_lockout_s)

    def failure(self, key: str) -> float:
        """Record a failed attempt; returns the lockout now in force for ``key`` (0.0 if none)."""
        self._check_key(key)
        now = self._clock()
        record = self._get(key, now) or _Record()
        record.failures += 1
        record.last_failure = now
        lockout = self.lockout_for(record.failures)
        if lockout:
            record.locked_until = max(record.locked_until, now + lockout)
        self._records[key] = record
        self._records.move_to_end(key)
        self._evict(now)
        return max(0.0, record.locked_until - now)

    def success(self, key: str) -> None:
        """A successful sign-in clears the key's failures."""
        self._check_key(key)
        self._records.pop(key, None)

    def refund(self, key: str) -> None:
        """Take back one failure counted before the attempt was checked (it turned out good): the count
        goes down by one, and a lockout that count caused is lifted."""
        self._check_key(key)
        record = self._get(key, self._clock())
        if record is None:
            return
        record.failures -= 1
        if record.failures <= 0:
            del self._records[key]
        elif record.failures < self.max_failures:
            record.locked_until = 0.0

    def failures(self, key: str) -> int:
        self._check_key(key)
        record = self._get(key, self._clock())
        return record.failures if record else 0

    def __len__(self) -> int:
        return len(self._records)

    def _evict(self, now: float) -> None:
        if len(self._records) <= self.max_keys:
            return
        for key in list(self._records):  # oldest failure first
            if len(self._records) <= self.max_keys:
                return
            if self._records[key].locked_until <= now:
                del self._records[key]
        while len(self._records) > self.max_keys:  # everything is locked: drop the oldest anyway
            self._records.popitem(last=False)

    # Convenience for the sign-in handler: both the account and the remote address are throttled.

    def check_login(self, username: str, remote: str) -> float:
        return max(self.check(user_key(username)), self.check(address_key(remote)))

    def login_failed(self, username: str, remote: str) -> float:
        return max(self.failure(user_key(username)), self.failure(address_key(remote)))

    def login_succeeded(self, username: str, remote: str) -> None:
        """Clears the account's failures only: one good password must not wipe an address that is
        guessing other accounts (its record expires after ``forget_after_s`` instead)."""
        self.success(user_key(username))


@dataclass(slots=True)
class FailureWindow:
    """Failed sign-ins from one address within one window: written as one audit entry."""

    remote: str
    first_at: float
    last_at: float
    count: int = 0
    locked: int = 0  # of which refused unchecked (or from an address locked out)
    identities: list[str] = field(default_factory=list)  # the first few names tried, for the reader
    kinds: set[str] = field(default_factory=set)

    def details(self) -> dict[str, str | int | float]:
        return {
            "remote": self.remote[:64],
            "count": self.count,
            "locked_out": self.locked,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "identities": ",".join(self.identities)[:300],
            "kinds": ",".join(sorted(self.kinds)),
        }


class FailureSummary:
    """Failed sign-ins counted per address and window, so that a flood writes one audit entry per address
    and ``window_s`` instead of one per attempt. ``add`` counts; ``due`` hands out the windows that have
    closed (``everything``: all of them, at shutdown). At most ``max_addresses`` windows are open: past
    that, the oldest is handed out early, so memory stays bounded too."""

    MAX_IDENTITIES = 5

    def __init__(self, window_s: float = 60.0, max_addresses: int = 10_000, clock: Clock = time.time) -> None:
        if not window_s > 0 or max_addresses < 1:
            raise ValueError("window_s must be > 0 and max_addresses >= 1")
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._clock = clock
        self._open: OrderedDict[str, FailureWindow] = OrderedDict()
        self._early: list[FailureWindow] = []

    def add(self, remote: str, who: str, kind: str) -> FailureWindow:
        """Count one failure; the address's window (``count == 1``: the first of its window)."""
        now = self._clock()
        window = self._open.get(remote)
        if window is not None and now - window.first_at >= self.window_s:
            self._early.append(self._open.pop(remote))
            window = None
        if window is None:
            window = self._open[remote] = FailureWindow(remote, now, now)
            while len(self._open) > self.max_addresses:
                self._early.append(self._open.popitem(last=False)[1])
        window.count += 1
        window.last_at = now
        window.kinds.add(kind)
        name = who[:64]  # compared as stored: a long name tried twice is one identity, not two
        if len(window.identities) < self.MAX_IDENTITIES and name not in window.identities:
            window.identities.append(name)
        return window

    def due(self, *, everything: bool = False) -> list[FailureWindow]:
        now = self._clock()
        closed, self._early = self._early, []
        for remote, window in list(self._open.items()):
            if everything or now - window.first_at >= self.window_s:
                closed.append(self._open.pop(remote))
        return closed

    def __len__(self) -> int:
        return len(self._open)
