"""Statistics without each officer's figures or the past days, for readers that do not read them (officers'
consoles read the departments only): the departments' numbers, officer counts by state included, are the
same as in the whole statistics."""

from __future__ import annotations

from signaling_server.routing import Router, SkillLevel

from .conftest import FakeClock, make_department

P = SkillLevel.PRIMARY


def test_the_departments_are_the_same_without_the_officers_and_the_past_days(clock: FakeClock) -> None:
    router = Router([make_department("kosodate"), make_department("nenkin")], clock=clock)
    router.officer_online("o1", {"kosodate": P})
    router.officer_online("o2", {"kosodate": P, "nenkin": P})
    router.set_away("o2", "break")
    router.join("c1", "nenkin")
    router.join("c2", "kosodate")  # rings o1
    clock.advance(86_400)  # a new day: yesterday becomes history
    router.join("c3", "nenkin")
    whole = router.stats()
    part = router.stats(officers=False, history=False)
    assert whole["officers"] and whole["history"]  # there is something to leave out
    assert part["officers"] == {} and part["history"] == {}
    assert part["departments"] == whole["departments"]
    assert part["departments"]["kosodate"]["officers"]["away"] == 1
    assert part["departments"]["nenkin"]["officers"]["away"] == 1
    assert (part["date"], part["at"]) == (whole["date"], whole["at"])
