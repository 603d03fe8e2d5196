"""Officers: skills, state transitions, the pools of available officers and the estimate's inputs.

Every state change goes through `set_state`, which checks the transition table, keeps each department's
pools (who can be offered a caller now) and officer counts (the estimate's N and F) in step, records
handle times when an officer is free again, and emits `OfficerStateChanged`.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.schema import RoutingStrategy
from signaling_server.routing.decisions import Decision, OfficerStateChanged, RouterError
from signaling_server.routing.records import Dept, Officer
from signaling_server.routing.states import (
    ALLOWED_TRANSITIONS,
    FREE_STATES,
    SERVING_STATES,
    OfficerState,
    SkillLevel,
)
from signaling_server.routing.stats import DayBook
from signaling_server.routing.structures import PoolKey

_BUSY = (OfficerState.IN_CALL, OfficerState.WRAP_UP)

Skills = tuple[tuple[str, ...], tuple[str, ...], dict[str, SkillLevel]]  # primary, secondary, all


class Officers:
    def __init__(self, deps: Mapping[str, Dept], officers: dict[str, Officer], book: DayBook) -> None:
        self._deps = deps
        self._officers = officers
        self._book = book

    def get(self, officer_id: str) -> Officer:
        officer = self._officers.get(officer_id)
        if officer is None:
            raise RouterError(f"unknown officer {officer_id!r}: call officer_online first")
        return officer

    def parse_skills(self, skills: Mapping[str, SkillLevel | str]) -> Skills:
        if not isinstance(skills, Mapping):
            raise RouterError("skills must map department ids to 'primary' or 'secondary'")
        parsed: dict[str, SkillLevel] = {}
        for dep_id, level in skills.items():
            if dep_id not in self._deps:
                raise RouterError(f"skills name unknown department {dep_id!r}")
            try:
                parsed[dep_id] = SkillLevel(level)
            except ValueError:
                raise RouterError(
                    f"skill level for {dep_id!r} must be 'primary' or 'secondary', not {level!r}"
                ) from None
        primary = tuple(sorted(d for d, lv in parsed.items() if lv is SkillLevel.PRIMARY))
        secondary = tuple(sorted(d for d, lv in parsed.items() if lv is SkillLevel.SECONDARY))
        return primary, secondary, parsed

    def change_skills(self, officer: Officer, skills: Skills) -> None:
        """New skills for an online officer, same state (the caller matches it again if available)."""
        self._account(officer, -1)
        self._leave_pools(officer)
        officer.primary, officer.secondary, officer.skills = skills
        self._account(officer, +1)
        if officer.state is OfficerState.AVAILABLE:
            self._enter_pools(officer)

    def set_state(
        self, officer: Officer, new: OfficerState, reason: str | None, now: float, out: list[Decision]
    ) -> None:
        old = officer.state
        if new not in ALLOWED_TRANSITIONS[old]:
            raise RouterError(f"officer {officer.officer_id!r} cannot go from {old.value} to {new.value}")
        if old is OfficerState.AVAILABLE:
            self._leave_pools(officer)
        if old in _BUSY and new not in _BUSY:
            self._record_handle(officer, now)
        self._account(officer, -1)
        officer.state = new
        officer.reason = reason
        self._account(officer, +1)
        if new is OfficerState.AVAILABLE:
            officer.idle_since = now
            self._enter_pools(officer)
        out.append(OfficerStateChanged(officer.officer_id, new, reason))

    def start_call(self, officer: Officer, call_id: str, department: str | None, now: float) -> None:
        """The officer is connected to `call_id` from now on (its handle time starts)."""
        officer.call = call_id
        officer.busy_since = now
        officer.busy_department = department
        officer.busy_completed = False

    def new_day(self) -> None:
        """Calls today start again from zero; fewest_calls pools re-sort on the new counts."""
        for officer in self._officers.values():
            officer.calls_today = 0
        for dep in self._deps.values():
            if dep.config.strategy is RoutingStrategy.FEWEST_CALLS:
                for pool in (dep.primary_pool, dep.secondary_pool):
                    for officer_id in pool.officers():
                        pool.discard(officer_id)
                        pool.add(officer_id, self._pool_key(dep, self._officers[officer_id]))

    def _account(self, officer: Officer, sign: int) -> None:
        """Add (+1) or remove (-1) the officer's share in its primary departments' capacity and free count."""
        k = len(officer.primary)
        serving = officer.state in SERVING_STATES
        free = officer.state in FREE_STATES
        for dep_id in officer.primary:
            dep = self._deps[dep_id]
            if serving:
                dep.capacity[k] = dep.capacity.get(k, 0) + sign
                if dep.capacity[k] == 0:
                    del dep.capacity[k]
            if free:
                dep.free += sign

    @staticmethod
    def _pool_key(dep: Dept, officer: Officer) -> PoolKey:
        if dep.config.strategy is RoutingStrategy.FEWEST_CALLS:
            return (officer.calls_today, officer.idle_since, officer.officer_id)
        return (officer.idle_since, officer.officer_id)

    def _enter_pools(self, officer: Officer) -> None:
        for dep_id in officer.primary:
            dep = self._deps[dep_id]
            dep.primary_pool.add(officer.officer_id, self._pool_key(dep, officer))
        for dep_id in officer.secondary:
            dep = self._deps[dep_id]
            dep.secondary_pool.add(officer.officer_id, self._pool_key(dep, officer))

    def _leave_pools(self, officer: Officer) -> None:
        for dep_id in officer.primary:
            self._deps[dep_id].primary_pool.discard(officer.officer_id)
        for dep_id in officer.secondary:
            self._deps[dep_id].secondary_pool.discard(officer.officer_id)

    def _record_handle(self, officer: Officer, now: float) -> None:
        if officer.busy_since is not None and officer.busy_completed and officer.busy_department is not None:
            seconds = now - officer.busy_since
            self._deps[officer.busy_department].handle.add(seconds)
            dstats = self._book.today.department(officer.busy_department)
            dstats.handled += 1
            dstats.handle_s += seconds
            ostats = self._book.today.officer(officer.officer_id)
            ostats.handled += 1
            ostats.handle_s += seconds
        officer.busy_since = None
        officer.busy_department = None
        officer.busy_completed = False
