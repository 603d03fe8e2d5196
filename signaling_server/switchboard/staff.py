"""What connected staff get on a timer: live queue statistics, and re-validation of their sessions (and of
businesses' sessions: a revoked invitation or a closed window signs the business out, unless its call is
going on — a call that runs over the window is not cut off)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from remote_call import protocol as p
from remote_call.protocol import ErrorCode, Role
from signaling_server.policy import departments_of, stats_for
from signaling_server.switchboard.directory import Directory
from signaling_server.switchboard.presence import Presence
from signaling_server.switchboard.roster import Client, Roster
from signaling_server.switchboard.timers import CheckSessions, EdgeTimers, PushStats

log = logging.getLogger(__name__)

STATS_PUSH_S = 2.0  # supervisors' live view
SESSION_CHECK_S = 30.0  # staff sessions are re-validated on long connections
# A business whose call just ended stays connected this long, so the thank-you page can still send its
# rating (rate_call); without it the next check (0-30 s later) closed the page's connection at random.
RATING_GRACE_S = 120.0


class StaffUpdates:
    def __init__(
        self,
        *,
        roster: Roster,
        directory: Directory,
        presence: Presence,
        timers: EdgeTimers,
        session_valid: Callable[[str], bool] | None,
    ) -> None:
        self._roster = roster
        self._directory = directory
        self._presence = presence
        self._timers = timers
        self._session_valid = session_valid
        now = timers.clock()
        timers.at(now, PushStats())
        timers.at(now, CheckSessions())

    def stats_due(self, _due: PushStats) -> None:
        self._timers.after(STATS_PUSH_S, PushStats())
        self.push_stats()

    def push_stats(self) -> None:
        """Supervisors get their departments and those departments' officers; officers the queues of the
        departments they serve (``signaling_server.policy.stats_for``, as on REST)."""
        supervisors = [c for c in self._roster.watchers if c.role is Role.SUPERVISOR]
        if not supervisors and not self._roster.officers:
            return
        stats = self._directory.stats(officers=bool(supervisors))  # officers read departments only
        texts: dict[frozenset[str], str] = {}  # supervisors of the same departments share one encoding
        for client in supervisors:
            theirs = departments_of(client.principal)
            if theirs not in texts:
                texts[theirs] = p.encode(p.SupervisorStats(stats=stats_for(client.principal, stats)))
            client.send_raw(texts[theirs])
        # Every officer may transfer to any department: who is free or busy there (counts only).
        # Officers with the same skills share one encoding too (5,000 officers: 5,000 encodings every
        # STATS_PUSH_S held the leader's loop for seconds; a city has a few dozen skill sets).
        availability = {d: v["officers"] for d, v in stats["departments"].items()}
        by_skills: dict[frozenset[str], str] = {}
        for officer in self._roster.officers.values():
            skills = frozenset(officer.principal.skills)
            if skills not in by_skills:
                mine = {d: v for d, v in stats["departments"].items() if d in skills}
                by_skills[skills] = p.encode(
                    p.SupervisorStats(
                        stats={
                            "date": stats["date"],
                            "at": stats["at"],
                            "departments": mine,
                            "availability": availability,
                        }
                    )
                )
            officer.send_raw(by_skills[skills])

    def sessions_due(self, _due: CheckSessions) -> None:
        self._timers.after(SESSION_CHECK_S, CheckSessions())
        if self._session_valid is None:
            return
        staff = [*self._roster.officers.values(), *self._roster.interpreters.values()]
        for client in [*staff, *self._roster.watchers]:
            token = client.principal.session_token
            if token and not self._session_valid(token):
                log.info("%s: session expired; disconnecting", client.identity)
                client.send(p.Error(code=ErrorCode.UNAUTHENTICATED, detail="your session has expired"))
                self._presence.detach(client)
                client.close()
        now = self._timers.clock()
        for client in list(self._roster.businesses.values()):
            token = client.principal.session_token
            if client.calls or not token or self._session_valid(token) or _may_still_rate(client, now):
                continue
            log.info("%s: business session over; disconnecting", client.identity)
            self._presence.remove(Role.BUSINESS, client.identity, "this business session has ended")


def _may_still_rate(client: Client, now: float) -> bool:
    return client.last_end is not None and now - client.last_end[1] < RATING_GRACE_S
