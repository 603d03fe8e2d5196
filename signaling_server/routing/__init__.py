"""The queue router: pure routing logic (no I/O, clock injected) that the signaling server drives."""

from signaling_server.routing.decisions import (
    CallerRemoved,
    CallRequeued,
    CallTransferred,
    CaseAdvanced,
    Connect,
    Decision,
    DepartmentStatus,
    JoinRefused,
    OfficerStateChanged,
    QueuePosition,
    Ring,
    RouterError,
    TransferCancelled,
    WithdrawRing,
)
from signaling_server.routing.router import Router
from signaling_server.routing.states import ALLOWED_TRANSITIONS, OfficerState, SkillLevel

__all__ = [
    "ALLOWED_TRANSITIONS",
    "CallRequeued",
    "CallTransferred",
    "CallerRemoved",
    "CaseAdvanced",
    "Connect",
    "Decision",
    "DepartmentStatus",
    "JoinRefused",
    "OfficerState",
    "OfficerStateChanged",
    "QueuePosition",
    "Ring",
    "Router",
    "RouterError",
    "SkillLevel",
    "TransferCancelled",
    "WithdrawRing",
]
