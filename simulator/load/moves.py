"""A load client's way back to a node: its URL list, the next URL on every drop, the backoff, the outages.

The same rules as a kiosk's or console's signaling client (remote_call/signaling_client.py): move to the
next URL of the list whenever the connection drops or a new one is refused, wait a full-jitter backoff
between attempts that starts at 0.5 s and doubles once per round through the list (a dead node costs one
quick refusal), then sign in again with the same credentials (an officer with its session token) and let
the server resume it. Each outage is kept (when it dropped, when a welcome came again, from which node to
which) for the run's ``resume_s`` and ``clients_moved``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from remote_call import protocol as p

BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 15.0
RECONNECT_HELLO_S = 30.0  # a welcome after a reconnect: no argon2, but the new leader may be busy


@dataclass
class Outage:
    dropped_at: float
    from_node: int
    resumed_at: float | None = None  # None: never back
    to_node: int | None = None
    attempts: int = 0  # sign-ins tried (refused, failed or timed out, and the one that was welcomed)
    hello_at: float | None = None  # when the sign-in that was welcomed began (its connect, then its hello)

    def row(self) -> list[float | int | None]:
        return [self.dropped_at, self.resumed_at, self.from_node, self.to_node, self.attempts, self.hello_at]


@dataclass
class Link:
    """Where one client connects: the node indexes of its list (``route``, its home first) into ``urls``."""

    urls: list[str]
    route: list[int]
    hello: Callable[[], p.Hello]
    position: int = 0
    outages: list[Outage] = field(default_factory=list)

    @property
    def node(self) -> int:
        return self.route[self.position]

    @property
    def url(self) -> str:
        return self.urls[self.node]

    @property
    def moves(self) -> bool:
        """Several nodes to go to: a drop is an outage to come back from, not the end of the client."""
        return len(self.route) > 1

    def next(self) -> None:
        self.position = (self.position + 1) % len(self.route)

    def dropped(self, at: float) -> Outage:
        outage = Outage(at, self.node)
        self.outages.append(outage)
        return outage


class Backoff:
    """Full jitter up to ``delay``; the delay doubles once per round of failed attempts through the list."""

    def __init__(self, urls: int) -> None:
        self.urls = max(1, urls)
        self.delay = BACKOFF_INITIAL_S
        self.failures = 0

    def failed(self) -> None:
        self.failures += 1
        if self.failures % self.urls == 0:
            self.delay = min(BACKOFF_MAX_S, self.delay * 2)


def summarise_outages(by_client: dict[str, list[list[float | int | None]]]) -> dict[str, object]:
    """From each client's outages (``Outage.row``): the seconds from every drop to the next welcome, the
    clients that came back on another node, and those that never came back."""
    rows = [row for outages in by_client.values() for row in outages]
    back = [r for r in rows if r[0] is not None and r[1] is not None]
    return {
        "outages": len(rows),
        "resume_durations": [float(r[1] or 0) - float(r[0] or 0) for r in back],
        "resume_attempts": [int(r[4]) if len(r) > 4 and r[4] is not None else 1 for r in back],
        "resume_nodes": [int(r[3] or 0) for r in back],  # the node each came back on
        # From the hello that was welcomed to its welcome: the servers' part of ``resume_durations``.
        "welcome_durations": [float(r[1] or 0) - float(r[5] or 0) for r in back if len(r) > 5 and r[5]],
        "moved": sum(1 for o in by_client.values() if any(r[1] is not None and r[2] != r[3] for r in o)),
        "not_back": sum(1 for o in by_client.values() if o and o[-1][1] is None),
    }
