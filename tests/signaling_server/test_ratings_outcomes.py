"""Issue 15 items 6 and 8 on the server: satisfaction ratings (rate_call) and an officer's outcome that
arrives after the resident hung up."""

from __future__ import annotations

from dataclasses import replace

import pytest

from remote_call import protocol as p
from remote_call.protocol import ErrorCode, ProtocolError
from signaling_server.auth import Principal
from signaling_server.routing.offers import WRAP_HOLD_MAX_S
from signaling_server.switchboard.commands import LATE_OUTCOME_S, RATING_WINDOW_S

from .conftest import kiosk, officer, supervisor


def refused(harness, client, message: p.Wire) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        harness.send(client, message)
    return caught.value


def ended_call(harness):
    """A call the resident hung up: (kiosk, officer, call id)."""
    k, _, o, _, call_id = harness.call_in_progress()
    harness.send(k, p.EndCall(call_id=call_id))
    assert call_id not in harness.board.calls
    return k, o, call_id


def test_a_rating_is_stored_once_and_counted_for_the_department_and_officer(harness) -> None:
    k, _o, call_id = ended_call(harness)
    harness.send(k, p.RateCall(call_id=call_id, rating=4))
    assert harness.store.call(call_id).rating == 4
    error = refused(harness, k, p.RateCall(call_id=call_id, rating=1))
    assert error.code is ErrorCode.CONFLICT and "rated already" in error.detail
    assert harness.store.call(call_id).rating == 4  # the first rating stands
    stats = harness.board.stats()
    department = stats["departments"]["kosodate"]
    assert (department["ratings"], department["rating_sum"], department["rating_mean"]) == (1, 4, 4.0)
    assert stats["officers"]["hanako"]["ratings"] == 1
    assert ("call_rated", {"call_id": call_id, "rating": 4}) in harness.events


def test_the_supervisor_sees_the_average_of_the_days_ratings(harness) -> None:
    boss = replace(supervisor(), skills={"kosodate": "primary"})  # supervises 子育て支援課
    _boss, boss_inbox = harness.connect(boss)
    k, o, call_id = ended_call(harness)
    harness.send(k, p.RateCall(call_id=call_id, rating=5))
    harness.send(o, p.SetStatus(status="available"))  # wrap-up ended early
    second, _ = harness.connect(kiosk("kiosk-tonan"))
    harness.send(second, p.RequestCall(department="kosodate"))
    (call_id,) = harness.board.calls
    harness.send(o, p.AcceptCall(call_id=call_id))
    for client in (second, o):
        harness.send(client, p.MediaConnected(call_id=call_id))
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved"))
    harness.send(second, p.RateCall(call_id=call_id, rating=2))
    harness.advance(3.0)  # the next statistics push
    stats = boss_inbox.only(p.SupervisorStats)[-1].stats["departments"]["kosodate"]
    assert stats["ratings"] == 2 and stats["rating_mean"] == pytest.approx(3.5)


def test_only_the_caller_of_an_ended_answered_call_may_rate_it_in_time(harness, clock) -> None:
    k, _k_inbox, o, _, call_id = harness.call_in_progress()
    error = refused(harness, k, p.RateCall(call_id=call_id, rating=5))
    assert error.code is ErrorCode.CONFLICT and "has not ended yet" in error.detail
    harness.send(k, p.EndCall(call_id=call_id))
    other, _ = harness.connect(kiosk("kiosk-tonan"))
    error = refused(harness, other, p.RateCall(call_id=call_id, rating=5))
    assert error.code is ErrorCode.NOT_FOUND
    error = refused(harness, o, p.RateCall(call_id=call_id, rating=5))
    assert error.code is ErrorCode.FORBIDDEN  # officers do not rate
    clock.advance(RATING_WINDOW_S + 1)
    error = refused(harness, k, p.RateCall(call_id=call_id, rating=5))
    assert error.code is ErrorCode.CONFLICT and "too late to rate" in error.detail
    assert harness.store.call(call_id).rating is None


def test_a_call_cancelled_in_the_queue_cannot_be_rated(harness) -> None:
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kenchiku-shido"))  # nobody serves it
    (call_id,) = harness.board.calls
    harness.send(k, p.CancelCall(call_id=call_id))
    error = refused(harness, k, p.RateCall(call_id=call_id, rating=3))
    assert error.code is ErrorCode.CONFLICT and "never answered" in error.detail


def test_a_rating_outside_one_to_five_is_not_a_valid_message() -> None:
    for rating in (0, 6):
        with pytest.raises(ProtocolError) as caught:
            p.parse_message(f'{{"type": "rate_call", "call_id": "c1", "rating": {rating}}}')
        assert caught.value.code is ErrorCode.INVALID


def test_the_outcome_written_after_the_resident_hung_up_is_recorded(harness, clock) -> None:
    _k, o, call_id = ended_call(harness)
    assert harness.store.call(call_id).outcome is None
    clock.advance(120)  # the officer finishes the note
    harness.send(o, p.EndCall(call_id=call_id, outcome="visit_city_hall", notes="来庁予約を案内"))
    record = harness.store.call(call_id)
    assert (record.outcome, record.notes, record.end_reason) == (
        "visit_city_hall",
        "来庁予約を案内",
        "completed",
    )
    error = refused(harness, o, p.EndCall(call_id=call_id, outcome="resolved"))
    assert error.code is ErrorCode.CONFLICT and "outcome already" in error.detail
    assert harness.store.call(call_id).outcome == "visit_city_hall"


def test_a_late_outcome_only_from_the_calls_officer_and_in_time(harness, clock) -> None:
    k, o, call_id = ended_call(harness)
    error = refused(harness, k, p.EndCall(call_id=call_id, outcome="resolved"))
    assert error.code is ErrorCode.NOT_FOUND  # a kiosk ending an ended call: not its to close
    other, _ = harness.connect(officer("taro"))
    error = refused(harness, other, p.EndCall(call_id=call_id, outcome="resolved"))
    assert error.code is ErrorCode.NOT_FOUND
    clock.advance(LATE_OUTCOME_S + 1)
    error = refused(harness, o, p.EndCall(call_id=call_id, outcome="resolved"))
    assert error.code is ErrorCode.CONFLICT and "its outcome is closed" in error.detail
    assert harness.store.call(call_id).outcome is None


def test_a_rating_survives_an_old_database_without_the_column(tmp_path) -> None:
    import sqlite3

    from signaling_server.store import Store

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE calls (call_id TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, department TEXT NOT NULL,"
        " procedure TEXT, language TEXT, officer TEXT, state TEXT NOT NULL, end_reason TEXT, outcome TEXT,"
        " notes TEXT, created_at REAL NOT NULL, answered_at REAL, started_at REAL, ended_at REAL)"
    )
    old.execute(
        "INSERT INTO calls(call_id, kiosk_id, department, state, created_at) VALUES"
        " ('c1', 'k', 'kosodate', 'ended', 1.0)"
    )
    old.commit()
    old.close()
    store = Store(path)
    try:
        assert store.call("c1").rating is None
        assert store.rate_call("c1", 2) and not store.rate_call("c1", 5)
        assert store.call("c1").rating == 2
    finally:
        store.close()


def test_the_days_ratings_survive_a_server_restart(harness) -> None:
    k, _o, call_id = ended_call(harness)
    harness.send(k, p.RateCall(call_id=call_id, rating=2))
    harness.board.tick()  # the queue and the day's counters are saved
    board = harness.restart()
    department = board.stats()["departments"]["kosodate"]
    assert (department["ratings"], department["rating_mean"]) == (1, 2.0)


def test_wrap_up_stands_still_while_the_officer_writes_the_outcome(harness) -> None:
    _k, o, _call_id = ended_call(harness)  # kosodate: 15 s of wrap-up
    state = lambda: harness.board.router.officer_state("hanako").value  # noqa: E731
    assert state() == "wrap_up"
    harness.advance(10)
    harness.send(o, p.HoldWrapUp(hold=True))
    harness.advance(120)  # a long note
    assert state() == "wrap_up"
    harness.send(o, p.HoldWrapUp(hold=False))
    harness.advance(4.9)  # the 5 s that were left
    assert state() == "wrap_up"
    harness.advance(0.2)
    assert state() == "available"
    harness.send(o, p.HoldWrapUp(hold=True))  # outside wrap-up: nothing happens
    assert state() == "available"


def test_a_forgotten_wrap_up_hold_ends(harness) -> None:
    _k, o, _call_id = ended_call(harness)
    harness.send(o, p.HoldWrapUp(hold=True))
    harness.advance(WRAP_HOLD_MAX_S + 14)
    assert harness.board.router.officer_state("hanako").value == "wrap_up"
    harness.advance(2)
    assert harness.board.router.officer_state("hanako").value == "available"


def test_a_business_rates_its_own_call_and_a_kiosk_cannot_rate_it(harness) -> None:
    info = p.BusinessInfo(
        invitation_id="inv-1",
        department="kosodate",
        company="盛岡設計事務所",
        contact_name="設計 花子",
        valid_from="2026-11-25T09:00:00+09:00",
        valid_until="2026-11-25T12:00:00+09:00",
    )
    business, _ = harness.connect(
        Principal(p.Role.BUSINESS, "biz-inv-1", info.company, {}, "session-of-biz", business=info)
    )
    o, _ = harness.connect(officer())
    harness.send(business, p.RequestCall(department="kosodate"))
    (call_id,) = harness.board.calls
    harness.send(o, p.AcceptCall(call_id=call_id))
    for client in (business, o):
        harness.send(client, p.MediaConnected(call_id=call_id))
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved"))
    same_name_kiosk, _ = harness.connect(kiosk("biz-inv-1"))  # the identity alone is not the caller
    error = refused(harness, same_name_kiosk, p.RateCall(call_id=call_id, rating=1))
    assert error.code is ErrorCode.NOT_FOUND
    harness.send(business, p.RateCall(call_id=call_id, rating=5))
    assert harness.store.call(call_id).rating == 5
