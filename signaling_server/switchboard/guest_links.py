"""Guest links (issue 18): a family member joins a live call from a browser, by a link the officer hands out.

The links are kept in the record database (table ``guest_links``, migration 3), so that a link outlives a
server restart (a family member whose network dropped rejoins the call the restarted server restored) and
is redeemed on whichever node the browser reaches (a follower signs the guest in from the database and
relays it to the leader like any client). A link is

- **single use**: the first redeem turns it into a guest session; a second is ``used``. The redeem is one
  conditional ``UPDATE``, so two nodes redeeming the same secret at once cannot both win;
- **expiring**: ``ttl_s`` after it was made (30 min by default) or when the call ends, whichever is first;
- **secret**: 256 bits in the link's fragment (``/g/#<secret>``), stored only as its SHA-256, like every
  token of the server (``auth.token_hash``); the session token the redeem returns likewise. The secret
  and the session token themselves are never written anywhere.

The decisions are frozen values; ``GuestRoom`` (``guests.py``) turns them into answers, audit entries and
the guest's place in the call.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from signaling_server.auth import new_token, token_hash
from signaling_server.db import Database

LINK_TTL_S = 30 * 60.0  # long enough to phone the family and read the link out; the call rarely lasts longer
FORGET_AFTER_S = 3600.0  # an ended or expired link is still recognised (and refused by name) this long
MAX_LINKS_PER_CALL = 5  # an officer clicking the button again and again is not a reason to grow the table


class GuestRefusal(StrEnum):
    INVALID = "invalid"  # no such link (a typo, a forged secret, or forgotten long ago)
    EXPIRED = "expired"  # past its time
    USED = "used"  # redeemed once already
    ENDED = "ended"  # its call is over
    FULL = "full"  # the call already has the most parties it may (the link stays usable)
    THROTTLED = "throttled"  # too many refusals from this address


class GuestLinkError(Exception):
    """A link that cannot be made (too many for this call)."""


@dataclass(frozen=True)
class GuestLink:
    """One row of ``guest_links`` as read (a value: the database holds the truth)."""

    link_id: str
    call_id: str
    created_by: str  # the officer
    created_at: float
    expires_at: float
    secret_hash: str
    name: str = ""  # how the others see the guest ("ご家族" when empty)
    redeemed_at: float | None = None
    redeemed_by: str | None = None  # the address the redeem came from (as the audit entry has it)
    session_hash: str | None = None
    closed_at: float | None = None  # the call ended, or the guest left: the session is over

    @property
    def identity(self) -> str:
        return f"guest-{self.link_id}"

    @classmethod
    def from_row(cls, row: Any) -> GuestLink:
        return cls(**{name: row[name] for name in _COLUMNS})


_COLUMNS = (
    "link_id",
    "call_id",
    "created_by",
    "created_at",
    "expires_at",
    "secret_hash",
    "name",
    "redeemed_at",
    "redeemed_by",
    "session_hash",
    "closed_at",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM guest_links"


@dataclass(frozen=True)
class GuestRedeemed:
    link: GuestLink
    session_token: str


@dataclass(frozen=True)
class GuestRefused:
    reason: GuestRefusal
    link: GuestLink | None = None  # known when the secret was a real link's


class GuestLinks:
    """Every guest link of the live calls, in the record database shared by the nodes."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock

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
        self._db.execute(
            "INSERT INTO guest_links(link_id, call_id, created_by, created_at, expires_at, secret_hash, name)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (link.link_id, call_id, created_by, now, link.expires_at, link.secret_hash, link.name),
        )
        return link, secret

    def of_call(self, call_id: str) -> list[GuestLink]:
        rows = self._db.fetchall(f"{_SELECT} WHERE call_id = ? ORDER BY created_at", (call_id,))
        return [GuestLink.from_row(row) for row in rows]

    def find(self, secret: str) -> GuestLink | None:
        """The link a secret is for (compared by hash in constant time), or None."""
        wanted = token_hash(secret)
        row = self._db.fetchone(f"{_SELECT} WHERE secret_hash = ?", (wanted,))
        link = GuestLink.from_row(row) if row is not None else None
        return link if link is not None and hmac.compare_digest(link.secret_hash, wanted) else None

    def redeem(self, secret: str, *, full: bool, remote: str = "") -> GuestRedeemed | GuestRefused:
        """The secret's link turned into a guest session, or why not. ``full``: the call has no room now
        (refused without using the link up: it works once a party has left)."""
        link = self.find(secret)
        now = self._clock()
        refusal = self._refusal(link, now, full=full)
        if refusal is not None or link is None:
            return refusal or GuestRefused(GuestRefusal.INVALID)
        token = new_token()
        session_hash = token_hash(token)
        won = self._db.execute(  # one statement: of two nodes redeeming at once, one wins
            "UPDATE guest_links SET redeemed_at = ?, redeemed_by = ?, session_hash = ?"
            " WHERE link_id = ? AND redeemed_at IS NULL AND closed_at IS NULL",
            (now, remote[:100], session_hash, link.link_id),
        ).rowcount
        if won != 1:
            return GuestRefused(GuestRefusal.USED, link)
        redeemed = replace(link, redeemed_at=now, redeemed_by=remote[:100], session_hash=session_hash)
        return GuestRedeemed(redeemed, token)

    @staticmethod
    def _refusal(link: GuestLink | None, now: float, *, full: bool) -> GuestRefused | None:
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
        return None

    def session(self, token: str) -> GuestLink | None:
        """The link whose guest session ``token`` is, while the session lasts (its call lives, the guest
        has not left)."""
        row = self._db.fetchone(f"{_SELECT} WHERE session_hash = ?", (token_hash(token),))
        link = GuestLink.from_row(row) if row is not None else None
        return link if link is not None and link.closed_at is None else None

    def close_session(self, link: GuestLink) -> None:
        """The guest left: its session signs nobody in any more."""
        self._db.execute(
            "UPDATE guest_links SET closed_at = ? WHERE link_id = ? AND closed_at IS NULL",
            (self._clock(), link.link_id),
        )

    def call_ended(self, call_id: str) -> list[GuestLink]:
        """Every link of the call stops working (kept a while so a late click is told why)."""
        closed = (self._clock(), call_id)  # written behind while PostgreSQL is unreachable (db/pending.py)
        self._db.write_behind(
            f"guest-links:{call_id}",
            lambda: self._db.execute(
                "UPDATE guest_links SET closed_at = ? WHERE call_id = ? AND closed_at IS NULL", closed
            ),
        )
        return self.of_call(call_id) if self._db.available else []

    def _forget(self, now: float) -> None:
        """Links an hour past their end are deleted: the hashes are not kept longer than they serve. A
        redeemed link lives while its guest's session does (a long call outlasts the link's 30 minutes)."""
        self._db.execute(
            "DELETE FROM guest_links WHERE (closed_at IS NOT NULL AND closed_at < ?)"
            " OR (closed_at IS NULL AND redeemed_at IS NULL AND expires_at < ?)",
            (now - FORGET_AFTER_S, now - FORGET_AFTER_S),
        )
