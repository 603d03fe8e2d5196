"""Echo cancellation (livekit's WebRTC audio processing module) and its "not available" fallback."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from hardware.echo import (
    EchoCanceller,
    create_echo_canceller,
    erle_db,
    measure_echo_reduction,
    synthetic_echo,
)


def test_synthetic_echo_is_reduced() -> None:
    canceller, detail = create_echo_canceller(True)
    if canceller is None:
        pytest.skip(detail)
    assert "on" in detail
    reduction = measure_echo_reduction(canceller, seconds=4.0, settle_s=2.0)
    assert reduction > 20, reduction
    # Without a far-end reference the same signal is not cancelled: the reduction comes from the reference.
    blind, _ = create_echo_canceller(True)
    assert blind is not None
    _, mic = synthetic_echo(4.0)
    out = np.concatenate([blind.capture(mic[i : i + 960]) for i in range(0, mic.size - 959, 960)])
    assert erle_db(mic[96_000 : out.size], out[96_000:]) < reduction - 10


def test_disabled_and_missing_module_are_reported(monkeypatch) -> None:
    canceller, detail = create_echo_canceller(False)
    assert canceller is None and "disabled" in detail
    monkeypatch.setitem(sys.modules, "livekit", None)  # as if the wheel were not installed
    canceller, detail = create_echo_canceller(True)
    assert canceller is None and "not available" in detail and "livekit" in detail


def test_blocks_must_be_whole_10ms_mono_int16() -> None:
    canceller, detail = create_echo_canceller(True)
    if canceller is None:
        pytest.skip(detail)
    assert isinstance(canceller, EchoCanceller)
    with pytest.raises(ValueError, match="10 ms"):
        canceller.capture(np.zeros(500, np.int16))
    with pytest.raises(ValueError, match="int16"):
        canceller.render(np.zeros(480, np.float32))
