"""Pinned where ``./run-mutation routing`` (December 2026, fourth round) found one-line bugs no test noticed
in answers and endings: declines counted per officer and department, an officer's ring forgotten when it
goes away or another answers, an answer at exactly the service level, calls and unanswered rings counted at
each answer, a call's note and ending refused by name, an ending during a warm transfer, and a call held
across a restart released during its warm transfer. Below them the pieces' own contracts: the wait
estimate's refusals, a queue asked about callers it has not or has set aside last, and a reservation
replacing the call's earlier one."""

from __future__ import annotations

import pytest

from signaling_server.routing import OfficerState, OfficerStateChanged, Router, RouterError, SkillLevel
from signaling_server.routing.claims import Reservations
from signaling_server.routing.estimate import wait_estimate
from signaling_server.routing.records import MAX_NOTE_CHARS
from signaling_server.routing.structures import DepartmentQueue

from .conftest import FakeClock, make_department

P = SkillLevel.PRIMARY


@pytest.fixture
def router(clock: FakeClock) -> Router:
    deps = [make_department("kosodate", service_level_s=45, wrap_up_s=0), make_department("nenkin")]
    return Router(deps, clock=clock)


def test_declines_count_for_the_officer_and_the_department(router: Router) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.officer_online("o2", {"kosodate": P})
    router.join("c1", "kosodate")  # rings o1
    router.decline("o1", "c1")  # offered to o2
    router.decline("o2", "c1")  # offered to o1 again
    router.set_away("o1", "break")  # a ringing officer going away declines too
    stats = router.stats()
    assert stats["departments"]["kosodate"]["declines"] == 3
    assert (stats["officers"]["o1"]["declined"], stats["officers"]["o2"]["declined"]) == (2, 1)
    assert router.officer_info("o1")["ringing_call"] is None  # away, ringing nothing


def test_an_officer_whose_ring_another_answered_rings_nothing(router: Router, clock: FakeClock) -> None:
    router = Router([make_department("kosodate", strategy="ring_all")], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.officer_online("o2", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    assert router.officer_state("o2") is OfficerState.AVAILABLE
    assert router.officer_info("o2")["ringing_call"] is None


def test_each_answer_counts_and_one_at_exactly_the_service_level_is_within_it(
    router: Router, clock: FakeClock
) -> None:
    router.join("c1", "kosodate")
    clock.advance(45)
    router.officer_online("o1", {"kosodate": P})  # rings c1, who has waited exactly 45 s
    router.accept("o1", "c1")
    router.call_finished("c1")
    router.join("c2", "kosodate")
    clock.advance(20)  # o1 misses c2's ring once: one unanswered
    router.tick()
    assert router.officer_info("o1")["unanswered"] == 1
    router.accept("o1", "c2")
    kosodate = router.stats()["departments"]["kosodate"]
    assert (kosodate["answered"], kosodate["answered_within_sl"], kosodate["service_level"]) == (2, 2, 1.0)
    info = router.officer_info("o1")
    assert (info["calls_today"], info["unanswered"]) == (2, 0)


def test_a_call_ended_that_is_not_connected_is_refused_by_name(router: Router) -> None:
    router.join("c1", "kosodate")
    with pytest.raises(RouterError, match="call 'c1' is not connected to an officer"):
        router.call_finished("c1")
    with pytest.raises(RouterError, match="unknown department 'nowhere'"):
        router.waiting("nowhere")
    with pytest.raises(RouterError, match="unknown department 'nowhere'"):
        router.department_status("nowhere")


def test_an_ending_note_of_the_longest_length_is_taken_and_one_more_character_refused(
    router: Router,
) -> None:
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    with pytest.raises(RouterError, match=f"note is longer than {MAX_NOTE_CHARS} characters"):
        router.call_finished("c1", note="あ" * (MAX_NOTE_CHARS + 1))
    router.call_finished("c1", note="あ" * MAX_NOTE_CHARS)
    assert router.officer_state("o1") is OfficerState.AVAILABLE


def test_ending_a_call_during_its_warm_transfer_says_what_the_officer_does(clock: FakeClock) -> None:
    router = Router([make_department("kosodate", wrap_up_s=30), make_department("nenkin")], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.join("c1", "kosodate")
    router.accept("o1", "c1")
    router.transfer("c1", "nenkin", warm=True)
    decisions = router.call_finished("c1")
    assert OfficerStateChanged("o1", OfficerState.WRAP_UP, None) in decisions
    assert router.call_info("c1")["state"] == "queued"  # waiting for nenkin


def test_a_held_call_ended_during_its_warm_transfer_is_no_longer_held(clock: FakeClock) -> None:
    def new_router() -> Router:
        return Router([make_department("kosodate"), make_department("nenkin")], clock=clock)

    before = new_router()
    before.officer_online("o1", {"kosodate": P})
    before.join("c1", "kosodate")
    before.accept("o1", "c1")
    before.transfer("c1", "nenkin", warm=True)
    after = new_router()
    after.restore(before.snapshot())  # c1 waits for nenkin, held for o1
    after.call_finished("c1")  # o1's part ended while the server was down
    [saved] = after.snapshot()["callers"]
    assert (saved["officer"], saved["officer_department"]) == (None, None)
    after.officer_online("o2", {"nenkin": P})
    after.accept("o2", "c1")
    after.call_finished("c1")  # now ends the call with o2, not a held one
    assert after.officer_state("o2") is OfficerState.WRAP_UP


@pytest.mark.parametrize("negative", ["waiting", "free", "capacity", "aht_s"])
def test_the_wait_estimate_refuses_each_negative_figure(negative: str) -> None:
    figures: dict[str, float] = {"waiting": 1, "free": 1, "capacity": 1.0, "aht_s": 300.0}
    figures[negative] = -1
    with pytest.raises(ValueError, match=r"^waiting, free, capacity and handle time cannot be negative$"):
        wait_estimate(
            open=True,
            waiting=int(figures["waiting"]),
            free=int(figures["free"]),
            capacity=figures["capacity"],
            aht_s=figures["aht_s"],
        )


def test_a_queue_asked_about_a_stranger_or_its_last_caller_set_aside_says_not_pending() -> None:
    queue = DepartmentQueue()
    queue.add((1, 0.0, 1, "a"))
    queue.add((1, 1.0, 2, "b"))
    queue.mark_offered("b")  # the last one: nothing pending after it
    assert not queue.is_pending("b")
    assert not queue.is_pending("stranger")
    assert queue.is_pending("a")


def test_a_new_reservation_of_a_call_replaces_its_earlier_one() -> None:
    reservations = Reservations()
    reservations.add("c1", "o1", 100.0)
    reservations.add("c1", "o2", 200.0)
    assert (reservations.officer_of("c1"), reservations.until("c1")) == ("o2", 200.0)
    assert reservations.first_for("o1") is None
    assert reservations.first_for("o2") == "c1"
    assert len(reservations) == 1


def test_a_reservation_discarded_leaves_the_officers_other_reservations() -> None:
    reservations = Reservations()
    reservations.add("c1", "o1", 100.0)
    reservations.add("c2", "o1", 200.0)
    assert reservations.discard("c1") is True
    assert reservations.first_for("o1") == "c2"
    assert reservations.discard("c1") is False  # nothing left to discard
    assert reservations.discard("c2") is True
    assert reservations.first_for("o1") is None and len(reservations) == 0


def test_an_officer_id_that_is_not_one_is_refused_by_name(router: Router) -> None:
    with pytest.raises(RouterError, match=r"^officer_id must be a non-empty string, not ''$"):
        router.officer_online("", {"kosodate": P})
    with pytest.raises(RouterError, match=r"^skills must map department ids to 'primary' or 'secondary'$"):
        router.officer_online("o1", ["kosodate"])  # type: ignore[arg-type]


def test_a_call_resumed_after_a_restart_counts_its_handle_time_from_the_resumption(clock: FakeClock) -> None:
    def new_router() -> Router:
        return Router([make_department("kosodate", wrap_up_s=0)], clock=clock)

    before = new_router()
    before.officer_online("o1", {"kosodate": P})
    before.join("c1", "kosodate")
    before.accept("o1", "c1")
    after = new_router()
    after.restore(before.snapshot())
    clock.advance(10)
    after.officer_online("o1", {"kosodate": P})  # back: the held call resumes
    assert after.officer_info("o1")["call"] == "c1"
    clock.advance(100)
    after.call_finished("c1")
    officer = after.stats()["officers"]["o1"]
    assert (officer["handled"], officer["handle_s"]) == (1, 100.0)
