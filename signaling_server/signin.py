"""Sign-in attempts: one policy for the websocket hello and the IT dashboard's form.

- **Passwords** are throttled per account and per address (``ratelimit.LoginThrottle``), and an attempt is
  counted *before* its argon2 verification: the check and the count happen in one step on the event loop,
  so a burst of concurrent guesses gets no more verifications than the same guesses one after another
  (before, 30 concurrent hellos got 30 verifications; now at most ``max_failures``).
- **Device and session tokens** are 256-bit random, so guessing them is hopeless; their failures (and
  unknown kiosk ids) still count against the **address**, so a flood is cut short and logged once. They
  never count against the kiosk or account named: a kiosk is not locked out by other addresses' failures.
  A token from a locked address is still checked (a SHA-256 and one indexed look-up), and a valid one is
  let in: a kiosk behind the same NAT as a broken one keeps working. Invalid ones from a locked address are
  answered ``rate_limited``.
- **The audit log** gets one ``sign_in_failed`` entry per address and window (``ratelimit.FailureSummary``,
  ``SUMMARY_WINDOW_S``) with the count, the kinds and the first few names tried, instead of one entry per
  attempt: a flood cannot grow the append-only log without bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum

from aiohttp import web

from remote_call import protocol as p
from remote_call.tasks import cancel_and_wait
from signaling_server.appkeys import SWITCHBOARD
from signaling_server.audit import AuditLog
from signaling_server.audit_batch import AuditBatch
from signaling_server.auth import token_hash
from signaling_server.ratelimit import (
    Clock,
    FailureSummary,
    LoginThrottle,
    address_key,
    user_key,
)

log = logging.getLogger(__name__)

SUMMARY_WINDOW_S = 60.0  # one audit entry per address and minute of failures
FLUSH_EVERY_S = 5.0  # closed windows are written within this after they close


class Kind(StrEnum):
    PASSWORD = "password"
    SESSION = "session_token"
    DEVICE = "device_token"


@dataclass
class Attempt:
    """One sign-in attempt, begun with ``SignInGuard.begin``; ends with ``failed()`` or ``succeeded()``."""

    guard: SignInGuard
    kind: Kind
    who: str
    remote: str
    wait_s: float  # passwords: > 0 means refused unchecked; tokens: the address's lockout, for the answer

    @property
    def refused_unchecked(self) -> bool:
        return self.kind is Kind.PASSWORD and self.wait_s > 0

    def failed(self) -> None:
        """Count the failure (a password's was counted at ``begin``) and summarise it for the audit log."""
        if self.kind is not Kind.PASSWORD:
            self.guard.throttle.failure(address_key(self.remote))
        window = self.guard.summary.add(self.remote, self.who, self.kind.value)
        locked = ""
        if self.wait_s > 0:
            window.locked += 1
            locked = f", locked out for {self.wait_s:.0f} s"
        # Logged at the first failure and the first lockout of each window; the rest at debug level.
        first = window.count == 1 or (window.locked == 1 and bool(locked))
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "%s: sign-in refused (%s %s)%s; %d failed from there this window",
            self.remote,
            self.kind.value,
            self.who[:64],
            locked,
            window.count,
        )

    def unchecked(self) -> None:
        """The credentials could not be checked (the database is unreachable): neither a failure nor a
        success; a password's count taken at ``begin`` is given back."""
        if self.kind is Kind.PASSWORD:
            self.guard.throttle.refund(user_key(self.who))
            self.guard.throttle.refund(address_key(self.remote))

    def succeeded(self) -> None:
        if self.kind is Kind.PASSWORD:
            self.guard.throttle.login_succeeded(self.who, self.remote)
            self.guard.throttle.refund(address_key(self.remote))  # the count taken at begin()


class SignInGuard:
    def __init__(
        self,
        *,
        audit: Callable[[], AuditLog | None] = lambda: None,
        batch: Callable[[], AuditBatch | None] = lambda: None,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self.throttle = LoginThrottle(clock=clock)
        self.summary = FailureSummary(SUMMARY_WINDOW_S, clock=wall_clock)
        self._audit = audit
        self._batch = batch  # the switchboard's entries written a turn at a time

    def signed_in(self, identity: str, role: str, remote: str) -> None:
        """The sign-in's audit entry, written with the others of this turn of the loop (audit_batch.py:
        after a node's death some 5,000 clients sign in again at each survivor within seconds)."""
        batch = self._batch()
        if batch is not None:
            batch.add(identity, "sign_in", "", {"role": role, "remote": remote})

    def begin(self, credentials: p.Credentials, remote: str) -> Attempt:
        if isinstance(credentials, p.PasswordCredentials):
            return self.begin_password(credentials.username, remote)
        if isinstance(credentials, p.SessionCredentials):
            return self._begin_token(Kind.SESSION, f"session-{token_hash(credentials.token)[:12]}", remote)
        return self._begin_token(Kind.DEVICE, credentials.kiosk_id, remote)

    def begin_password(self, username: str, remote: str) -> Attempt:
        """Checked and counted in one step: concurrent attempts see each other's counts."""
        wait_s = self.throttle.check_login(username, remote)
        if wait_s == 0:
            self.throttle.login_failed(username, remote)  # taken back by succeeded()
        return Attempt(self, Kind.PASSWORD, username, remote, wait_s)

    def _begin_token(self, kind: Kind, who: str, remote: str) -> Attempt:
        return Attempt(self, kind, who, remote, self.throttle.check(address_key(remote)))

    def locked(self, username: str) -> float:
        return self.throttle.check(user_key(username))

    def flush(self, *, everything: bool = False) -> int:
        """Write the closed windows to the audit log (and, with ``everything``, the sign-ins still waiting
        for the end of their turn); how many summary entries were written."""
        batch = self._batch()
        if everything and batch is not None:
            batch.flush()
        audit = self._audit()
        windows = self.summary.due(everything=everything)
        if audit is None:
            return 0
        for window in windows:
            try:
                audit.append(window.remote[:64] or "?", "sign_in_failed", "", window.details())
            except Exception:
                log.exception("could not write the sign-in failures of %s", window.remote[:64])
        return len(windows)


SIGN_IN = web.AppKey("sign_in_guard", SignInGuard)


def setup_sign_in(app: web.Application) -> None:
    """Call after the switchboard's cleanup context is added: the last windows are written before the
    store closes."""
    board_audit = lambda: getattr(app.get(SWITCHBOARD), "audit", None)  # noqa: E731
    board_batch = lambda: getattr(app.get(SWITCHBOARD), "audit_later", None)  # noqa: E731
    app[SIGN_IN] = SignInGuard(audit=board_audit, batch=board_batch)
    app.cleanup_ctx.append(_flusher)


async def _flusher(app: web.Application) -> AsyncIterator[None]:
    guard = app[SIGN_IN]

    async def run() -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)  # a periodic job, not synchronisation
            guard.flush()

    task = asyncio.create_task(run(), name="sign-in-summary")
    yield
    await cancel_and_wait(task)
    guard.flush(everything=True)
