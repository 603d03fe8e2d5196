"""The call state machine: every allowed path, every end reason, and refusals of the rest."""

from __future__ import annotations

import itertools

import pytest

from remote_call.protocol import CallState, EndReason
from signaling_server.calls import ALLOWED, Call, IllegalTransition
from signaling_server.store import CallRecord


def new_call() -> Call:
    return Call(
        CallRecord(
            call_id="c1",
            kiosk_id="k1",
            department="kosodate",
            procedure=None,
            language="ja",
            state="queued",
            created_at=0.0,
        )
    )


def test_happy_path_records_times():
    call = new_call()
    call.move(CallState.RINGING, 1.0)
    call.move(CallState.CONNECTING, 2.0)
    call.move(CallState.IN_CALL, 3.0)
    call.move(CallState.ENDED, 9.0, reason=EndReason.COMPLETED)
    r = call.record
    assert (r.answered_at, r.started_at, r.ended_at, r.end_reason) == (2.0, 3.0, 9.0, "completed")


@pytest.mark.parametrize("reason", list(EndReason))
def test_every_end_reason_is_recorded(reason: EndReason):
    call = new_call()
    call.move(CallState.ENDED, 5.0, reason=reason)
    assert call.state is CallState.ENDED
    assert call.record.end_reason == reason.value


def test_requeue_forgets_the_officer():
    call = new_call()
    call.move(CallState.RINGING, 1.0)
    call.move(CallState.CONNECTING, 2.0)
    call.record.officer = "hanako"
    call.media_up.add("hanako")
    call.move(CallState.QUEUED, 3.0)
    assert call.record.officer is None and not call.media_up


@pytest.mark.parametrize(
    ("old", "new"), [(a, b) for a, b in itertools.product(CallState, CallState) if b not in ALLOWED[a]]
)
def test_illegal_transitions_are_refused(old: CallState, new: CallState):
    call = new_call()
    call.record.state = old.value
    with pytest.raises(IllegalTransition, match=f"{old.value} → {new.value}"):
        call.move(new, 1.0, reason=EndReason.COMPLETED if new is CallState.ENDED else None)


def test_end_reason_goes_with_ended_only():
    call = new_call()
    with pytest.raises(IllegalTransition):
        call.move(CallState.ENDED, 1.0)
    with pytest.raises(IllegalTransition):
        call.move(CallState.RINGING, 1.0, reason=EndReason.COMPLETED)
