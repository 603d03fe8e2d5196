"""What the consoles, the wait board and supervisors read: a call, an officer, a department, statistics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from signaling_server.routing.claims import Reservations
from signaling_server.routing.decisions import DepartmentStatus
from signaling_server.routing.estimate import WaitEstimate, wait_estimate
from signaling_server.routing.positions import Positions
from signaling_server.routing.records import Caller, Dept, Officer, copy_json
from signaling_server.routing.states import OfficerState
from signaling_server.routing.stats import DayBook


class Reports:
    def __init__(
        self,
        deps: Mapping[str, Dept],
        calls: Mapping[str, Caller],
        officers: Mapping[str, Officer],
        positions: Positions,
        book: DayBook,
        tz: dt.tzinfo,
        reservations: Reservations,
    ) -> None:
        self._deps = deps
        self._reservations = reservations
        self._calls = calls
        self._officers = officers
        self._positions = positions
        self._book = book
        self._tz = tz

    @staticmethod
    def officer_info(officer: Officer) -> dict[str, Any]:
        return {
            "officer_id": officer.officer_id,
            "state": officer.state.value,
            "reason": officer.reason,
            "skills": {k: v.value for k, v in officer.skills.items()},
            "ringing_call": officer.ringing_call,
            "call": officer.call,
            "calls_today": officer.calls_today,
            "idle_since": officer.idle_since if officer.state is OfficerState.AVAILABLE else None,
            "unanswered": officer.unanswered,
        }

    def call_info(self, caller: Caller) -> dict[str, Any]:
        if caller.early:
            state = "early"
        elif caller.queued:
            state = "ringing" if caller.ringing else "queued"
        elif caller.officer is not None:
            state = "connected"
        else:
            state = "held"
        return copy_json(
            {
                "call_id": caller.call_id,
                "department": caller.department,
                "kiosk_id": caller.kiosk_id,
                "info": caller.info,
                "state": state,
                "officer_id": caller.officer,
                "transfer_pending": caller.queued and caller.officer is not None,
                "join_time": caller.join_time,
                "entered_at": caller.entered_at,
                "priority": caller.priority,
                "notes": caller.notes,
                "case": caller.case,
                "appointment": None if caller.appointment is None else caller.appointment.to_json(),
                "reserved_for": self._reservations.officer_of(caller.call_id),
            }
        )

    def department_status(self, dep: Dept, now: float) -> DepartmentStatus:
        """The department's status now: the one computed last while its inputs are the same. Every welcome
        carries each department's status: a new leader built it for some 5,000 reconnecting clients within
        seconds at 20,000 kiosks, 77 % of each attach (130 of 170 µs). It changes with the second (opening
        hours are whole minutes), the queue's length and the estimate's inputs, and with nothing else."""
        inputs = (int(now), len(dep.queue), dep.free, dep.capacity_value(), dep.handle.mean())
        cached = dep.status_cache
        if cached is not None and cached[0] == inputs:
            status: DepartmentStatus = cached[1]
            return status
        status = self._department_status(dep, now)
        dep.status_cache = (inputs, status)
        return status

    def _department_status(self, dep: Dept, now: float) -> DepartmentStatus:
        check = dep.calendar.check(dt.datetime.fromtimestamp(now, self._tz))
        refusal: str | None = None
        if not dep.config.remote:
            refusal = "not_remote"
        elif not check.open:
            refusal = "closed"
        elif not check.can_join:
            refusal = "last_join_passed"
        elif len(dep.queue) >= dep.config.max_queue:
            refusal = "queue_full"
        waiting = len(dep.queue)
        return DepartmentStatus(
            department=dep.id,
            open=check.open,
            accepting=refusal is None,
            waiting=waiting,
            ewt_s=self._positions.ewt(dep, waiting + 1),
            next_open=check.next_open,
            refusal=refusal,
            estimate=self.wait_estimate(dep, check.open, waiting),
        )

    @staticmethod
    def wait_estimate(dep: Dept, open_now: bool, waiting: int) -> WaitEstimate:
        """The department's one wait estimate (board, kiosk tiles and console boards all render it)."""
        return wait_estimate(
            open=open_now,
            waiting=waiting,
            free=dep.free,
            capacity=dep.capacity_value(),
            aht_s=dep.handle.mean(),
        )

    def stats(self, now: float, *, officers: bool = True, history: bool = True) -> dict[str, Any]:
        """Live and per-day statistics per department and officer (JSON-serialisable); without each
        officer's own figures (``officers``: the departments' counts of officers by state stay) or the past
        days (``history``) when nobody reads them: 5,000 officers' figures every push to their consoles,
        which read the departments only, were 6 % of a 20,000-kiosk leader's loop (py-spy)."""
        today = self._book.today
        departments: dict[str, Any] = {}
        for dep in self._deps.values():
            data = today.department(dep.id).summary(dep.config.service_level_s)
            entries = dep.queue.entries_from(0)
            waits = [now - self._calls[key[3]].entered_at for key in entries]
            data["waiting"] = len(entries)
            data["ringing"] = len(entries) - dep.queue.pending_count()
            data["longest_wait_s"] = max(waits, default=0.0)
            data["ewt_s"] = self._positions.ewt(dep, len(entries) + 1)
            open_now = dep.calendar.check(dt.datetime.fromtimestamp(now, self._tz)).open
            data.update(self.wait_estimate(dep, open_now, len(entries)).to_json())
            data["rolling_aht_s"] = dep.handle.mean()
            data["officers"] = {state.value: 0 for state in OfficerState}
            departments[dep.id] = data
        figures: dict[str, Any] = {}
        for officer in self._officers.values():
            for dep_id in officer.primary:
                departments[dep_id]["officers"][officer.state.value] += 1
            if not officers:
                continue
            data = today.officer(officer.officer_id).summary()
            data["state"] = officer.state.value
            data["reason"] = officer.reason
            data["calls_today"] = officer.calls_today
            data["departments"] = {k: v.value for k, v in officer.skills.items()}
            figures[officer.officer_id] = data
        return {
            "date": today.date,
            "at": now,
            "departments": departments,
            "officers": figures,
            "history": self._history() if history else {},
        }

    def _history(self) -> dict[str, Any]:
        return {
            day: {
                "departments": {
                    k: v.summary(self._deps[k].config.service_level_s if k in self._deps else 0)
                    for k, v in stats.departments.items()
                },
                "officers": {k: v.summary() for k, v in stats.officers.items()},
            }
            for day, stats in self._book.history.items()
        }
