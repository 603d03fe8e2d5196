"""The restore path without a server: records and the queue snapshot back into a new switchboard."""

from __future__ import annotations

from remote_call import protocol as p
from remote_call.protocol import CallState
from signaling_server.store import CallRecord

from .conftest import kiosk, officer


def record(call_id: str, created_at: float, department: str = "kenchiku-shido") -> CallRecord:
    return CallRecord(
        call_id=call_id,
        kiosk_id=f"kiosk-{call_id}",
        department=department,
        procedure=None,
        language="ja",
        state="queued",
        created_at=created_at,
    )


def test_waiting_callers_keep_their_order_without_a_snapshot(harness) -> None:
    now = harness.clock()
    for call_id, created in (("b", now - 10), ("a", now - 30), ("c", now - 5)):
        harness.store.save_call(record(call_id, created))
    board = harness.restart()
    assert board.router.waiting("kenchiku-shido") == ["a", "b", "c"]  # by join time
    assert {c: board.calls[c].state for c in board.calls} == dict.fromkeys("abc", CallState.QUEUED)


def test_the_snapshot_keeps_its_order_and_records_win_on_state(harness) -> None:
    k1, _ = harness.connect(kiosk("kiosk-ueda"))
    k2, _ = harness.connect(kiosk("kiosk-tonan"))
    harness.send(k1, p.RequestCall(department="kenchiku-shido"))
    harness.send(k2, p.RequestCall(department="kenchiku-shido"))
    first, second = harness.board.router.waiting("kenchiku-shido")
    harness.board.tick()  # the queue snapshot is saved at a tick
    harness.send(k1, p.CancelCall(call_id=first))  # after the snapshot: only the record says it ended
    board = harness.restart()
    assert board.router.waiting("kenchiku-shido") == [second]
    assert list(board.calls) == [second]


def test_a_connected_call_is_held_for_its_officer_who_resumes_it(harness) -> None:
    _k, _, _o, _, call_id = harness.call_in_progress()
    harness.board.tick()
    board = harness.restart()
    assert board.calls[call_id].state is CallState.IN_CALL
    assert board.router.waiting("kosodate") == []
    _, inbox = harness.connect(officer())
    assert "call_started" in inbox.types()


def test_a_call_of_a_department_gone_from_the_configuration_ends(harness) -> None:
    harness.store.save_call(record("x", harness.clock(), department="no-such-department"))
    board = harness.restart()
    assert board.calls == {}
    saved = harness.store.call("x")
    assert (saved.state, saved.end_reason) == ("ended", "kiosk_disconnected")
