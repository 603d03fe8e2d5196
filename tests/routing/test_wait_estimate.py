"""The one wait estimate every surface renders: its states are consistent with the officers and the queue."""

from __future__ import annotations

import math
import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remote_call import protocol as p
from signaling_server.routing.estimate import WaitEstimate, WaitState, estimate_wait, wait_estimate

# One department's officers on shift: each is free (available or ringing) or busy (in a call, wrap-up),
# and serves k departments as primary (so counts 1/k in the estimate's capacity).
officers = st.lists(st.tuples(st.booleans(), st.integers(min_value=1, max_value=4)), max_size=8)


def inputs(on_shift: list[tuple[bool, int]]) -> tuple[int, float]:
    free = sum(1 for is_free, _ in on_shift if is_free)
    capacity = sum(1 / k for _, k in on_shift)
    return free, capacity


@given(
    open_now=st.booleans(),
    waiting=st.integers(min_value=0, max_value=40),
    on_shift=officers,
    aht_s=st.floats(min_value=0, max_value=7200, allow_nan=False),
)
def test_the_states_are_consistent(open_now: bool, waiting: int, on_shift: list, aht_s: float) -> None:
    free, capacity = inputs(on_shift)
    estimate = wait_estimate(open=open_now, waiting=waiting, free=free, capacity=capacity, aht_s=aht_s)
    state, minutes = estimate.state, estimate.minutes
    assert (state is WaitState.CLOSED) == (not open_now)
    assert (minutes == 0) == (state is WaitState.NO_WAIT)  # 0 minutes exactly when nobody has to wait
    assert (minutes is None) == (state in (WaitState.CLOSED, WaitState.NO_OFFICER))
    if state is WaitState.NO_WAIT:
        assert free > waiting  # an officer is free for the caller joining now
    if state is WaitState.NO_OFFICER:
        assert not on_shift
    if state is WaitState.NOBODY_WAITING_OFFICERS_BUSY:
        assert waiting == 0 and free == 0 and on_shift
    if state is WaitState.WAIT:
        assert waiting > 0 and free <= waiting
    if minutes:  # the figure is the router's EWT for a caller joining now, rounded up to whole minutes
        ewt = estimate_wait(waiting + 1, free, capacity, aht_s)
        assert ewt is not None and minutes == max(1, math.ceil(ewt / 60))


@given(waiting=st.integers(min_value=0, max_value=40), on_shift=officers, aht_s=st.floats(0, 7200))
def test_one_more_caller_never_shortens_the_wait(waiting: int, on_shift: list, aht_s: float) -> None:
    free, capacity = inputs(on_shift)
    now = wait_estimate(open=True, waiting=waiting, free=free, capacity=capacity, aht_s=aht_s)
    later = wait_estimate(open=True, waiting=waiting + 1, free=free, capacity=capacity, aht_s=aht_s)
    if now.minutes is not None:
        assert later.minutes is not None and later.minutes >= now.minutes


def test_the_four_open_states_by_example() -> None:
    assert wait_estimate(open=True, waiting=0, free=1, capacity=1, aht_s=300) == WaitEstimate(
        WaitState.NO_WAIT, 0
    )
    # Nobody waiting, but the only officer is in a call: not "no wait" — about one handle time.
    assert wait_estimate(open=True, waiting=0, free=0, capacity=1, aht_s=300) == WaitEstimate(
        WaitState.NOBODY_WAITING_OFFICERS_BUSY, 5
    )
    assert wait_estimate(open=True, waiting=2, free=0, capacity=2, aht_s=300) == WaitEstimate(
        WaitState.WAIT,
        8,  # (3 − 0) × 300 / 2 = 450 s: 7.5 minutes, rounded up
    )
    assert wait_estimate(open=True, waiting=3, free=0, capacity=0, aht_s=300) == WaitEstimate(
        WaitState.NO_OFFICER, None
    )
    assert wait_estimate(open=False, waiting=0, free=2, capacity=2, aht_s=300).to_json() == {
        "wait_state": "closed",
        "wait_minutes": None,
    }
    with pytest.raises(ValueError, match="negative"):
        wait_estimate(open=True, waiting=-1, free=0, capacity=1, aht_s=300)


def test_the_wire_names_the_same_states() -> None:
    assert set(typing.get_args(p.WaitStateName)) == {s.value for s in WaitState}
