"""A call whose kiosk heard it end but never start counts as completed only when the server's records show
it started before the node's kill and completed (``simulator/load/records.py``)."""

from __future__ import annotations

from pathlib import Path

from signaling_server.store import CallRecord, Store
from simulator.load.records import start_unheard, started_on_record
from simulator.load.summary import RunRecord, completed_call

KILLED_AT = 1_000.0


def heard(call_id: str, *, started: bool, end_reason: str | None) -> dict:
    return {"call_id": call_id, "kiosk": "kiosk-a", "started": started, "end_reason": end_reason}


def record(call_id: str, **fields: object) -> CallRecord:
    values: dict = {"state": "ended", "end_reason": "completed", "outcome": "resolved", "officer": "hanako"}
    values |= {"started_at": 990.0, "ended_at": 995.0, **fields}
    return CallRecord(call_id, "kiosk-a", "kosodate", None, "ja", values.pop("state"), 980.0, **values)


def test_only_an_end_heard_without_a_start_is_looked_up():
    calls = [
        heard("started", started=True, end_reason="completed"),
        heard("unheard", started=False, end_reason="completed"),
        heard("cancelled", started=False, end_reason="cancelled"),
        heard("", started=False, end_reason="completed"),  # never queued: no id to look up
    ]
    assert start_unheard(calls) == ["unheard"]


def test_the_records_decide_and_only_for_a_call_started_before_the_kill(tmp_path: Path):
    database = str(tmp_path / "records.sqlite3")
    store = Store(database)
    for call in (
        record("confirmed"),
        record("never-started", started_at=None),
        record("requeued", end_reason="requeued"),
        record("no-outcome", outcome=None),
        record("ended-after-the-kill", ended_at=KILLED_AT + 9),  # started before: its start was lost
        record("started-after-the-kill", started_at=KILLED_AT + 1, ended_at=KILLED_AT + 9),
        record("still-open", state="in_call", end_reason=None, ended_at=None),
    ):
        store.save_call(call)
    store.close()
    asked = ["confirmed", "never-started", "requeued", "no-outcome", "ended-after-the-kill", "still-open"]
    asked += ["started-after-the-kill", "unknown"]
    assert started_on_record(database, asked, KILLED_AT) == {"confirmed", "ended-after-the-kill"}
    assert started_on_record(database, asked, None) == set()  # no node was killed: nothing to excuse


def test_a_call_confirmed_by_the_records_counts_as_completed():
    run = RunRecord(started_on_record={"confirmed"})
    assert completed_call(heard("confirmed", started=False, end_reason="completed"), run)
    assert completed_call(heard("other", started=True, end_reason="completed"), run)
    assert not completed_call(heard("other", started=False, end_reason="completed"), run)
    assert not completed_call(heard("confirmed", started=True, end_reason="cancelled"), run)
