"""The live calls' table: each party's calls found through an index that follows every change of the table
and of a call's officer (``touch``), as ``Presence.resume`` relies on; and a resume that does not look at
every call (a cluster leader's loop stalled for 12 s when 3,750 clients resumed beside 3,000 calls)."""

from __future__ import annotations

from signaling_server.calls import Call
from signaling_server.store import CallRecord
from signaling_server.switchboard.call_table import CallTable


def call(call_id: str, kiosk: str, officer: str | None = None) -> Call:
    return Call(CallRecord(call_id, kiosk, "kosodate", None, "ja", "queued", 0.0, officer=officer))


def ids(calls: list[Call]) -> list[str]:
    return [c.call_id for c in calls]


def test_each_party_finds_its_calls_in_table_order():
    table = CallTable()
    table["c1"] = call("c1", "kiosk-a")
    table["c2"] = call("c2", "kiosk-b", officer="hanako")
    table.update({"c3": call("c3", "kiosk-a", officer="hanako")})
    assert ids(table.of("kiosk-a")) == ["c1", "c3"]
    assert ids(table.of("hanako")) == ["c2", "c3"]
    assert table.of("nobody") == [] and table.of("kiosk-b") == [table["c2"]]


def test_the_index_follows_every_change():
    table = CallTable({"c1": call("c1", "kiosk-a")})
    assert ids(table.of("kiosk-a")) == ["c1"]  # built now
    table["c2"] = call("c2", "kiosk-a")
    assert ids(table.of("kiosk-a")) == ["c1", "c2"]
    del table["c1"]
    assert ids(table.of("kiosk-a")) == ["c2"]
    table.pop("c2")
    assert table.of("kiosk-a") == []
    table.setdefault("c3", call("c3", "kiosk-a"))
    assert ids(table.of("kiosk-a")) == ["c3"]
    table["c3"].record.officer = "hanako"  # an officer accepted (effects.py) ...
    assert table.of("hanako") == []  # ... unseen until the table is told
    table.touch(table["c3"])
    assert ids(table.of("hanako")) == ["c3"]
    table.clear()
    assert table.of("kiosk-a") == [] and table.of("hanako") == []


class Untouchable:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"a lookup read a call's {name}: it scanned the calls")


def test_finding_one_partys_calls_does_not_scan_every_call():
    table = CallTable({f"c{i}": call(f"c{i}", f"kiosk-{i}") for i in range(20_000)})
    assert ids(table.of("kiosk-7")) == ["c7"]  # the index, built once
    for c in table.values():
        c.record = Untouchable()
    for i in range(25_000):  # every client of a cluster resuming with a new leader
        assert len(table.of(f"kiosk-{i}")) == (1 if i < 20_000 else 0)


def test_a_change_between_resumes_does_not_rebuild_the_index():
    """Requests and ends come between the resumes of a new leader's 25,000 clients: each lookup after a
    change must still not look at every call (a rebuild per change: the stalled leader was found in it)."""
    table = CallTable({f"c{i}": call(f"c{i}", f"kiosk-{i}") for i in range(20_000)})
    for c in table.values():
        c.record = Untouchable()
    for i in range(2_000):
        table[f"n{i}"] = call(f"n{i}", f"kiosk-new-{i}")  # a request between two resumes
        del table[f"c{i}"]  # an end
        assert table.of(f"kiosk-{i}") == [] and ids(table.of(f"kiosk-new-{i}")) == [f"n{i}"]
    assert len(table.of("kiosk-19999")) == 1


def test_an_officer_assigned_later_keeps_the_table_order():
    table = CallTable({"c1": call("c1", "kiosk-a"), "c2": call("c2", "kiosk-b")})
    for key in ("c2", "c1"):  # accepted in the other order (a warm transfer's second call first)
        table[key].record.officer = "hanako"
        table.touch(table[key])
    assert ids(table.of("hanako")) == ["c1", "c2"]
    table["c1"] = call("c1", "kiosk-c")  # replaced: indexed under its new parties only, in its place
    assert ids(table.of("hanako")) == ["c2"] and ids(table.of("kiosk-c")) == ["c1"]
    assert table.of("kiosk-a") == [] and table.pop("nothing", None) is None
    assert table.popitem()[0] == "c2" and table.of("hanako") == [] and list(table) == ["c1"]
