"""The rolling handle time and the wait estimate formula."""

from __future__ import annotations

import pytest

from signaling_server.routing.estimate import HandleTimes, estimate_wait


def test_rolling_mean_with_default_until_first_sample() -> None:
    handle = HandleTimes(window=3, default_s=240)
    assert handle.mean() == 240
    for seconds in (100, 200, 300):
        handle.add(seconds)
    assert handle.mean() == pytest.approx(200)
    handle.add(400)  # 100 drops out of the window
    assert handle.mean() == pytest.approx(300)
    assert handle.samples() == [200, 300, 400]
    with pytest.raises(ValueError):
        HandleTimes(window=0)


def test_estimate_formula() -> None:
    assert estimate_wait(1, free=0, capacity=2, aht_s=300) == pytest.approx(150)
    assert estimate_wait(3, free=0, capacity=2, aht_s=300) == pytest.approx(450)
    assert estimate_wait(2, free=1, capacity=2, aht_s=300) == pytest.approx(150)
    assert estimate_wait(1, free=1, capacity=2, aht_s=300) == 0.0
    assert estimate_wait(1, free=0, capacity=0, aht_s=300) is None
