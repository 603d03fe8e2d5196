"""When the queue snapshot is written (signaling_server/switchboard/save_cadence.py), on its own: cheap saves
at every change, a costly one holds the next for nine times its cost, a clock set back holds nothing. The
switchboard's use of it: test_switchboard_board.py."""

from __future__ import annotations

from signaling_server.switchboard.save_cadence import CHEAP_S, SaveCadence

NOW = 1_780_000_000.0


def test_cheap_saves_are_never_held() -> None:
    cadence = SaveCadence()
    for i in range(3):
        assert cadence.may_save(NOW + i * 0.001)
        cadence.saved(NOW + i * 0.001, took_s=CHEAP_S)
    assert cadence.due is None


def test_a_costly_save_holds_the_next_for_nine_times_its_cost() -> None:
    cadence = SaveCadence()
    cadence.saved(NOW, took_s=0.2)
    assert not cadence.may_save(NOW + 1.7) and cadence.due == NOW + 1.8
    assert cadence.may_save(NOW + 1.8) and cadence.due is None


def test_a_clock_set_back_before_the_last_save_holds_nothing() -> None:
    cadence = SaveCadence()
    cadence.saved(NOW, took_s=1.0)  # held for 9 s of this clock
    assert cadence.may_save(NOW - 3600.0)  # an hour back: not an hour and 9 s without a save
