"""Officer states and the transitions the router allows between them."""

from __future__ import annotations

from enum import StrEnum


class OfficerState(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    RINGING = "ringing"
    IN_CALL = "in_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"


class SkillLevel(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"


# IN_CALL -> AVAILABLE: media never came up (requeue) or the department has no wrap-up time.
# OFFLINE -> IN_CALL: an officer reconnecting to a call that was held across a server restart.
ALLOWED_TRANSITIONS: dict[OfficerState, frozenset[OfficerState]] = {
    OfficerState.OFFLINE: frozenset({OfficerState.AVAILABLE, OfficerState.IN_CALL, OfficerState.WRAP_UP}),
    OfficerState.AVAILABLE: frozenset({OfficerState.RINGING, OfficerState.AWAY, OfficerState.OFFLINE}),
    OfficerState.RINGING: frozenset(
        {OfficerState.AVAILABLE, OfficerState.IN_CALL, OfficerState.AWAY, OfficerState.OFFLINE}
    ),
    OfficerState.IN_CALL: frozenset({OfficerState.WRAP_UP, OfficerState.AVAILABLE, OfficerState.OFFLINE}),
    OfficerState.WRAP_UP: frozenset({OfficerState.AVAILABLE, OfficerState.AWAY, OfficerState.OFFLINE}),
    OfficerState.AWAY: frozenset({OfficerState.AVAILABLE, OfficerState.AWAY, OfficerState.OFFLINE}),
}

# States in which an officer counts as serving its departments (used by the wait estimate).
SERVING_STATES = frozenset(
    {OfficerState.AVAILABLE, OfficerState.RINGING, OfficerState.IN_CALL, OfficerState.WRAP_UP}
)
# States in which an officer is free or about to be (counted as "free" by the wait estimate).
FREE_STATES = frozenset({OfficerState.AVAILABLE, OfficerState.RINGING})

AWAY_REASONS = frozenset({"break", "counter", "meeting"})  # 休憩, 窓口対応中, 会議
NO_ANSWER = "no_answer"  # set by the router after too many unanswered offers


def is_allowed(old: OfficerState, new: OfficerState) -> bool:
    return new in ALLOWED_TRANSITIONS[old]
