"""Device health as the kiosk heartbeat reports it.

status: "ok" (working), "degraded" (working with a loss, e.g. no echo cancellation, or recovering),
"error" (configured but not working: unplugged, no answer, paper out), "absent" (not configured).
`since` is the wall-clock time the status last changed, so the console can say "camera lost 3 min ago".
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Literal

HealthStatus = Literal["ok", "degraded", "error", "absent"]
STATUSES: tuple[str, ...] = ("ok", "degraded", "error", "absent")


@dataclass(frozen=True)
class DeviceHealth:
    status: HealthStatus
    detail: str = ""
    since: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"health status must be one of {STATUSES}, got {self.status!r}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def usable(self) -> bool:
        return self.status in ("ok", "degraded")


class HealthTracker:
    """Thread-safe current health of one device; `since` only moves when the status changes."""

    def __init__(self, status: HealthStatus = "ok", detail: str = "", history: int = 20) -> None:
        self._lock = threading.Lock()
        self._health = DeviceHealth(status, detail)
        self._history: collections.deque[DeviceHealth] = collections.deque([self._health], maxlen=history)

    def set(self, status: HealthStatus, detail: str = "") -> bool:
        """Record the current state; returns True if the status changed."""
        with self._lock:
            old = self._health
            if old.status == status:
                if old.detail != detail:
                    self._health = DeviceHealth(status, detail, old.since)
                return False
            self._health = DeviceHealth(status, detail)
            self._history.append(self._health)
            return True

    def get(self) -> DeviceHealth:
        with self._lock:
            return self._health

    def history(self) -> list[DeviceHealth]:
        """The last status changes, oldest first (each as it was when the status changed)."""
        with self._lock:
            return list(self._history)
