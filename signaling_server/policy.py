"""Who may read what: the one place that decides, for REST routes (through ``access.py``) and websocket
pushes (``switchboard/staff.py``) alike. Pure functions of a principal and the thing asked for.

**A member of staff's departments** are the departments of their account's skills (``officers.skills``,
set by ``madoguchi-admin add-officer --skill``): for an officer the departments they serve, for a supervisor
the departments they supervise. IT administrators have none: they run the system, not the counters.

| what | officer | supervisor | it_admin |
|---|---|---|---|
| a case's documents (read) | the calls they handled | calls of their departments | never |
| a case's documents (save) | the calls they handled, within a day | never | never |
| live statistics: departments | their departments | their departments | all (no resident data) |
| live statistics: officers | none | officers serving one of their departments | all |
| live statistics: interpretation (per language) | none | all | all |

**Interpreters** (issue 18) have no departments: they read no case documents (REST answers 403) and no
statistics; what they see of a call is what its parties show them (docs/security.md).
"""

from __future__ import annotations

from typing import Any

from remote_call.protocol import Role
from signaling_server.auth import Principal
from signaling_server.store import CallRecord

UPLOAD_WINDOW_S = 24 * 3600  # an officer may save a call's documents up to a day after it ended


def departments_of(principal: Principal) -> frozenset[str]:
    if principal.role in (Role.OFFICER, Role.SUPERVISOR):
        return frozenset(principal.skills)
    return frozenset()


def handled(principal: Principal, record: CallRecord) -> bool:
    return principal.role is Role.OFFICER and record.officer == principal.identity


def may_read_case(principal: Principal, record: CallRecord) -> bool:
    if principal.role is Role.SUPERVISOR:
        return record.department in departments_of(principal)
    return handled(principal, record)


def may_save_case(principal: Principal, record: CallRecord, now: float) -> bool:
    recent = record.ended_at is None or now - record.ended_at < UPLOAD_WINDOW_S
    return handled(principal, record) and recent


def stats_for(principal: Principal, stats: dict[str, Any]) -> dict[str, Any]:
    """``stats`` (``Router.stats()``, with or without its history) as ``principal`` may see them."""
    if principal.role is Role.IT_ADMIN:
        return stats
    mine = departments_of(principal)
    seen: dict[str, Any] = {"date": stats.get("date"), "at": stats.get("at")}
    seen["departments"] = _departments(stats.get("departments", {}), mine)
    if principal.role is not Role.SUPERVISOR:
        return seen
    seen["officers"] = _officers(stats.get("officers", {}), mine)
    if "interpretation" in stats:  # per language, no resident data: interpretation is paid by the minute
        seen["interpretation"] = stats["interpretation"]
    if "history" in stats:
        seen["history"] = {
            day: {
                "departments": _departments(data.get("departments", {}), mine),
                "officers": {k: v for k, v in data.get("officers", {}).items() if k in seen["officers"]},
            }
            for day, data in stats["history"].items()
        }
    return seen


def _departments(departments: dict[str, Any], mine: frozenset[str]) -> dict[str, Any]:
    return {d: v for d, v in departments.items() if d in mine}


def _officers(officers: dict[str, Any], mine: frozenset[str]) -> dict[str, Any]:
    """Officers serving one of ``mine``, with only those departments listed."""
    seen = {}
    for name, data in officers.items():
        theirs = data.get("departments", {})
        if any(d in mine for d in theirs):
            seen[name] = {**data, "departments": _departments(theirs, mine)}
    return seen
