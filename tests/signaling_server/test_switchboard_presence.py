"""Presence: attach returns the welcome first, the reconnect grace, what a party missed, resuming."""

from __future__ import annotations

from remote_call import protocol as p
from remote_call.protocol import EndReason
from signaling_server.switchboard import board

from .conftest import kiosk, officer, supervisor


def test_attach_sends_nothing_and_a_waiting_ring_follows_the_welcome(harness) -> None:
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kosodate"))
    _, inbox = harness.connect(officer())  # asserts that attach itself sent nothing
    types = inbox.types()
    assert types[0] == "welcome"
    assert "call_offer" in types
    welcome = inbox.messages[0]
    assert welcome.identity == "hanako" and welcome.skills == {"kosodate": "primary"}
    assert [d.id for d in welcome.departments] == list(harness.board.directory.departments)


def test_attach_and_detach_are_reported_to_the_monitor_and_listeners(harness) -> None:
    client, _ = harness.connect(supervisor())
    harness.board.detach(client)
    assert [c for c in harness.monitor.calls if c[0] in ("attached", "detached")] == [
        ("attached", ("supervisor", "sato", harness.clock())),
        ("detached", ("supervisor", "sato", harness.clock())),
    ]
    assert [e for e in harness.event_names() if e in ("attached", "detached")] == ["attached", "detached"]
    assert harness.board.watchers == set()


def test_a_second_connection_replaces_the_first(harness) -> None:
    first, first_inbox = harness.connect(kiosk())
    second, _ = harness.connect(kiosk())
    assert first_inbox.closed and harness.board.kiosks["kiosk-ueda"] is second
    harness.board.detach(first)  # the old socket's own detach comes later: it changes nothing
    assert harness.board.kiosks["kiosk-ueda"] is second


def test_a_kiosk_back_within_the_grace_resumes_its_call(harness) -> None:
    k, _, _o, o_inbox, call_id = harness.call_in_progress()
    harness.board.detach(k)
    harness.advance(harness.config.server.reconnect_grace_s - 1)
    assert call_id in harness.board.calls and o_inbox.types() == []
    _, again = harness.connect(kiosk())
    assert again.types() == ["welcome", "call_started"]
    harness.advance(5)  # past the first grace: it was cancelled
    assert harness.board.calls[call_id].state is p.CallState.IN_CALL


def test_a_kiosk_gone_past_the_grace_ends_its_call_and_hears_it_on_return(harness) -> None:
    k, _, _o, o_inbox, call_id = harness.call_in_progress()
    harness.board.detach(k)
    harness.advance(harness.config.server.reconnect_grace_s + 0.1)
    ended = o_inbox.only(p.CallEnded)
    assert [(m.call_id, m.reason) for m in ended] == [(call_id, EndReason.KIOSK_DISCONNECTED)]
    assert harness.store.call(call_id).end_reason == "kiosk_disconnected"
    _, again = harness.connect(kiosk())
    told = again.only(p.CallEnded)
    assert [(m.call_id, m.reason) for m in told] == [(call_id, EndReason.KIOSK_DISCONNECTED)]


def test_an_officer_gone_past_the_grace_sends_the_resident_back_to_the_queue(harness) -> None:
    _k, k_inbox, o, _, call_id = harness.call_in_progress()
    harness.board.detach(o)
    harness.advance(harness.config.server.reconnect_grace_s - 1)
    assert k_inbox.types() == []
    harness.advance(2)
    assert k_inbox.types() == ["call_requeued"]
    harness.advance(0.2)  # its place was told before: the new one is coalesced
    assert k_inbox.types() == ["call_requeued", "queued"]
    assert harness.board.calls[call_id].state is p.CallState.QUEUED
    _, again = harness.connect(officer())
    assert (call_id, EndReason.REQUEUED) in [(m.call_id, m.reason) for m in again.only(p.CallEnded)]


def test_an_end_while_a_party_is_away_is_told_when_it_comes_back(make_harness) -> None:
    harness = make_harness(setup_timeout_s=5)
    k, _ = harness.connect(kiosk())
    o, o_inbox = harness.connect(officer())
    harness.send(k, p.RequestCall(department="kosodate"))
    call_id = o_inbox.only(p.CallOffer)[-1].call_id
    harness.send(o, p.AcceptCall(call_id=call_id))
    harness.board.detach(k)  # inside its grace when the setup deadline ends the call
    harness.advance(5)
    assert harness.store.call(call_id).end_reason == "setup_failed"
    _, again = harness.connect(kiosk())
    assert [(m.call_id, m.reason) for m in again.only(p.CallEnded)] == [(call_id, EndReason.SETUP_FAILED)]


def test_without_a_grace_a_kiosk_is_gone_at_once(make_harness) -> None:
    harness = make_harness(reconnect_grace_s=0)
    k, _ = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kenchiku-shido"))
    (call_id,) = harness.board.calls
    harness.board.detach(k)
    assert harness.board.calls == {} and "kiosk-ueda" not in harness.board.kiosks
    assert harness.store.call(call_id).end_reason == "kiosk_disconnected"


def test_after_shutdown_a_departing_party_keeps_its_call(harness) -> None:
    k, _, _o, o_inbox, call_id = harness.call_in_progress()
    harness.board.shutdown()
    harness.board.detach(k)
    harness.advance(harness.config.server.reconnect_grace_s * 2)
    assert call_id in harness.board.calls and o_inbox.only(p.CallEnded) == []


# ------------------------------------------------------------------ a finished call's end is told once


def test_an_officer_who_ended_the_call_hears_no_second_end_and_keeps_wrap_up_on_reconnect(harness) -> None:
    """Issue 12 item 4: the officer ended the call itself, so it knows; a reconnect (a network blip, a
    browser reload) must not replay call_ended, and its wrap-up must still be running afterwards."""
    _k, _k_inbox, o, o_inbox, call_id = harness.call_in_progress()
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved"))
    assert [m.state for m in o_inbox.only(p.OfficerState)] == ["wrap_up"]
    harness.board.detach(o)
    harness.advance(1)
    _, again = harness.connect(officer())
    assert again.only(p.CallEnded) == []
    assert [m.state for m in again.only(p.OfficerState)] == ["wrap_up"]


def test_an_end_proven_delivered_is_not_replayed_on_reconnect(harness) -> None:
    """The kiosk's connection outlived the call_ended by a heartbeat round (a ping written after it was
    answered): it was delivered, so a later reconnect does not replay it."""
    k, k_inbox, o, _, call_id = harness.call_in_progress()
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved"))
    assert [m.call_id for m in k_inbox.only(p.CallEnded)] == [call_id]
    harness.advance(harness.config.server.ws_heartbeat_s * 2)
    harness.board.detach(k)
    _, again = harness.connect(kiosk())
    assert again.only(p.CallEnded) == []


def test_an_end_not_proven_delivered_is_still_told_again(harness) -> None:
    """The connection died right after the call_ended was written into it: it is told again."""
    k, _, o, _, call_id = harness.call_in_progress()
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved"))
    harness.board.detach(k)
    _, again = harness.connect(kiosk())
    assert [(m.call_id, m.reason) for m in again.only(p.CallEnded)] == [(call_id, EndReason.COMPLETED)]


def test_a_returning_officer_hears_its_calls_end_before_a_new_ring(harness) -> None:
    """A new leader (of several nodes) restored the queue but not the officer's wrap-up: the officer comes
    back available, and a resident is waiting. It must hear that its last call ended before it is rung for
    the next one; the other order showed a ring on top of a call the console still held (the cluster chaos
    test's "offered while engaged", 1 run in about 30)."""
    _k, _, o, _, call_id = harness.call_in_progress()
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved"))
    board = harness.restart()  # the old leader died before the officer's call_ended went out
    board.recall_ended(since=harness.clock() - 10)
    waiting, _ = harness.connect(kiosk("kiosk-tonan"))
    harness.send(waiting, p.RequestCall(department="kosodate"))
    _, again = harness.connect(officer())
    types = again.types()
    assert "call_offer" in types and types.index("call_ended") < types.index("call_offer"), types
    assert [(m.call_id, m.reason) for m in again.only(p.CallEnded)] == [(call_id, EndReason.COMPLETED)]


def test_a_party_gone_past_the_grace_looks_only_at_its_own_calls(harness) -> None:
    """Graces ending together after a failover each looked at every live call: thousands of departures
    times thousands of calls held a new leader's loop for seconds. The table's index finds a party's calls."""
    k, _, o, _, call_id = harness.call_in_progress()
    table = harness.board.calls
    looked: list[str] = []
    table.values = lambda: looked.append("every call") or dict.values(table)  # type: ignore[method-assign]
    harness.board.detach(k)
    harness.board.detach(o)
    harness.advance(harness.config.server.reconnect_grace_s + 0.1)
    assert harness.store.call(call_id).end_reason == "kiosk_disconnected"
    assert looked == []


def test_graces_ending_together_end_a_slice_per_tick_each_slice_in_one_batch(harness, monkeypatch) -> None:
    """A failover's herd: every dropped kiosk's grace ends in the same tick. A tick ends at most EDGE_SLICE
    of them, their records written in one batch (SQLite's file lock once), and says the rest are due now,
    so the loop runs what waits (the leader's lease) between slices."""
    monkeypatch.setattr(board, "EDGE_SLICE", 10)  # the department's queue holds 30 at most
    kiosks = [harness.connect(kiosk(f"kiosk-{i}"))[0] for i in range(17)]
    for k in kiosks:
        harness.send(k, p.RequestCall(department="kosodate"))  # queued: nobody answers
        harness.board.detach(k)
    assert len(harness.board.calls) == 17
    batches: list[int] = []
    db = harness.store.conn
    batch = db.batch
    db.batch = lambda: batches.append(len(harness.board.calls)) or batch()  # type: ignore[method-assign]
    harness.advance(harness.config.server.reconnect_grace_s + 0.1)
    ended = [17 - len(harness.board.calls)]
    while harness.board.next_due() <= harness.clock():  # the rest: due already, at the next tick
        left = len(harness.board.calls)
        harness.board.tick()
        ended.append(left - len(harness.board.calls))
    assert sum(ended) == 17 and len(harness.board.calls) == 0
    assert len(ended) >= 2 and max(ended) <= 10, ended  # the positions' flush and the stats share a slice
    assert len(batches) == len(ended)  # one batch a slice
    records = list(harness.store.calls())
    assert len(records) == 17 and {r.end_reason for r in records} == {"kiosk_disconnected"}
