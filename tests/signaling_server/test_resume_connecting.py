"""A call whose media was being set up when its parties lost the server (a restart, a cluster failover):
both sides rebuild their media once, when both are back, and not again when they ask after the call
(``sync_call``). One rebuild per resume and per sync sent up to four in a row: the offers of one crossed
the sessions of the next and the call failed its setup (after failovers: tests/cluster/test_chaos_cluster.py).
"""

from __future__ import annotations

from remote_call import protocol as p
from remote_call.protocol import CallState

from .conftest import kiosk, officer


def connecting(harness):
    """A call accepted, its media being set up; its id and the officer's inbox."""
    k, _ = harness.connect(kiosk())
    o, o_inbox = harness.connect(officer())
    harness.send(k, p.RequestCall(department="kosodate"))
    (offer,) = o_inbox.only(p.CallOffer)
    harness.send(o, p.AcceptCall(call_id=offer.call_id))
    assert harness.board.calls[offer.call_id].state is CallState.CONNECTING
    o_inbox.take()
    return offer.call_id, o_inbox


def test_a_half_made_call_is_rebuilt_once_both_parties_are_back(make_harness) -> None:
    harness = make_harness(setup_timeout_s=10)
    call_id, _ = connecting(harness)
    harness.restart()  # kill -9 and restore: the parties reconnect one after the other
    k, k_inbox = harness.connect(kiosk())
    harness.send(k, p.SyncCall(call_id=call_id))
    assert k_inbox.only(p.CallConnecting) == []  # the officer is not back: nothing to rebuild with yet
    o, o_inbox = harness.connect(officer())
    harness.send(o, p.SyncCall(call_id=call_id))
    harness.send(k, p.SyncCall(call_id=call_id))
    for inbox, offerer in ((k_inbox, True), (o_inbox, False)):
        assert [(m.restart, m.offerer) for m in inbox.only(p.CallConnecting)] == [(True, offerer)]
    for client in (k, o):
        harness.send(client, p.MediaConnected(call_id=call_id))
    assert harness.board.calls[call_id].state is CallState.IN_CALL


def test_a_party_that_comes_back_alone_gets_the_rebuild_with_the_other(make_harness) -> None:
    """Only the kiosk lost its connection (a link cut): its return rebuilds the call on both sides."""
    harness = make_harness(setup_timeout_s=10)
    call_id, o_inbox = connecting(harness)
    jiro_inbox = harness.connect(officer("jiro"))[1]  # another officer: hears nothing of this call
    k, k_inbox = harness.connect(kiosk())  # replaces the kiosk's first connection
    harness.send(k, p.SyncCall(call_id=call_id))
    for inbox, offerer in ((k_inbox, True), (o_inbox, False)):
        assert [(m.restart, m.offerer) for m in inbox.only(p.CallConnecting)] == [(True, offerer)]
    assert jiro_inbox.only(p.CallConnecting) == []
    harness.advance(10)
    assert harness.store.call(call_id).end_reason == "setup_failed"  # the rebuild has its own deadline
