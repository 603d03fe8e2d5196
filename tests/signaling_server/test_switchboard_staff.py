"""Staff updates on the fake clock: statistics pushes, and sessions that expire on long connections."""

from __future__ import annotations

from dataclasses import replace

from remote_call import protocol as p
from remote_call.protocol import ErrorCode
from signaling_server.auth import Principal
from signaling_server.switchboard.staff import RATING_GRACE_S, SESSION_CHECK_S, STATS_PUSH_S

from .conftest import kiosk, officer, supervisor


def stats(inbox) -> list[dict]:
    return [m.stats for m in inbox.only(p.SupervisorStats)]


def test_a_supervisor_sees_the_numbers_at_once_then_every_push_period(harness) -> None:
    boss = supervisor()
    every = {d: "primary" for d in harness.board.directory.departments}  # supervises every department
    _, inbox = harness.connect(replace(boss, skills=every))
    assert stats(inbox) == []
    harness.board.tick()  # no time passed: a new supervisor is not kept waiting
    assert len(stats(inbox)) == 1
    harness.advance(STATS_PUSH_S - 0.1)
    assert len(stats(inbox)) == 1
    harness.advance(0.1)
    assert len(stats(inbox)) == 2
    assert set(stats(inbox)[-1]["departments"]) == set(harness.board.directory.departments)


def test_an_officer_sees_only_the_queues_it_serves(harness) -> None:
    _, inbox = harness.connect(officer(skills={"kosodate": "primary", "kenko-hoken": "secondary"}))
    harness.connect(kiosk())
    harness.advance(STATS_PUSH_S)
    (pushed,) = stats(inbox)[-1:]
    # ... and, for transfers, how many officers are free or busy in every department (counts only)
    assert set(pushed["availability"]) == set(harness.board.directory.departments)
    assert pushed["availability"]["kosodate"]["available"] == 1
    assert set(pushed) == {"date", "at", "departments", "availability"} and set(pushed["departments"]) == {
        "kosodate",
        "kenko-hoken",
    }


def test_officers_hear_the_same_numbers_whether_or_not_a_supervisor_watches(harness) -> None:
    """Without a supervisor the leader leaves each officer's own figures out of its statistics."""
    _, inbox = harness.connect(officer(skills={"kosodate": "primary"}))
    harness.connect(kiosk())
    harness.advance(STATS_PUSH_S)
    alone = stats(inbox)[-1]
    every = {d: "primary" for d in harness.board.directory.departments}
    _, boss_inbox = harness.connect(replace(supervisor(), skills=every))
    harness.advance(STATS_PUSH_S)
    watched = stats(inbox)[-1]
    assert alone["availability"] == watched["availability"] and alone["departments"] == watched["departments"]
    assert stats(boss_inbox)[-1]["officers"]["hanako"]["state"] == "available"  # the supervisor's has them


def test_an_expired_session_is_disconnected_at_the_next_check(harness) -> None:
    o, o_inbox = harness.connect(officer())
    _, s_inbox = harness.connect(supervisor())
    k, k_inbox = harness.connect(kiosk())
    harness.board.tick()  # the first check, at start
    harness.expired.add(o.principal.session_token)
    harness.advance(SESSION_CHECK_S - 1)
    assert not o_inbox.closed
    harness.advance(1)
    assert o_inbox.closed and "hanako" not in harness.board.officers
    assert [m.code for m in o_inbox.only(p.Error)] == [ErrorCode.UNAUTHENTICATED]
    assert not s_inbox.closed and not k_inbox.closed and harness.board.kiosks["kiosk-ueda"] is k


def test_a_business_whose_call_ended_may_rate_it_before_being_signed_out(harness) -> None:
    """Its session is over with its call, but the thank-you page asks for a rating: the connection stays
    RATING_GRACE_S, then the next check signs it out (a revoked or unused session goes at once)."""
    info = p.BusinessInfo(
        invitation_id="inv-1",
        department="kosodate",
        company="盛岡設計事務所",
        contact_name="設計 花子",
        valid_from="2026-11-25T09:00:00+09:00",
        valid_until="2026-11-25T12:00:00+09:00",
    )
    business, b_inbox = harness.connect(
        Principal(p.Role.BUSINESS, "biz-inv-1", info.company, {}, "session-of-biz", business=info)
    )
    _, idle_inbox = harness.connect(
        Principal(p.Role.BUSINESS, "biz-inv-2", info.company, {}, "session-of-idle", business=info)
    )
    o, _ = harness.connect(officer())
    harness.board.tick()  # the first check, at start
    harness.send(business, p.RequestCall(department="kosodate"))
    (call_id,) = harness.board.calls
    harness.send(o, p.AcceptCall(call_id=call_id))
    for client in (business, o):
        harness.send(client, p.MediaConnected(call_id=call_id))
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved"))
    harness.expired |= {"session-of-biz", "session-of-idle"}
    harness.advance(SESSION_CHECK_S)
    assert idle_inbox.closed and not b_inbox.closed
    harness.send(business, p.RateCall(call_id=call_id, rating=4))
    assert harness.store.call(call_id).rating == 4
    harness.advance(RATING_GRACE_S)
    assert b_inbox.closed and "biz-inv-1" not in harness.board.businesses
    assert [m.code for m in b_inbox.only(p.Error)] == [ErrorCode.UNAUTHENTICATED]
