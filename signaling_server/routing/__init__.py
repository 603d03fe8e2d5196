"""The queue router: pure routing logic (no I/O, clock injected) that the signaling server drives."""

from signaling_server.routing.claims import AppointmentClaim, CheckInDesk, CheckInRefused
from signaling_server.routing.decisions import (
    CallerRemoved,
    CaseAdvanced,
    Connect,
    Decision,
    DepartmentStatus,
    HoldForSlot,
    JoinRefused,
    KeepWithOfficer,
    OfficerStateChanged,
    QueuePosition,
    RequeueCaller,
    Ring,
    RouterError,
    TransferCaller,
    WithdrawRing,
)
from signaling_server.routing.router import Router
from signaling_server.routing.snapshot import CallerSnapshot, QueueSnapshot, SnapshotError, reconcile
from signaling_server.routing.states import ALLOWED_TRANSITIONS, OfficerState, SkillLevel

__all__ = [
    "ALLOWED_TRANSITIONS",
    "AppointmentClaim",
    "CallerRemoved",
    "CallerSnapshot",
    "CaseAdvanced",
    "CheckInDesk",
    "CheckInRefused",
    "Connect",
    "Decision",
    "DepartmentStatus",
    "HoldForSlot",
    "JoinRefused",
    "KeepWithOfficer",
    "OfficerState",
    "OfficerStateChanged",
    "QueuePosition",
    "QueueSnapshot",
    "RequeueCaller",
    "Ring",
    "Router",
    "RouterError",
    "SkillLevel",
    "SnapshotError",
    "TransferCaller",
    "WithdrawRing",
    "reconcile",
]
