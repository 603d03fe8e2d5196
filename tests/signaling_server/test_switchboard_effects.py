"""The effects of router decisions, looked up by type: call states, messages, records, the setup deadline."""

from __future__ import annotations

import typing

from remote_call import protocol as p
from remote_call.protocol import CallState, EndReason
from signaling_server.routing import Decision, OfficerState, OfficerStateChanged, WithdrawRing

from .conftest import kiosk, officer


def ringing(harness):
    k, k_inbox = harness.connect(kiosk())
    o, o_inbox = harness.connect(officer())
    harness.send(k, p.RequestCall(department="kosodate"))
    (offer,) = o_inbox.only(p.CallOffer)
    return k, k_inbox, o, o_inbox, offer


def test_every_decision_type_has_an_effect(harness) -> None:
    assert set(harness.board._effects._table) == set(typing.get_args(Decision))


def test_a_ring_offers_the_call_and_a_last_withdrawal_puts_it_back(harness) -> None:
    _k, _, _o, o_inbox, offer = ringing(harness)
    assert offer.kiosk.id == "kiosk-ueda" and offer.kiosk.name != "kiosk-ueda"  # the configured name
    assert harness.board.calls[offer.call_id].state is CallState.RINGING
    assert ("ring", {"call_id": offer.call_id, "officer": "hanako"}) in harness.events
    harness.board.apply([WithdrawRing("hanako", offer.call_id, "timeout")])
    assert o_inbox.only(p.OfferWithdrawn)[-1].reason == "timeout"
    assert harness.board.calls[offer.call_id].state is CallState.QUEUED


def test_connect_sends_both_parties_their_roles_and_starts_the_setup_deadline(make_harness) -> None:
    harness = make_harness(setup_timeout_s=10)
    _k, k_inbox, o, o_inbox, offer = ringing(harness)
    harness.send(o, p.AcceptCall(call_id=offer.call_id))
    (to_kiosk,) = k_inbox.only(p.CallConnecting)
    (to_officer,) = o_inbox.only(p.CallConnecting)
    assert (to_kiosk.offerer, to_officer.offerer) == (True, False)
    assert to_officer.peer_name == offer.kiosk.name and not to_kiosk.restart
    harness.advance(9.9)
    assert harness.board.calls[offer.call_id].state is CallState.CONNECTING
    harness.advance(0.1)
    assert offer.call_id not in harness.board.calls
    record = harness.store.call(offer.call_id)
    assert (record.state, record.end_reason) == ("ended", "setup_failed")
    assert o_inbox.only(p.OfficerState)[-1].state == "wrap_up"


def test_media_up_on_both_sides_starts_the_call_and_stops_the_deadline(make_harness) -> None:
    harness = make_harness(setup_timeout_s=10)
    k, k_inbox, o, _, offer = ringing(harness)
    harness.send(o, p.AcceptCall(call_id=offer.call_id))
    harness.send(k, p.MediaConnected(call_id=offer.call_id))
    assert harness.board.calls[offer.call_id].state is CallState.CONNECTING
    harness.send(o, p.MediaConnected(call_id=offer.call_id))
    assert k_inbox.types()[-1] == "call_started"
    harness.advance(60)
    assert harness.board.calls[offer.call_id].state is CallState.IN_CALL
    assert [e.action for e in harness.board.audit.entries() if e.target == offer.call_id] == ["call_started"]


def test_a_media_restart_rebuilds_the_call_and_restarts_the_deadline(make_harness) -> None:
    harness = make_harness(setup_timeout_s=10)
    k, k_inbox, o, o_inbox, call_id = harness.call_in_progress()
    harness.advance(30)
    harness.send(k, p.RestartMedia(call_id=call_id))
    harness.send(o, p.RestartMedia(call_id=call_id))  # a moment later: the same restart serves both
    assert [m.restart for m in k_inbox.only(p.CallConnecting)] == [True]
    assert [m.restart for m in o_inbox.only(p.CallConnecting)] == [True]
    harness.advance(10)
    assert harness.store.call(call_id).end_reason == "setup_failed"


def test_an_officer_state_is_told_to_that_officer(harness) -> None:
    _, inbox = harness.connect(officer())
    inbox.take()
    harness.board.apply([OfficerStateChanged("hanako", OfficerState.AWAY, "meeting")])
    assert [(m.state, m.reason) for m in inbox.only(p.OfficerState)] == [("away", "meeting")]


def test_the_end_of_a_call_is_recorded_audited_and_told_to_both(harness) -> None:
    _k, k_inbox, o, o_inbox, call_id = harness.call_in_progress()
    harness.send(o, p.EndCall(call_id=call_id, outcome="resolved", notes="done"))
    for inbox in (k_inbox, o_inbox):
        assert [(m.call_id, m.reason) for m in inbox.only(p.CallEnded)] == [(call_id, EndReason.COMPLETED)]
    record = harness.store.call(call_id)
    assert (record.state, record.outcome, record.notes) == ("ended", "resolved", "done")
    ended = [e for e in harness.board.audit.entries() if e.action == "call_ended"]
    assert [(e.actor, e.details["outcome"]) for e in ended] == [("hanako", "resolved")]
    told = {"call_id": call_id, "reason": "completed", "outcome": "resolved"}
    assert ("call_ended", told) in harness.events
    assert call_id not in harness.board.calls and o.calls == set()
