"""Pinned where ``./run-mutation routing`` (December 2026, fourth round) found one-line bugs no test noticed
in joins and rings: each refusal naming its department, a place kept for a kiosk given back at the last
second of the grace and never to a caller without a kiosk, and a requeued ring-all caller past its
overflow time ringing the department's own free officers as well as the overflow."""

from __future__ import annotations

import datetime as dt

import pytest

from signaling_server.routing import (
    AppointmentClaim,
    JoinRefused,
    OfficerState,
    Router,
    RouterError,
    SkillLevel,
)

from .conftest import TOKYO, FakeClock, make_department

P, S = SkillLevel.PRIMARY, SkillLevel.SECONDARY
GRACE = 120.0


@pytest.mark.parametrize(
    ("local_time", "max_queue", "reason"),
    [
        (dt.time(20, 0), 10, "closed"),
        (dt.time(17, 5), 10, "last_join_passed"),  # open until 17:15, the last join at 17:00
        (dt.time(10, 0), 1, "queue_full"),
    ],
)
def test_each_refusal_names_its_department(
    clock: FakeClock, local_time: dt.time, max_queue: int, reason: str
) -> None:
    router = Router([make_department("kosodate", max_queue=max_queue)], clock=clock)
    router.join("first", "kosodate")  # a queue of one at 10:00
    clock.set_local(dt.datetime.combine(dt.date(2026, 11, 25), local_time, TOKYO))
    with pytest.raises(JoinRefused) as refused:
        router.join("c1", "kosodate")
    assert (refused.value.reason, refused.value.department) == (reason, "kosodate")
    assert str(refused.value).startswith(f"department 'kosodate' refused the caller: {reason}")


def test_a_kept_place_is_given_back_at_the_last_second_of_the_grace(clock: FakeClock) -> None:
    router = Router([make_department("kosodate")], clock=clock, rejoin_grace_s=GRACE)
    router.join("c1", "kosodate", kiosk_id="k1", info={"language": "vi", "purpose": "手当"})
    joined = clock()
    router.join("c2", "kosodate", kiosk_id="k2")
    clock.advance(10)
    router.leave("c1")
    clock.advance(GRACE)  # exactly the grace (its expiry is due, not yet handled)
    router.join("c1-again", "kosodate", kiosk_id="k1", info={"language": "ja"})
    info = router.call_info("c1-again")
    assert (info["join_time"], info["entered_at"], info["department"]) == (joined, joined, "kosodate")
    assert (info["kiosk_id"], info["info"]) == ("k1", {"language": "ja", "purpose": "手当"})
    assert router.waiting("kosodate") == ["c1-again", "c2"]


def test_a_caller_without_a_kiosk_never_takes_a_kept_place(clock: FakeClock) -> None:
    before = Router([make_department("kosodate")], clock=clock, rejoin_grace_s=GRACE)
    before.join("c1", "kosodate", kiosk_id="k1")
    before.leave("c1")
    snapshot = before.snapshot()
    snapshot["parked"][0]["kiosk_id"] = ""  # a place saved for no kiosk (an older or edited snapshot)
    clock.advance(30)
    after = Router([make_department("kosodate")], clock=clock, rejoin_grace_s=GRACE)
    after.restore(snapshot)
    after.join("c2", "kosodate")  # no kiosk
    assert after.call_info("c2")["join_time"] == clock()


def test_a_requeued_ring_all_caller_past_its_overflow_rings_its_departments_officers_too(
    clock: FakeClock,
) -> None:
    router = Router([make_department("a", strategy="ring_all", overflow_after_s=20)], clock=clock)
    router.officer_online("p1", {"a": P})
    router.officer_online("p2", {"a": P})
    router.join("c1", "a")  # rings p1 and p2
    router.accept("p1", "c1")  # p2 is free again
    clock.advance(30)
    router.officer_online("s1", {"a": S})
    router.officer_offline("p1")  # c1 goes back to the head, with its wait of 30 s: past the overflow
    assert router.officer_state("p2") is OfficerState.RINGING
    assert router.officer_info("p2")["ringing_call"] == "c1"
    assert router.officer_info("s1")["ringing_call"] == "c1"


def test_a_department_unknown_or_not_remote_is_named_in_the_refusal(clock: FakeClock) -> None:
    router = Router([make_department("kosodate"), make_department("shiryo", remote=False)], clock=clock)
    for department, reason in (("nowhere", "unknown_department"), ("shiryo", "not_remote")):
        with pytest.raises(JoinRefused) as refused:
            router.join("c1", department)
        assert (refused.value.reason, refused.value.department) == (reason, department)


def test_a_call_id_that_is_not_one_is_refused_by_name(clock: FakeClock) -> None:
    router = Router([make_department("kosodate")], clock=clock)
    with pytest.raises(RouterError, match=r"^call_id must be a non-empty string, not ''$"):
        router.join("", "kosodate")


def test_the_estimate_counts_an_officer_serving_two_departments_as_half(clock: FakeClock) -> None:
    router = Router([make_department("a"), make_department("b")], clock=clock)
    router.officer_online("o1", {"a": P})  # serves a alone: 1
    router.officer_online("o2", {"a": P, "b": P})  # serves a and b: 1/2 each
    for officer, call_id in (("o1", "c1"), ("o2", "c2")):
        router.join(call_id, "a")  # rings the longest idle: o1, then o2
        router.accept(officer, call_id)
    router.join("c3", "a")
    # Second in line, nobody free, 1.5 officers at the default 300 s: 2 × 300 / 1.5.
    assert router.department_status("a").ewt_s == pytest.approx(400.0)


def test_a_checked_in_caller_keeps_its_kiosk_and_gets_a_one_stop_case_only_where_there_is_one(
    clock: FakeClock,
) -> None:
    deps = [
        make_department("nenkin"),
        make_department("kaigo"),
        make_department("okuyami", kind="one_stop", one_stop_departments=["nenkin", "kaigo"]),
    ]
    router = Router(deps, clock=clock)
    router.join(
        "c1", "okuyami", kiosk_id="k1", appointment=AppointmentClaim("b1", clock()), checklist=["kaigo"]
    )
    info = router.call_info("c1")
    assert info["kiosk_id"] == "k1"
    assert info["case"] is not None
    assert [step["department"] for step in info["case"]["checklist"]] == ["kaigo"]
    router.join("c2", "nenkin", kiosk_id="k2", appointment=AppointmentClaim("b2", clock()))
    assert router.call_info("c2")["case"] is None


def test_every_rejoin_counts(clock: FakeClock) -> None:
    router = Router([make_department("kosodate")], clock=clock, rejoin_grace_s=GRACE)
    for call_id in ("c1", "c2", "c3"):
        router.join(call_id, "kosodate", kiosk_id="k1")  # c2 and c3 rejoin the place c1 left
        router.leave(call_id)
    counters = router.stats()["departments"]["kosodate"]
    assert (counters["offered"], counters["rejoined"]) == (3, 2)
