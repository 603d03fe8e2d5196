"""The typed snapshot: the stored JSON (version 1) unchanged, restored by today's router, and reconcile()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signaling_server.routing import (
    CaseAdvanced,
    OfficerState,
    OfficerStateChanged,
    RequeueCaller,
    Ring,
    Router,
    RouterError,
    SkillLevel,
)
from signaling_server.routing.snapshot import (
    CallerSnapshot,
    ParkedSnapshot,
    QueueSnapshot,
    SnapshotError,
    reconcile,
)
from signaling_server.routing.stats import DailyStats
from signaling_server.store import CallRecord, Store

from .conftest import make_department

P = SkillLevel.PRIMARY

# Saved by the router as it was before it was split into modules (commit b0d77f5, router.py of 1,444 lines),
# on 2026-11-25 at 09:08:18 Tokyo time, from a script that drove it through: a day with one call, then
# midnight (history); a handled nenkin call (a handle time, calls today); a one-stop case served by
# okuyami and connected again in kosodate (held after a restart); a warm transfer pending from nenkin to
# kosodate; normal and head callers waiting; one ringing; one who left (parked for a rejoin).
V1 = json.loads((Path(__file__).parent / "snapshot_v1.json").read_text(encoding="utf-8"))
SAVED_AT = V1["saved_at"]


def v1_departments():
    return [
        make_department("kosodate", wrap_up_s=10),
        make_department("nenkin", wrap_up_s=0),
        make_department("okuyami", kind="one_stop", one_stop_departments=["kosodate", "nenkin"]),
    ]


def test_v1_json_reads_and_writes_back_unchanged() -> None:
    snapshot = QueueSnapshot.from_json(V1)
    assert snapshot.to_json() == V1
    assert json.dumps(snapshot.to_json(), ensure_ascii=False) == json.dumps(V1, ensure_ascii=False)
    assert [c.call_id for c in snapshot.callers if c.held] == ["ok1", "w1"]
    assert snapshot.today is not None and snapshot.today.date == "2026-11-25"


def test_a_v1_snapshot_saved_before_the_split_restores(clock) -> None:
    clock.now = SAVED_AT + 2
    router = Router(v1_departments(), clock=clock)
    router.restore(V1)
    assert router.waiting("kosodate") == ["w1", "h", "a", "b"]  # head priority first, then by join time
    assert router.waiting("nenkin") == ["n1"]
    held = router.call_info("ok1")
    assert held["state"] == "held" and held["case"]["log"][0]["note"] == "死亡届 受理済み"
    assert router.call_info("w1")["notes"][0]["note"] == "保育の相談もあり"
    assert router.call_info("a")["join_time"] == 1795565265.0
    # The officer of the held one-stop call comes back and resumes it; its case moves on when it ends.
    out = router.officer_online("sato", {"kosodate": P, "okuyami": P})
    assert OfficerStateChanged("sato", OfficerState.IN_CALL, "resumed") in out
    assert router.officer_info("sato")["calls_today"] == 2
    out = router.call_finished("ok1", outcome="done")
    assert CaseAdvanced("ok1", "kosodate", "nenkin", ("nenkin",)) in out
    # The caller who left rejoins within the grace and gets its place (after b) back.
    router.join("p2", "kosodate", kiosk_id="k5")
    assert router.waiting("kosodate")[-2:] == ["b", "p2"]
    router.join("c", "kosodate", kiosk_id="k0")  # numbered after every restored caller
    assert router.waiting("kosodate")[-1] == "c"
    stats = router.stats()
    assert stats["departments"]["kosodate"]["rejoined"] == 1
    assert stats["departments"]["nenkin"]["rolling_aht_s"] == 300.0
    assert stats["history"]["2026-11-24"]["departments"]["kosodate"]["handled"] == 1
    # tanaka never returns: its warm-transferred caller simply keeps waiting in kosodate.
    clock.advance(120)
    out = router.tick()
    assert not [d for d in out if isinstance(d, RequeueCaller)]
    assert "w1" in router.waiting("kosodate")


def test_held_call_whose_officer_does_not_return_is_requeued(clock) -> None:
    clock.now = SAVED_AT + 2
    router = Router(v1_departments(), clock=clock)
    router.restore(QueueSnapshot.from_json(V1))
    clock.advance(120)
    out = router.tick()
    assert RequeueCaller("ok1", "kosodate", "not_resumed") in out
    assert router.waiting("kosodate")[:2] == ["ok1", "w1"]  # its original join time, at the head


def test_router_writes_what_it_restores(clock) -> None:
    clock.now = SAVED_AT + 2
    router = Router(v1_departments(), clock=clock)
    router.restore(V1)
    again = router.snapshot()
    assert {k: v for k, v in again.items() if k not in ("saved_at", "callers")} == {
        k: v for k, v in V1.items() if k not in ("saved_at", "callers")
    }
    assert sorted(again["callers"], key=lambda c: c["call_id"]) == sorted(
        V1["callers"], key=lambda c: c["call_id"]
    )
    assert QueueSnapshot.from_json(again) == router.queue_snapshot()


def test_a_captured_snapshot_does_not_change_with_the_router(clock) -> None:
    router = Router([make_department("kosodate")], clock=clock)
    router.join("a", "kosodate", info={"procedure": "x"})
    captured = router.queue_snapshot()
    router.officer_online("o1", {"kosodate": P})
    router.accept("o1", "a")
    router.transfer("a", "kosodate", note="again", warm=False)
    assert captured.callers[0].notes == [] and captured.callers[0].queued
    assert captured.today is not None and captured.today.departments["kosodate"].answered == 0


def test_unreadable_snapshots_are_refused() -> None:
    with pytest.raises(SnapshotError, match="version 1"):
        QueueSnapshot.from_json({"version": 2})
    broken = {**V1, "callers": [{k: v for k, v in V1["callers"][0].items() if k != "join_time"}]}
    with pytest.raises(SnapshotError, match="join_time"):
        QueueSnapshot.from_json(broken)
    assert issubclass(SnapshotError, RouterError)  # the server's fallback catches RouterError


# ------------------------------------------------------------------------------------------ reconcile


def record(call_id: str, state: str, created_at: float, *, department="kosodate", officer=None) -> CallRecord:
    return CallRecord(
        call_id=call_id,
        kiosk_id=f"k-{call_id}",
        department=department,
        procedure="hoiku",
        language=None,
        state=state,
        created_at=created_at,
        officer=officer,
    )


def caller(call_id: str, join_time: float, seq: int, **fields) -> CallerSnapshot:
    values = {
        "call_id": call_id,
        "department": "kosodate",
        "kiosk_id": f"k-{call_id}",
        "info": {"procedure": "hoiku"},
        "join_time": join_time,
        "entered_at": join_time,
        "priority": 1,
        "seq": seq,
        "queued": True,
    }
    values.update(fields)
    return CallerSnapshot(**values)


def test_reconcile_records_win_on_where_a_call_stands() -> None:
    snapshot = QueueSnapshot(
        saved_at=100.0,
        callers=(
            caller("answered", 10, 1),  # answered after the snapshot: held for its officer
            caller("requeued", 20, 2, queued=False, officer="o1", officer_department="kosodate"),
            caller("ended", 30, 3),  # ended after the snapshot: no live record
            caller("setup", 40, 4, priority=0),  # connecting without an officer: stays as it was
            caller("gone", 50, 5, department="zeimu"),
        ),
        parked=(ParkedSnapshot("k9", "kosodate", "p", 5.0, 5.0, 1, {}, [], None, 90.0, 6),),
        today=DailyStats(date="2026-11-25"),
        handle_times={"kosodate": (240.0,)},
    )
    records = [
        record("answered", "in_call", 10, officer="o2"),
        record("requeued", "queued", 20),
        record("setup", "connecting", 40),
        record("gone", "queued", 50, department="zeimu"),
        record("late2", "ringing", 70),
        record("late1", "queued", 60),
    ]
    result = reconcile(snapshot, records, {"kosodate"})
    by_id = {c.call_id: c for c in result.callers}
    assert [c.call_id for c in result.callers] == ["answered", "requeued", "setup", "late1", "late2"]
    assert by_id["answered"] == caller(
        "answered", 10, 1, queued=False, officer="o2", officer_department="kosodate"
    )
    assert by_id["requeued"] == caller("requeued", 20, 2)
    assert by_id["setup"] == caller("setup", 40, 4, priority=0)
    # Calls newer than the snapshot: by their creation time, numbered after the ones it knows.
    assert by_id["late1"] == caller("late1", 60, 5, info={"procedure": "hoiku", "language": "ja"})
    assert by_id["late2"].seq == 6 and by_id["late2"].join_time == 70
    assert (result.parked, result.today, result.handle_times) == (
        snapshot.parked,
        snapshot.today,
        snapshot.handle_times,
    )


def test_reconcile_without_a_snapshot_restores_the_records_by_join_time(clock) -> None:
    records = [
        record("b", "queued", clock.now - 30),
        record("a", "queued", clock.now - 60),
        record("c", "in_call", clock.now - 90, officer="o1"),
    ]
    result = reconcile(None, records, {"kosodate"})
    assert [(c.call_id, c.seq, c.queued, c.officer) for c in result.callers] == [
        ("c", 1, False, "o1"),
        ("a", 2, True, None),
        ("b", 3, True, None),
    ]
    router = Router([make_department("kosodate")], clock=clock)
    router.restore(result)
    assert router.waiting("kosodate") == ["a", "b"]
    assert router.call_info("c")["state"] == "held"
    out = router.officer_online("o2", {"kosodate": P})
    assert [r.call_id for r in out if isinstance(r, Ring)] == ["a"]


def test_the_server_restores_a_v1_queue_saved_before_the_split(clock) -> None:
    from signaling_server.switchboard.restore import restore_calls  # the server's restore path

    clock.now = SAVED_AT + 2
    store = Store(":memory:")
    try:
        store.save_queue(V1)
        for call_id, state, officer in (
            ("a", "queued", None),
            ("b", "queued", None),
            ("h", "queued", None),
            ("n1", "ringing", None),
            ("ok1", "in_call", "sato"),
        ):  # w1 ended after the snapshot: it has no live record
            department = "nenkin" if call_id == "n1" else "kosodate"
            store.save_call(record(call_id, state, SAVED_AT - 60, department=department, officer=officer))
        router = Router(v1_departments(), clock=clock)
        calls = restore_calls(router, store, [d.id for d in v1_departments()], clock, store.load_queue())
        assert router.waiting("kosodate") == ["h", "a", "b"]  # the snapshot's order, not the records'
        assert router.waiting("nenkin") == ["n1"]
        assert router.call_info("ok1")["state"] == "held"
        assert sorted(calls) == ["a", "b", "h", "n1", "ok1"]
        assert calls["n1"].record.state == "queued" and calls["ok1"].record.state == "in_call"
        assert calls["a"].caller.procedure == "hoiku-moshikomi"  # the snapshot's info, not the record's
    finally:
        store.close()


def test_the_server_restore_writes_back_only_the_records_it_changed(clock, monkeypatch) -> None:
    """A new leader restores some 10,000 live calls: writing every record back held the database's write
    lock for a third of its restore; only a record whose state the restore changed is written."""
    from signaling_server.switchboard.restore import restore_calls

    clock.now = SAVED_AT + 2
    store = Store(":memory:")
    try:
        store.save_queue(V1)
        for call_id, state, officer in (
            ("a", "queued", None),
            ("n1", "ringing", "sato"),
            ("ok1", "in_call", "sato"),
        ):
            department = "nenkin" if call_id == "n1" else "kosodate"
            store.save_call(record(call_id, state, SAVED_AT - 60, department=department, officer=officer))
        store.save_call(record("gone", "queued", SAVED_AT - 60, department="closed-since"))
        written: list[str] = []
        save = store.save_call
        monkeypatch.setattr(store, "save_call", lambda r: written.append(r.call_id) or save(r))
        calls = restore_calls(
            Router(v1_departments(), clock=clock), store, [d.id for d in v1_departments()], clock, V1
        )
        assert sorted(written) == ["gone", "n1"]  # back in the queue; ended with its department
        assert sorted(calls) == ["a", "n1", "ok1"]
        n1, gone = store.call("n1"), store.call("gone")
        assert n1 is not None and (n1.state, n1.officer) == ("queued", None)
        assert gone is not None and (gone.state, gone.end_reason) == ("ended", "kiosk_disconnected")
    finally:
        store.close()
