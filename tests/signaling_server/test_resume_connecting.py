"""A call whose media was being set up when its parties lost the server (a restart, a cluster failover):
both sides rebuild their media once, when both are back, and not again when they ask after the call
(``sync_call``). One rebuild per resume and per sync sent up to four in a row: the offers of one crossed
the sessions of the next and the call failed its setup (after failovers: tests/cluster/test_chaos_cluster.py).
"""

from __future__ import annotations

from remote_call import protocol as p
from remote_call.protocol import CallState, EndReason

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
    harness.advance(10)  # the rebuild has its own deadline; a rebuild for a return gets a second one
    for inbox in (k_inbox, o_inbox):
        assert [m.restart for m in inbox.only(p.CallConnecting)] == [True, True]
    harness.advance(10)
    assert harness.store.call(call_id).end_reason == "setup_failed"


def test_media_restarted_for_returning_parties_gets_a_second_set_up(make_harness) -> None:
    """A call in media set-up when the server (a cluster's leader) died: both parties come back and their
    media is rebuilt. Its first set-up time-out rebuilds it once more instead of ending the call (after a
    failover the whole fleet comes back at once and a restart's offers can take longer); the second ends it.
    A call whose own set-up failed (no return) still ends at its first time-out (the test above)."""
    harness = make_harness(setup_timeout_s=5)
    call_id, _ = connecting(harness)
    harness.restart()  # kill -9 mid set-up
    _, k_again = harness.connect(kiosk())
    _, o_again = harness.connect(officer())
    restarts = [m for m in k_again.only(p.CallConnecting) if m.restart]
    assert [m.call_id for m in restarts] == [call_id]
    harness.advance(5)
    assert harness.board.calls[call_id].state is p.CallState.CONNECTING
    assert [m.restart for m in k_again.only(p.CallConnecting)] == [True, True]
    assert [m.restart for m in o_again.only(p.CallConnecting)] == [True, True]
    harness.advance(5)
    assert call_id not in harness.board.calls
    assert harness.store.call(call_id).end_reason == "setup_failed"
    assert [(m.call_id, m.reason) for m in k_again.only(p.CallEnded)] == [(call_id, EndReason.SETUP_FAILED)]


def test_a_call_that_starts_after_returning_forgets_its_second_chance(make_harness) -> None:
    harness = make_harness(setup_timeout_s=5)
    call_id, _ = connecting(harness)
    harness.restart()
    k2, _ = harness.connect(kiosk())
    o2, _ = harness.connect(officer())
    for client in (k2, o2):
        harness.send(client, p.MediaConnected(call_id=call_id))
    call = harness.board.calls[call_id]
    assert call.state is p.CallState.IN_CALL and not call.settling
    harness.send(k2, p.RestartMedia(call_id=call_id, reason="ice_failed"))  # its own media failed later
    harness.advance(5)
    assert harness.store.call(call_id).end_reason == "setup_failed"
