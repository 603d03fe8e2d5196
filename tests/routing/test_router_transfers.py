"""Blind and warm transfers, and the おくやみ one-stop case travelling through its checklist."""

from __future__ import annotations

import pytest

from signaling_server.routing import (
    CaseAdvanced,
    Connect,
    KeepWithOfficer,
    OfficerState,
    OfficerStateChanged,
    Ring,
    Router,
    RouterError,
    SkillLevel,
    TransferCaller,
    WithdrawRing,
)

P = SkillLevel.PRIMARY


def of(decisions: list, kind: type) -> list:
    return [d for d in decisions if isinstance(d, kind)]


def rings(decisions: list) -> list[tuple[str, str]]:
    return [(d.officer_id, d.call_id) for d in of(decisions, Ring)]


@pytest.fixture
def router(clock, department) -> Router:
    deps = [
        department("kosodate"),
        department("nenkin"),
        department("kaigo"),
        department("okuyami", kind="one_stop", one_stop_departments=["nenkin", "kaigo"]),
        department("zeimu", remote=False),
    ]
    return Router(deps, clock=clock)


def connect(router: Router, officer: str, call: str) -> None:
    out = router.accept(officer, call)
    assert Connect(call, officer) in out


def test_blind_transfer_puts_caller_at_head_of_other_queue_with_note(router: Router, clock) -> None:
    router.officer_online("k", {"kosodate": P})
    router.join("c1", "kosodate")
    connect(router, "k", "c1")
    router.join("n_old", "nenkin")
    clock.advance(30)
    out = router.transfer("c1", "nenkin", "児童手当の件、年金も確認")
    assert TransferCaller("c1", "kosodate", "nenkin", "児童手当の件、年金も確認", False) in out
    assert OfficerStateChanged("k", OfficerState.WRAP_UP, "transferred") in out
    assert router.waiting("nenkin") == ["c1", "n_old"]
    out = router.officer_online("n", {"nenkin": P})
    assert rings(out) == [("n", "c1")]
    info = router.call_info("c1")
    assert info["department"] == "nenkin"
    assert info["notes"][0]["note"] == "児童手当の件、年金も確認"
    assert info["notes"][0]["officer_id"] == "k"
    stats = router.stats()["departments"]
    assert stats["kosodate"]["transferred_out"] == 1
    assert stats["nenkin"]["transferred_in"] == 1


def test_warm_transfer_keeps_first_officer_until_second_accepts(router: Router) -> None:
    router.officer_online("k", {"kosodate": P})
    router.officer_online("n", {"nenkin": P})
    router.join("c1", "kosodate")
    connect(router, "k", "c1")
    out = router.transfer("c1", "nenkin", "warm please", warm=True)
    assert rings(out) == [("n", "c1")]
    assert router.officer_state("k") is OfficerState.IN_CALL
    with pytest.raises(RouterError, match="already being transferred"):
        router.transfer("c1", "kaigo")
    out = router.accept("n", "c1")
    assert Connect("c1", "n") in out
    assert OfficerStateChanged("k", OfficerState.WRAP_UP, "transferred") in out
    assert router.officer_state("n") is OfficerState.IN_CALL
    router.call_finished("c1")
    assert router.officer_state("n") is OfficerState.WRAP_UP


def test_warm_transfer_can_be_cancelled(router: Router) -> None:
    router.officer_online("k", {"kosodate": P})
    router.officer_online("n", {"nenkin": P})
    router.join("c1", "kosodate")
    connect(router, "k", "c1")
    router.transfer("c1", "nenkin", "", warm=True)
    out = router.cancel_transfer("c1")
    assert KeepWithOfficer("c1", "k", "nenkin") in out
    assert WithdrawRing("n", "c1", "caller_left") in out
    assert router.waiting("nenkin") == []
    assert router.officer_state("n") is OfficerState.AVAILABLE
    assert router.call_info("c1")["state"] == "connected"
    with pytest.raises(RouterError, match="no warm transfer"):
        router.cancel_transfer("c1")


def test_first_officer_dropping_during_warm_transfer_leaves_caller_queued(router: Router) -> None:
    router.officer_online("k", {"kosodate": P})
    router.join("c1", "kosodate")
    connect(router, "k", "c1")
    router.transfer("c1", "nenkin", "", warm=True)
    router.officer_offline("k")
    assert router.officer_state("k") is OfficerState.OFFLINE
    assert router.waiting("nenkin") == ["c1"]
    assert router.waiting("kosodate") == []


def test_transfer_errors_are_clear(router: Router) -> None:
    router.join("c1", "kosodate")
    with pytest.raises(RouterError, match="not connected"):
        router.transfer("c1", "nenkin")
    router.officer_online("k", {"kosodate": P})
    connect(router, "k", "c1")
    with pytest.raises(RouterError, match="unknown department 'x'"):
        router.transfer("c1", "x")
    with pytest.raises(RouterError, match="no remote counter"):
        router.transfer("c1", "zeimu")
    with pytest.raises(RouterError, match="longer than"):
        router.transfer("c1", "nenkin", "x" * 5000)


def test_one_stop_case_walks_the_checklist_with_outcomes(router: Router) -> None:
    router.officer_online("desk", {"okuyami": P})
    router.officer_online("n", {"nenkin": P})
    router.officer_online("kg", {"kaigo": P})
    router.join("c1", "okuyami", kiosk_id="k1")
    case = router.call_info("c1")["case"]
    assert [item["department"] for item in case["checklist"]] == ["nenkin", "kaigo"]
    connect(router, "desk", "c1")
    out = router.call_finished("c1", outcome="resolved", note="死亡届受理済み")
    assert CaseAdvanced("c1", "okuyami", "nenkin", ("nenkin", "kaigo")) in out
    assert rings(out) == [("n", "c1")]
    connect(router, "n", "c1")
    out = router.call_finished("c1", outcome="resolved", note="年金停止")
    assert CaseAdvanced("c1", "nenkin", "kaigo", ("kaigo",)) in out
    assert rings(out) == [("kg", "c1")]
    connect(router, "kg", "c1")
    info = router.call_info("c1")
    assert info["case"]["log"][0]["note"] == "死亡届受理済み"
    assert [item["status"] for item in info["case"]["checklist"]] == ["done", "pending"]
    out = router.call_finished("c1", outcome="visit_city_hall")
    assert CaseAdvanced("c1", "kaigo", None, ()) in out
    with pytest.raises(RouterError, match="unknown call"):
        router.call_info("c1")


def test_one_stop_checklist_can_be_chosen_and_changed(router: Router) -> None:
    router.join("c1", "okuyami", checklist=["kaigo"])
    assert [i["department"] for i in router.call_info("c1")["case"]["checklist"]] == ["kaigo"]
    case = router.set_checklist("c1", ["nenkin", "kaigo"])
    assert [i["department"] for i in case["checklist"]] == ["nenkin", "kaigo"]
    with pytest.raises(RouterError, match="unknown department 'nope'"):
        router.set_checklist("c1", ["nope"])
    with pytest.raises(RouterError, match="twice"):
        router.set_checklist("c1", ["kaigo", "kaigo"])
    with pytest.raises(RouterError, match="not a one-stop counter"):
        router.join("c2", "kosodate", checklist=["kaigo"])
    router.join("c3", "kosodate")
    with pytest.raises(RouterError, match="no one-stop case"):
        router.set_checklist("c3", ["kaigo"])


def test_case_travels_through_a_transfer_and_a_rejoin(router: Router, clock) -> None:
    router.officer_online("desk", {"okuyami": P})
    router.join("c1", "okuyami", kiosk_id="k1")
    connect(router, "desk", "c1")
    router.call_finished("c1", outcome="resolved", note="intake")
    assert router.waiting("nenkin") == ["c1"]
    router.leave("c1")  # the resident stepped away from the kiosk ...
    clock.advance(30)
    router.join("c1b", "nenkin", kiosk_id="k1")  # ... and came back: same place, same case
    case = router.call_info("c1b")["case"]
    assert case["log"][0]["note"] == "intake"
    assert router.call_info("c1b")["priority"] == 0
