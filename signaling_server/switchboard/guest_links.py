"""Guest links (issue 18): a family member joins a live call from a browser, by a link the officer hands out.

Pure logic on an injected clock, in memory only: a link lives no longer than the call it is for (no table;
a server restart forgets them, and the officer makes a new one). A link is

- **single use**: the first redeem turns it into a guest session; a second is ``used``;
- **expiring**: ``ttl_s`` after it was made (30 min by default) or when the call ends, whichever is first;
- **secret**: 256 bits in the link's fragment (``/g/#<secret>``), kept here only as its SHA-256, like every
  token of the server (``auth.token_hash``); the session token the redeem returns likewise.

The decisions are frozen values; ``GuestRoom`` (``guests.py``) turns them into answers, audit entries and
the guest's place in the call.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from signaling_server.auth import new_token, token_hash

LINK_TTL_S = 30 * 60.0  # long enough to phone the family and read the link out; the call rarely lasts longer
FORGET_AFTER_S = 3600.0  # an ended or expired link is still recognised (and refused by name) this long
MAX_LINKS_PER_CALL = 5  # an officer clicking the button again and again is not a reason to grow memory


class GuestRefusal(StrEnum):
    INVALID = "invalid"  # no such link (a typo, a forged secret, or forgotten long ago)
    EXPIRED = "expired"  # past its time
    USED = "used"  # redeemed once already
    ENDED = "ended"  # its call is over
    FULL = "full"  # the call already has the most parties it may (the link stays usable)
    THROTTLED = "throttled"  # too many refusals from this address


class GuestLinkError(Exception):
    """A link that cannot be made (too many for this call)."""


@dataclass
class GuestLink:
    link_id: str
    call_id: str
    created_by: str  # the officer
    created_at: float
    expires_at: float
    secret_hash: str
    name: str = ""  # how the others see the guest ("ご家族" when empty)
    redeemed_at: float | None = None
    session_hash: str | None = None
    closed_at: float | None = None  # the call ended, or the guest left: the session is over

    @property
    def identity(self) -> str:
        return f"guest-{self.link_id}"


@dataclass(frozen=True)
class GuestRedeemed:
    link: GuestLink
    session_token: str


@dataclass(frozen=True)
class GuestRefused:
    reason: GuestRefusal
    link: GuestLink | None = None  # known when the secret was a real link's


class GuestLinks:
    """Every guest link of the server's live calls, by the hash of its secret."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._by_secret: dict[str, GuestLink] = {}
        self._by_session: dict[str, GuestLink] = {}

    def create(
        self, call_id: str, created_by: str, *, ttl_s: float = LINK_TTL_S, name: str = ""
    ) -> tuple[GuestLink, str]:
        """A new link for a live call and its secret (the only time the secret exists in the clear)."""
        now = self._clock()
        self._forget(now)
        if len(self.of_call(call_id)) >= MAX_LINKS_PER_CALL:
            raise GuestLinkError(f"call {call_id} has {MAX_LINKS_PER_CALL} guest links already")
        secret = new_token()
        link = GuestLink(
            link_id=secrets.token_hex(6),
            call_id=call_id,
            created_by=created_by,
            created_at=now,
            expires_at=now + ttl_s,
            secret_hash=token_hash(secret),
            name=name.strip()[:60],
        )
        self._by_secret[link.secret_hash] = link
        return link, secret

    def of_call(self, call_id: str) -> list[GuestLink]:
        return [link for link in self._by_secret.values() if link.call_id == call_id]

    def find(self, secret: str) -> GuestLink | None:
        """The link a secret is for (compared by hash in constant time), or None."""
        wanted = token_hash(secret)
        link = self._by_secret.get(wanted)
        return link if link is not None and hmac.compare_digest(link.secret_hash, wanted) else None

    def redeem(self, secret: str, *, full: bool) -> GuestRedeemed | GuestRefused:
        """The secret's link turned into a guest session, or why not. ``full``: the call has no room now
        (refused without using the link up: it works once a party has left)."""
        link = self.find(secret)
        now = self._clock()
        if link is None:
            return GuestRefused(GuestRefusal.INVALID)
        if link.redeemed_at is not None:
            return GuestRefused(GuestRefusal.USED, link)
        if link.closed_at is not None:
            return GuestRefused(GuestRefusal.ENDED, link)
        if now >= link.expires_at:
            return GuestRefused(GuestRefusal.EXPIRED, link)
        if full:
            return GuestRefused(GuestRefusal.FULL, link)
        token = new_token()
        link.redeemed_at = now
        link.session_hash = token_hash(token)
        self._by_session[link.session_hash] = link
        return GuestRedeemed(link, token)

    def session(self, token: str) -> GuestLink | None:
        """The link whose guest session ``token`` is, while the session lasts (its call lives, the guest
        has not left)."""
        link = self._by_session.get(token_hash(token))
        return link if link is not None and link.closed_at is None else None

    def close_session(self, link: GuestLink) -> None:
        """The guest left: its session signs nobody in any more."""
        link.closed_at = link.closed_at or self._clock()
        if link.session_hash is not None:
            self._by_session.pop(link.session_hash, None)

    def call_ended(self, call_id: str) -> list[GuestLink]:
        """Every link of the call stops working (kept a while so a late click is told why)."""
        links = self.of_call(call_id)
        for link in links:
            self.close_session(link)
        return links

    def _forget(self, now: float) -> None:
        old = [
            h
            for h, link in self._by_secret.items()
            if max(link.expires_at, link.closed_at or 0.0) + FORGET_AFTER_S < now
        ]
        for secret_hash in old:
            link = self._by_secret.pop(secret_hash)
            if link.session_hash is not None:
                self._by_session.pop(link.session_hash, None)
