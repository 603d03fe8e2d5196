"""`madoguchi-sim --appointments 40 --walk-ins 40 --json`: a simulated day on a fake clock through the real
switchboard, router and booking service exits 0 with every checked-in resident offered within the grace,
every walk-in served, nobody lost and no slot over-booked."""

from __future__ import annotations

import json

from simulator.cli import main


def test_a_day_of_forty_appointments_and_forty_walk_ins(capsys):
    assert main(["--appointments", "40", "--walk-ins", "40", "--seed", "7", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["appointments_booked"] == 40 and summary["walk_ins"] == 40
    assert summary["checked_in"] + summary["no_shows"] == 40 and summary["no_shows"] > 0
    assert summary["served_within_grace"] == summary["checked_in"] == summary["served"]
    assert summary["walk_ins_served"] == 40
    assert summary["callers_lost"] == 0 and summary["max_slot_overbook"] == 0
