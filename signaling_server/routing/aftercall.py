"""After a call: the officer holding wrap-up while writing the call's outcome, and the resident's rating.

Part of the ``Router`` facade (mixed into it, so that the facade stays one object while its module stays
short); it works on the router's own collaborators: ``Offers`` for wrap-up's timer, the ``DayBook`` for
the day's counters. Pure logic like the rest of the router: the clock is the router's.
"""

from __future__ import annotations

from signaling_server.routing.decisions import Decision
from signaling_server.routing.offers import Offers
from signaling_server.routing.officers import Officers
from signaling_server.routing.states import OfficerState
from signaling_server.routing.stats import DayBook


class AfterCall:
    _offers: Offers
    _states: Officers
    _book: DayBook

    def _now(self) -> float:
        raise NotImplementedError  # the router's clock (which also rolls the day over)

    def hold_wrap_up(self, officer_id: str, hold: bool) -> list[Decision]:
        """The officer writes the outcome of the call that ended (hold) or is done (release): wrap-up's
        clock stands still meanwhile (at most ``offers.WRAP_HOLD_MAX_S``). Outside wrap-up: nothing."""
        officer = self._states.get(officer_id)
        now = self._now()
        if officer.state is OfficerState.WRAP_UP:
            self._offers.hold_wrap(officer, hold, now)
        return []

    def record_rating(self, department: str, officer_id: str | None, rating: int) -> None:
        """A resident rated an ended call (1..5): counted today for its department and officer."""
        self._now()  # rolls over to a new day first
        today = self._book.today
        today.department(department).add_rating(rating)
        if officer_id:
            today.officer(officer_id).add_rating(rating)
