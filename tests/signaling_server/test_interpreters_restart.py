"""A server restart (a new switchboard over the same database, as after kill -9): an interpreter in a call
that lives on is held for it and resumes it; one that does not come back leaves after the grace; a stay
whose call did not survive is closed."""

from __future__ import annotations

from remote_call import protocol as p
from signaling_server.auth import Principal

from .conftest import kiosk, officer

CANDIDATE = "candidate:1 1 udp 2130706431 127.0.0.1 50210 typ host"


def maria() -> Principal:
    return Principal(p.Role.INTERPRETER, "maria", "Maria", {"tl": "primary"}, "session-of-maria")


def with_interpreter(harness):
    harness.store.add_officer("maria", "Maria", "interpreter", "x", {"tl": "primary"})
    _k, _k_inbox, o, _o_inbox, call_id = harness.call_in_progress()
    i, i_inbox = harness.connect(maria())
    harness.send(o, p.RequestInterpreter(call_id=call_id, language="tl"))
    harness.send(i, p.AcceptInterpretation(call_id=call_id))
    assert [m.peer for m in i_inbox.only(p.CallConnecting)] == ["caller", "officer"]
    harness.board.tick()
    return call_id


def test_an_interpreter_in_a_call_that_lives_on_resumes_it_after_a_restart(harness) -> None:
    call_id = with_interpreter(harness)
    board = harness.restart()
    assert board.interpreters.session_of(call_id) == ("maria", "tl")
    _k, k_inbox = harness.connect(kiosk())
    _o, o_inbox = harness.connect(officer())
    i, i_inbox = harness.connect(maria())
    assert (i_inbox.only(p.OfficerState)[-1].state, i_inbox.only(p.CallStarted)[-1].call_id) == (
        "in_call",
        call_id,
    )
    harness.send(i, p.IceCandidate(call_id=call_id, candidate=CANDIDATE, peer="caller"))
    assert k_inbox.only(p.IceCandidate)[-1].peer == "interpreter"
    harness.advance(harness.config.server.reconnect_grace_s + 1)
    assert not o_inbox.only(p.PartyLeft)  # it came back in time
    assert harness.store.call_parties(call_id)[0]["left_at"] is None


def test_an_interpreter_who_does_not_come_back_after_a_restart_leaves_after_the_grace(harness) -> None:
    call_id = with_interpreter(harness)
    harness.restart()
    _k, k_inbox = harness.connect(kiosk())
    harness.connect(officer())
    harness.advance(harness.config.server.reconnect_grace_s + 1)
    left = k_inbox.only(p.PartyLeft)[-1]
    assert (left.party, left.reason) == ("interpreter", "disconnected")
    assert harness.store.call_parties(call_id)[0]["left_at"] is not None
    assert harness.board.interpreters.state("maria").value == "offline"


def test_a_stay_in_a_call_that_did_not_survive_is_closed(harness) -> None:
    call_id = with_interpreter(harness)
    record = harness.store.call(call_id)
    record.state, record.end_reason, record.ended_at = "ended", "completed", harness.clock()
    harness.store.save_call(record)  # as if the end was written just before the crash
    board = harness.restart()
    assert board.interpreters.session_of(call_id) is None
    assert harness.store.call_parties(call_id)[0]["left_at"] is not None
