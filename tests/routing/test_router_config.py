"""`Router.from_config` builds the router the server builds: same departments, limits, estimate and day."""

from __future__ import annotations

import pytest

from config.schema import AppConfig
from signaling_server.routing import DepartmentStatus, JoinRefused, Ring, Router, SkillLevel
from signaling_server.store import Store
from signaling_server.testing import test_config

P = SkillLevel.PRIMARY


def city(**server: float) -> AppConfig:
    """The shipped city, open all day, with every server setting the router reads off its default."""
    config = test_config(**server)
    return config.model_copy(update={"city": config.city.model_copy(update={"timezone": "Pacific/Honolulu"})})


def server_router(config: AppConfig, clock) -> Router:
    """The router the server builds for itself (today through from_config: this guards that it stays so,
    and the absolute checks below that from_config reads every setting)."""
    from signaling_server.switchboard import Switchboard

    store = Store(":memory:")
    try:
        return Switchboard(config, store, clock=clock).router
    finally:
        store.close()


def script(router: Router, clock) -> list:
    """Every setting from_config passes shows in the decisions: handle time (estimate), max unanswered
    (autopause), rejoin grace, position push period, time zone (the statistics' date)."""
    trace: list = []
    trace += router.officer_online("o1", {"kosodate": P})
    for n in range(3):
        trace += router.join(f"c{n}", "kosodate", kiosk_id=f"k{n}")
    trace.append(router.department_status("kosodate"))
    for _ in range(3):  # three unanswered rings in a row
        trace.append(router.next_deadline())
        clock.advance(20)
        trace += router.tick()
    trace.append(router.officer_state("o1").value)
    trace += router.leave("c2")
    clock.advance(50)
    trace += router.join("c3", "kosodate", kiosk_id="k2")  # a rejoin, if the grace is long enough
    trace.append(router.call_info("c3")["join_time"])
    trace.append(router.next_deadline())
    stats = router.stats()
    trace.append((stats["date"], sorted(stats["departments"])))
    return trace


def test_from_config_and_the_server_build_the_same_router(clock) -> None:
    config = city(max_unanswered_offers=3, rejoin_grace_s=45, position_push_s=7, expected_handle_s=420)
    ours = Router.from_config(config, clock=clock)
    start = clock.now
    expected = script(ours, clock)
    clock.now = start
    assert script(server_router(config, clock), clock) == expected
    # The settings differ from the router's defaults, so agreeing on this trace means something.
    status = next(d for d in expected if isinstance(d, DepartmentStatus))
    assert status.ewt_s == pytest.approx(3 * 420)  # three waiting, one officer ringing: (4 − 1) × 420 / 1
    assert len([d for d in expected if isinstance(d, Ring)]) == 3  # autopaused after the third, not second
    assert expected[-3] == start + 110  # 50 s after leaving is past a 45 s grace: a new join time
    pushes = [d for d in expected if isinstance(d, float) and d < start + 110]
    assert pushes == [start + 7, start + 27, start + 47, start + 67]  # every 7 s, from the last tick
    assert expected[-1] == ("2026-11-24", sorted(d.id for d in config.departments if d.remote))


def test_from_config_refuses_listed_departments_without_a_remote_counter(clock) -> None:
    config = city()
    router = Router.from_config(config, clock=clock)
    listed_only = [d.id for d in config.departments if not d.remote]
    assert listed_only
    for dep_id in listed_only:
        with pytest.raises(JoinRefused) as info:
            router.join(f"c-{dep_id}", dep_id)
        assert info.value.reason == "not_remote"
    with pytest.raises(JoinRefused) as info:
        router.join("c-x", "no-such-department")
    assert info.value.reason == "unknown_department"
