"""Pinned where ``./run-mutation routing`` (December 2026, third round) found one-line bugs no test noticed
in restarts and rejoins: when a snapshot was saved, a held call waiting the whole grace for its officer, a
caller joining after a restart queueing behind the restored ones, a place left kept for the grace only,
a one-stop case kept with a place across a restart, a requeue keeping the caller's wait and counted each
time, and a minimal snapshot read as an empty queue."""

from __future__ import annotations

import pytest

from signaling_server.routing import (
    CallerRemoved,
    OfficerState,
    OfficerStateChanged,
    QueuePosition,
    Router,
    RouterError,
    SkillLevel,
)
from signaling_server.routing.snapshot import QueueSnapshot
from signaling_server.routing.stats import DailyStats

from .conftest import FakeClock, make_department

P = SkillLevel.PRIMARY
GRACE = 120.0


def _router(clock: FakeClock) -> Router:
    deps = [
        make_department("kosodate"),
        make_department("nenkin"),
        make_department("kaigo"),
        make_department("okuyami", kind="one_stop", one_stop_departments=["nenkin", "kaigo"]),
    ]
    return Router(deps, clock=clock, rejoin_grace_s=GRACE)


def test_a_snapshot_says_when_it_was_saved(clock: FakeClock) -> None:
    router = _router(clock)
    clock.advance(42)
    assert router.snapshot()["saved_at"] == clock()
    assert router.queue_snapshot().saved_at == clock()


def test_a_call_held_across_a_restart_waits_the_whole_grace_for_its_officer(clock: FakeClock) -> None:
    before = _router(clock)
    before.officer_online("o1", {"kosodate": P})
    before.join("c1", "kosodate")
    before.accept("o1", "c1")
    after = _router(clock)
    after.restore(before.snapshot())
    clock.advance(GRACE - 1)
    after.tick()
    assert after.call_info("c1")["state"] == "held"  # not yet given up on the officer
    after.officer_online("o1", {"kosodate": P})
    assert after.officer_state("o1") is OfficerState.IN_CALL
    assert after.call_info("c1")["officer_id"] == "o1"


def test_a_caller_joining_as_the_server_restarts_queues_behind_the_restored_ones(clock: FakeClock) -> None:
    before = _router(clock)
    before.join("c2", "kosodate")  # joined this very second
    after = _router(clock)
    after.restore(before.snapshot())
    after.join("c1", "kosodate")  # the same second, after the restart: a smaller id, but later
    assert after.waiting("kosodate") == ["c2", "c1"]


def test_a_place_left_is_kept_for_the_grace_only(clock: FakeClock) -> None:
    router = _router(clock)
    router.join("c1", "kosodate", kiosk_id="k1")
    first_joined = clock()
    clock.advance(30)
    router.join("c2", "kosodate", kiosk_id="k2")
    router.leave("c1")
    assert [place["kiosk_id"] for place in router.snapshot()["parked"]] == ["k1"]
    clock.advance(GRACE + 1)
    router.tick()  # the kept place expires: forgotten, not only refused
    assert router.snapshot()["parked"] == []
    router.join("c3", "kosodate", kiosk_id="k1")
    assert router.waiting("kosodate") == ["c2", "c3"]  # at the back, as a new caller
    assert router.call_info("c3")["join_time"] != first_joined


def test_a_place_rejoined_in_time_keeps_its_wait_and_order(clock: FakeClock) -> None:
    router = _router(clock)
    router.join("c1", "kosodate", kiosk_id="k1")
    router.join("c2", "kosodate", kiosk_id="k2")
    router.join("c3", "kosodate", kiosk_id="k3")  # the same second: the order is the join order
    router.leave("c1")
    router.leave("c3")
    clock.advance(GRACE - 1)
    router.tick()
    router.join("c4", "kosodate", kiosk_id="k3")  # c3's place: behind c2, as before
    router.join("c5", "kosodate", kiosk_id="k1")  # c1's place: ahead of both
    assert router.waiting("kosodate") == ["c5", "c2", "c4"]


def test_a_one_stop_caller_who_left_finds_its_case_after_a_restart(clock: FakeClock) -> None:
    before = _router(clock)
    before.join("c1", "okuyami", kiosk_id="k1")  # no officer yet: the caller waits, then leaves
    before.leave("c1")
    case = before.snapshot()["parked"][0]["case"]
    assert case is not None and case["home_department"] == "okuyami"
    after = _router(clock)
    after.restore(before.snapshot())
    after.join("c2", "okuyami", kiosk_id="k1")
    assert after.call_info("c2")["case"] == case


def test_callers_sent_back_by_disconnected_officers_keep_their_wait_and_are_counted(clock: FakeClock) -> None:
    router = _router(clock)
    for n in (1, 2):
        router.officer_online(f"o{n}", {"kosodate": P})
        router.join(f"c{n}", "kosodate")
        router.accept(f"o{n}", f"c{n}")
    entered = router.call_info("c1")["entered_at"]
    clock.advance(60)
    router.officer_offline("o1")
    router.officer_offline("o2")
    assert router.stats()["departments"]["kosodate"]["requeued"] == 2
    assert router.call_info("c1")["entered_at"] == entered  # its wait goes on from when it first queued


def test_a_snapshot_of_just_its_version_is_an_empty_queue(clock: FakeClock) -> None:
    snapshot = QueueSnapshot.from_json({"version": 1})
    assert snapshot == QueueSnapshot()
    assert QueueSnapshot.from_json(QueueSnapshot().to_json()) == snapshot  # written with no day, read back
    router = _router(clock)
    router.restore(snapshot)
    assert router.waiting("kosodate") == [] and router.stats()["officers"] == {}


@pytest.mark.parametrize("field", ["queued", "kiosk_id"])
def test_a_caller_saved_without_its_optional_fields_is_read_with_their_defaults(field: str) -> None:
    router_json = {
        "version": 1,
        "callers": [
            {
                "call_id": "c1",
                "department": "kosodate",
                "kiosk_id": "k1",
                "join_time": 1.0,
                "entered_at": 1.0,
                "priority": 1,
                "seq": 3,
                "queued": True,
            }
        ],
        "parked": [
            {
                "kiosk_id": "k2",
                "department": "kosodate",
                "call_id": "c0",
                "join_time": 0.5,
                "entered_at": 0.5,
                "priority": 1,
                "info": {},
                "notes": [],
                "case": {"home_department": "kosodate"},
                "parked_at": 2.0,
            }
        ],
    }
    del router_json["callers"][0][field]  # type: ignore[index]
    snapshot = QueueSnapshot.from_json(router_json)
    caller, parked = snapshot.callers[0], snapshot.parked[0]
    assert caller.queued is True
    assert caller.kiosk_id == ("" if field == "kiosk_id" else "k1")
    assert (parked.seq, parked.case) == (0, {"home_department": "kosodate"})


def test_an_officer_who_drops_mid_call_has_handled_nothing_and_its_caller_survives_a_restart(
    clock: FakeClock,
) -> None:
    router = _router(clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    clock.advance(30)
    router.officer_offline("o1")
    info = router.officer_info("o1")
    assert (info["state"], info["call"], info["ringing_call"]) == ("offline", None, None)
    assert router.stats()["officers"]["o1"]["handled"] == 0  # a dropped call is not a handled one
    after = _router(clock)
    after.restore(router.snapshot())  # the requeued caller is restored, waiting
    assert after.waiting("kosodate") == ["c1"] and after.call_info("c1")["state"] == "queued"


def test_an_officer_who_drops_while_ringing_is_offered_nothing(clock: FakeClock) -> None:
    router = _router(clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.officer_offline("o1")
    assert router.officer_info("o1")["ringing_call"] is None
    assert router.call_info("c1")["state"] == "queued"


def test_a_restore_is_refused_by_name_into_a_used_router_or_an_unknown_department(clock: FakeClock) -> None:
    before = _router(clock)
    before.join("c1", "kosodate")
    used = _router(clock)
    used.join("c9", "nenkin")
    with pytest.raises(RouterError) as caught:
        used.restore(before.snapshot())
    assert str(caught.value) == "restore() needs a fresh router: this one already has callers or officers"
    smaller = Router([make_department("nenkin")], clock=clock)
    with pytest.raises(RouterError) as caught:
        smaller.restore(before.snapshot())
    assert str(caught.value) == (
        "snapshot caller 'c1' is in department 'kosodate', which the configuration no longer has"
    )


def test_yesterdays_figures_saved_before_midnight_are_kept_as_history(clock: FakeClock) -> None:
    before = _router(clock)
    before.officer_online("o1", {"kosodate": P})
    before.join("c1", "kosodate")
    before.accept("o1", "c1")
    saved = before.queue_snapshot()  # saved on the 25th, with the 25th as its day
    clock.advance(24 * 3600)  # the server comes back the next day
    after = _router(clock)
    after.restore(saved)
    history = after.stats()["history"]
    assert history["2026-11-25"]["departments"]["kosodate"]["answered"] == 1
    assert after.stats()["departments"]["kosodate"]["answered"] == 0


def test_every_restored_waiting_caller_is_told_its_place_at_the_first_tick(clock: FakeClock) -> None:
    before = _router(clock)
    before.join("c1", "kosodate")
    clock.advance(1)
    before.join("c2", "kosodate")
    after = _router(clock)
    after.restore(before.snapshot())
    told = {d.call_id: d.position for d in after.tick() if isinstance(d, QueuePosition)}
    assert told == {"c1": 1, "c2": 2}


def test_a_kiosk_gone_mid_call_ends_it_and_its_officer_wraps_up(clock: FakeClock) -> None:
    router = _router(clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    out = router.leave("c1")
    assert out[-1] == CallerRemoved("c1", "cancelled")
    assert OfficerStateChanged("o1", OfficerState.WRAP_UP, None) in out
    assert router.officer_info("o1")["call"] is None


def test_a_held_caller_who_leaves_is_not_resumed_when_its_officer_returns(clock: FakeClock) -> None:
    before = _router(clock)
    before.officer_online("o1", {"kosodate": P})
    before.join("c1", "kosodate")
    before.accept("o1", "c1")
    after = _router(clock)
    after.restore(before.snapshot())
    assert after.leave("c1") == [CallerRemoved("c1", "cancelled")]
    after.officer_online("o1", {"kosodate": P})
    assert after.officer_state("o1") is OfficerState.AVAILABLE


def test_a_day_saved_without_counters_reads_as_a_day_with_none() -> None:
    day = DailyStats.from_json({"date": "2026-11-25"})
    assert (day.date, day.departments, day.officers) == ("2026-11-25", {}, {})
