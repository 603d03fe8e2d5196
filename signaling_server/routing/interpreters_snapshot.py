"""The interpreter pool's waiting requests, as saved with the router's queue snapshot (``queue_state``).

A server restart must not lose a call's wait for an interpreter any more than a resident's place in the
queue: the switchboard saves these next to the router's snapshot (one JSON document, key
``interpreters``) at the tick after they changed, and the conference layer gives them back to the pool
after the calls are restored (``InterpreterPool.restore_requests``). No table of their own: the snapshot
is one row, written in one place.

Kept: the call, the language, when it was asked for (its place: requests of a language are served in
that order) and who declined or let it ring out (not offered again). A request that was ringing at the
crash waits again: its interpreter never answered. Also kept: the languages kiosks asked for with their
``request_call`` whose call no officer has answered yet (requested at the answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SNAPSHOT_KEY = "interpreters"


class InterpreterSnapshotError(ValueError):
    """A saved interpreter snapshot this version cannot read (the requests are then dropped, logged)."""


@dataclass(frozen=True, slots=True)
class WaitingRequest:
    call_id: str
    language: str
    requested_at: float
    tried: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "language": self.language,
            "requested_at": self.requested_at,
            "tried": list(self.tried),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WaitingRequest:
        return cls(
            str(data["call_id"]),
            str(data["language"]),
            float(data["requested_at"]),
            tuple(str(t) for t in data.get("tried", ())),
        )


@dataclass(frozen=True, slots=True)
class InterpreterSnapshot:
    requests: tuple[WaitingRequest, ...] = ()
    asked: Mapping[str, str] | None = None  # call id -> the language its kiosk asked for before an answer

    def to_json(self) -> dict[str, Any]:
        return {"requests": [r.to_json() for r in self.requests], "asked": dict(self.asked or {})}

    @classmethod
    def from_json(cls, data: Any) -> InterpreterSnapshot:
        """Read the saved part (absent in a snapshot saved before interpreters: nothing waits)."""
        if data is None:
            return cls()
        try:
            return cls(
                tuple(WaitingRequest.from_json(r) for r in data.get("requests", [])),
                {str(k): str(v) for k, v in data.get("asked", {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"interpreter snapshot field is missing or wrong: {exc!r}"
            raise InterpreterSnapshotError(detail) from exc
