"""DeviceHealth: the heartbeat's view of each device."""

from __future__ import annotations

import pytest

from hardware.health import DeviceHealth, HealthTracker


def test_to_dict_and_validation() -> None:
    health = DeviceHealth("degraded", "no echo cancellation", since=100.0)
    assert health.to_dict() == {"status": "degraded", "detail": "no echo cancellation", "since": 100.0}
    assert health.usable and not DeviceHealth("error", "x").usable
    with pytest.raises(ValueError, match="status"):
        DeviceHealth("fine", "")  # type: ignore[arg-type]


def test_since_moves_only_when_the_status_changes() -> None:
    tracker = HealthTracker("ok", "a")
    first = tracker.get().since
    assert not tracker.set("ok", "b")  # same status, new detail
    assert tracker.get().since == first and tracker.get().detail == "b"
    assert tracker.set("error", "unplugged")
    assert tracker.get().status == "error" and tracker.get().since >= first
