"""reconcile() where ``./run-mutation routing`` found a record's word not checked: a call that moved to
another department or was answered after the snapshot, and a record the snapshot never saw."""

from __future__ import annotations

from signaling_server.routing.snapshot import QueueSnapshot, reconcile

from .test_snapshot import caller, record

DEPARTMENTS = {"kosodate", "nenkin"}


def test_the_records_department_wins_wherever_the_call_stands() -> None:
    snapshot = QueueSnapshot(
        saved_at=100.0,
        callers=(
            caller("answered", 10, 1),  # queued at the snapshot, then transferred and answered
            caller("waiting", 20, 2, queued=False, officer="o1", officer_department="kosodate"),
            caller("setup", 30, 3),  # connecting without an officer: kept as it was, but where it is
        ),
    )
    records = [
        record("answered", "connecting", 10, department="nenkin", officer="o2"),
        record("waiting", "ringing", 20, department="nenkin"),
        record("setup", "connecting", 30, department="nenkin"),
    ]
    by_id = {c.call_id: c for c in reconcile(snapshot, records, DEPARTMENTS).callers}
    assert by_id["answered"] == caller(
        "answered", 10, 1, department="nenkin", queued=False, officer="o2", officer_department="nenkin"
    )
    assert by_id["waiting"] == caller("waiting", 20, 2, department="nenkin")
    assert by_id["setup"] == caller("setup", 30, 3, department="nenkin")


def test_a_record_the_snapshot_never_saw_waits_in_its_department() -> None:
    records = [record("new", "connecting", 40, department="nenkin")]  # no officer yet: it waits
    (new,) = reconcile(None, records, DEPARTMENTS).callers
    assert (new.call_id, new.department, new.queued, new.officer, new.seq) == ("new", "nenkin", True, None, 1)
