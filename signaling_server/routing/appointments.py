"""Appointments in the queue: a checked-in booking waits for its slot, then rings its booked officer first.

The rule (documented in docs/routing.md, "Appointments"):

1. A caller who joins with an `AppointmentClaim` before its slot starts waits outside the queue
   (`HoldForSlot`): it has no position and no officer is offered it. At the slot (`SlotDue`) — or at once
   when it checks in at or after the slot — it enters its department's queue at head priority, keyed by
   its slot start: ahead of every walk-in, behind transfers and requeued callers older than its slot.
2. If the claim names an officer who is online and not away, the caller is first set aside for that
   officer alone for `officer_first_s`: it keeps its place in the queue but only the booked officer is
   offered it, as soon as that officer is available. The one offer ending unanswered (declined, timed out,
   the officer going away or offline) or the window ending (`ReservationEnds`) hands the caller to the
   department: it is then offered like any head caller.
3. Walk-ins are not starved: the booking service books at most `bookable_officers` appointments per
   slot and, with a roster (`[[appointments.shifts]]`), at most the officers on shift for the whole slot
   less `walk_in_officers`, so per slot the rest of the officers' time goes to walk-ins
   in their own order; appointments only jump the queue, they do not add work beyond that cap.

The booking's own life (booked, checked in, no-show) is the booking service's; the router only sees
claims of residents who are at a kiosk now.
"""

from __future__ import annotations

from collections.abc import Mapping

from signaling_server.routing.claims import AppointmentClaim, Reservations
from signaling_server.routing.decisions import Decision, HoldForSlot
from signaling_server.routing.offers import Offers
from signaling_server.routing.queues import Queues
from signaling_server.routing.records import HEAD, Caller, Dept, Officer
from signaling_server.routing.states import OfficerState
from signaling_server.routing.stats import DayBook
from signaling_server.routing.timers import ReservationEnds, SlotDue, Timers

_REACHABLE = frozenset(
    {OfficerState.AVAILABLE, OfficerState.RINGING, OfficerState.IN_CALL, OfficerState.WRAP_UP}
)


class Appointments:
    def __init__(
        self,
        deps: Mapping[str, Dept],
        calls: Mapping[str, Caller],
        officers: Mapping[str, Officer],
        reservations: Reservations,
        queues: Queues,
        offers: Offers,
        book: DayBook,
        timers: Timers,
    ) -> None:
        self._deps = deps
        self._calls = calls
        self._officers = officers
        self._reservations = reservations
        self._queues = queues
        self._offers = offers
        self._book = book
        self._timers = timers

    def arrive(self, caller: Caller, claim: AppointmentClaim, now: float, out: list[Decision]) -> None:
        """A resident checked in: wait for the slot when early, else enter the queue now."""
        caller.appointment = claim
        if now < claim.slot_start:
            caller.early = True
            self._timers.push(claim.slot_start, SlotDue(caller.call_id))
            out.append(HoldForSlot(caller.call_id, caller.department, claim.slot_start, claim.booking_id))
            return
        self.admit(caller, now, out)

    def admit(self, caller: Caller, now: float, out: list[Decision]) -> None:
        """The slot has started: into the queue at head priority, reserved for the booked officer."""
        claim = caller.appointment
        assert claim is not None
        caller.early = False
        self._book.today.department(caller.department).offered += 1
        self._queues.enqueue(caller, caller.department, HEAD, now, now)
        officer = self._officers.get(claim.officer_id) if claim.officer_id else None
        if (
            officer is not None
            and claim.officer_first_s > 0
            and officer.state in _REACHABLE
            and caller.department in officer.skills
        ):
            until = now + claim.officer_first_s
            self._deps[caller.department].queue.set_aside(caller.call_id)
            self._reservations.add(caller.call_id, officer.officer_id, until)
            self._timers.push(until, ReservationEnds(caller.call_id, until))
        self._offers.ring_caller(caller, now, out)

    # ------------------------------------------------------------------ deadlines

    def slot_live(self, entry: SlotDue) -> bool:
        caller = self._calls.get(entry.call_id)
        return caller is not None and caller.early

    def slot_due(self, entry: SlotDue, now: float, out: list[Decision]) -> None:
        self.admit(self._calls[entry.call_id], now, out)

    def reservation_live(self, entry: ReservationEnds) -> bool:
        return self._reservations.until(entry.call_id) == entry.until

    def reservation_due(self, entry: ReservationEnds, now: float, out: list[Decision]) -> None:
        """The booked officer's turn is over: the department's officers may take the caller."""
        caller = self._calls[entry.call_id]
        self._reservations.discard(caller.call_id)
        if not caller.ringing:
            self._deps[caller.department].queue.mark_pending(caller.call_id)
            self._offers.ring_caller(caller, now, out)
