"""Transfers (blind and warm) and the おくやみ one-stop case: a checklist of departments and a log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from signaling_server.routing.decisions import (
    CaseAdvanced,
    Decision,
    KeepWithOfficer,
    RouterError,
    TransferCaller,
)
from signaling_server.routing.offers import Offers
from signaling_server.routing.queues import Queues
from signaling_server.routing.records import HEAD, MAX_NOTE_CHARS, Caller, Dept, copy_json
from signaling_server.routing.stats import DayBook


class Transfers:
    def __init__(self, deps: Mapping[str, Dept], queues: Queues, offers: Offers, book: DayBook) -> None:
        self._deps = deps
        self._queues = queues
        self._offers = offers
        self._book = book

    def transfer(
        self, caller: Caller, to_department: str, note: str, warm: bool, now: float
    ) -> list[Decision]:
        """Queue a connected caller at the head of `to_department`, with the note added to its notes.

        Blind: the officer's call ends now. Warm: the officer stays connected until one of
        `to_department` accepts (or the transfer is cancelled).
        """
        if caller.officer is None:
            raise RouterError(f"call {caller.call_id!r} is not connected to an officer: cannot transfer it")
        if caller.queued:
            raise RouterError(
                f"call {caller.call_id!r} is already being transferred to {caller.department!r}"
            )
        dep = self._deps.get(to_department)
        if dep is None:
            raise RouterError(f"cannot transfer to unknown department {to_department!r}")
        if not dep.config.remote:
            raise RouterError(f"cannot transfer to department {to_department!r}: it has no remote counter")
        if len(note) > MAX_NOTE_CHARS:
            raise RouterError(f"transfer note is longer than {MAX_NOTE_CHARS} characters")
        out: list[Decision] = []
        from_department = caller.officer_department or caller.department
        caller.notes.append(
            {
                "from_department": from_department,
                "to_department": to_department,
                "officer_id": caller.officer,
                "note": note,
                "warm": warm,
                "at": now,
            }
        )
        self._book.today.department(from_department).transferred_out += 1
        stats = self._book.today.department(to_department)
        stats.offered += 1
        stats.transferred_in += 1
        out.append(TransferCaller(caller.call_id, from_department, to_department, note, warm))
        if not warm:
            self._offers.end_connected(caller, now, out, reason="transferred")
        self._queues.enqueue(caller, to_department, HEAD, now, now)
        self._offers.ring_caller(caller, now, out)
        return out

    def cancel(self, caller: Caller, now: float) -> list[Decision]:
        """Cancel a pending warm transfer: the caller leaves the other queue and stays with its officer."""
        if caller.officer is None or not caller.queued:
            raise RouterError(f"call {caller.call_id!r} has no warm transfer pending")
        out: list[Decision] = []
        department = caller.department
        self._book.today.department(department).withdrawn += 1
        freed = self._queues.unqueue(caller, "caller_left", out)
        caller.department = caller.officer_department or department
        out.append(KeepWithOfficer(caller.call_id, caller.officer, department))
        self._offers.free_officers(freed, now, out)
        return out

    # ------------------------------------------------------------------ one-stop cases

    def new_case(self, dep: Dept, checklist: Sequence[str] | None) -> dict[str, Any]:
        departments = list(dep.config.one_stop_departments if checklist is None else checklist)
        self._check_checklist(departments)
        return {
            "home_department": dep.id,
            "checklist": [
                {"department": d, "status": "pending", "outcome": None, "note": ""} for d in departments
            ],
            "log": [],
        }

    def set_checklist(self, caller: Caller, departments: Sequence[str]) -> dict[str, Any]:
        """Replace the pending departments of a one-stop case (done ones are kept). Returns the case."""
        if caller.case is None:
            raise RouterError(f"call {caller.call_id!r} carries no one-stop case")
        self._check_checklist(departments)
        done = [item for item in caller.case["checklist"] if item["status"] != "pending"]
        done_ids = {item["department"] for item in done}
        caller.case["checklist"] = done + [
            {"department": d, "status": "pending", "outcome": None, "note": ""}
            for d in departments
            if d not in done_ids
        ]
        return copy_json(caller.case)

    def advance_case(
        self, caller: Caller, served: str, outcome: str | None, note: str, now: float, out: list[Decision]
    ) -> bool:
        """Record the outcome of `served` and send the caller to the head of the next pending department.
        False when the checklist is complete (the caller is done)."""
        nxt = self._record(caller, served, outcome, note, now)
        assert caller.case is not None
        pending = tuple(
            item["department"] for item in caller.case["checklist"] if item["status"] == "pending"
        )
        out.append(CaseAdvanced(caller.call_id, served, nxt, pending))
        if nxt is None:
            return False
        stats = self._book.today.department(nxt)
        stats.offered += 1
        stats.transferred_in += 1
        self._queues.enqueue(caller, nxt, HEAD, now, now)
        self._offers.ring_caller(caller, now, out)
        return True

    def _check_checklist(self, departments: Sequence[str]) -> None:
        if isinstance(departments, str):
            raise RouterError("a checklist is a list of department ids, not one string")
        for dep_id in departments:
            dep = self._deps.get(dep_id)
            if dep is None:
                raise RouterError(f"checklist names unknown department {dep_id!r}")
            if not dep.config.remote:
                raise RouterError(f"checklist names department {dep_id!r}, which has no remote counter")
        if len(set(departments)) != len(departments):
            raise RouterError("checklist names a department twice")

    @staticmethod
    def _record(caller: Caller, served: str, outcome: str | None, note: str, now: float) -> str | None:
        """Record the outcome of `served` in the case; return the next pending department, if any."""
        case = caller.case
        assert case is not None
        case["log"].append({"department": served, "outcome": outcome, "note": note, "at": now})
        for item in case["checklist"]:
            if item["department"] == served and item["status"] == "pending":
                item.update(status="done", outcome=outcome, note=note)
                break
        for item in case["checklist"]:
            if item["status"] == "pending":
                return item["department"]
        return None
