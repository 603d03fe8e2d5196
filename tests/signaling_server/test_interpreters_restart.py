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


def waiting_for_maria(harness):
    """A call whose interpreter request rings maria when the server dies (saved at the tick after)."""
    harness.store.add_officer("maria", "Maria", "interpreter", "x", {"tl": "primary"})
    _k, _k_inbox, o, o_inbox, call_id = harness.call_in_progress()
    _i, i_inbox = harness.connect(maria())
    harness.send(o, p.RequestInterpreter(call_id=call_id, language="tl"))
    assert i_inbox.only(p.InterpretationOffer)[-1].call_id == call_id
    assert o_inbox.only(p.InterpreterStatus)[-1].state == "ringing"
    harness.board.tick()  # the snapshot is saved at the tick after the change
    return call_id


def test_a_waiting_interpreter_request_survives_a_restart_and_is_offered_again(harness) -> None:
    call_id = waiting_for_maria(harness)
    board = harness.restart()
    assert board.interpreters.request_of(call_id) == ("tl", None)  # waits again: the ring died with it
    _k, k_inbox = harness.connect(kiosk())
    _o, o_inbox = harness.connect(officer())
    told = o_inbox.only(p.InterpreterStatus)[-1]  # the officer learns where its request stands
    assert (told.call_id, told.state, told.language, told.position) == (call_id, "waiting", "tl", 1)
    assert k_inbox.only(p.InterpreterStatus)[-1].state == "waiting"
    harness.advance(harness.config.server.reconnect_grace_s / 2)
    assert board.interpreters.request_of(call_id) is not None  # held while interpreters sign in again
    i, i_inbox = harness.connect(maria())
    assert i_inbox.only(p.InterpretationOffer)[-1].call_id == call_id
    assert o_inbox.only(p.InterpreterStatus)[-1].state == "ringing"
    harness.send(i, p.AcceptInterpretation(call_id=call_id))
    assert [m.peer for m in i_inbox.only(p.CallConnecting)] == ["caller", "officer"]
    assert o_inbox.only(p.InterpreterStatus)[-1].state == "joined"
    assert harness.store.call_parties(call_id)[0]["language"] == "tl"


def test_a_restored_request_nobody_can_serve_is_closed_after_the_grace(harness) -> None:
    call_id = waiting_for_maria(harness)
    board = harness.restart()
    _k, k_inbox = harness.connect(kiosk())
    _o, o_inbox = harness.connect(officer())
    harness.advance(harness.config.server.reconnect_grace_s + 1)
    assert board.interpreters.request_of(call_id) is None
    assert o_inbox.only(p.InterpreterStatus)[-1].state == "unavailable"
    assert k_inbox.only(p.InterpreterStatus)[-1].state == "unavailable"
    assert board.calls[call_id].state is p.CallState.IN_CALL  # the call goes on


def test_a_request_whose_call_ended_before_the_crash_is_dropped(harness) -> None:
    call_id = waiting_for_maria(harness)
    record = harness.store.call(call_id)
    record.state, record.end_reason, record.ended_at = "ended", "completed", harness.clock()
    harness.store.save_call(record)
    board = harness.restart()
    assert board.interpreters.request_of(call_id) is None
    assert board.interpreters.stats()["languages"] == {}


def test_the_language_a_kiosk_asked_for_survives_a_restart_while_it_queues(harness) -> None:
    harness.store.add_officer("maria", "Maria", "interpreter", "x", {"tl": "primary"})
    k, _k_inbox = harness.connect(kiosk())
    harness.send(k, p.RequestCall(department="kosodate", interpreter_language="tl"))
    call_id = next(iter(harness.board.calls))
    harness.board.tick()
    harness.restart()
    harness.connect(kiosk())
    _i, i_inbox = harness.connect(maria())
    o, o_inbox = harness.connect(officer())
    harness.send(o, p.AcceptCall(call_id=o_inbox.only(p.CallOffer)[-1].call_id))
    assert i_inbox.only(p.InterpretationOffer)[-1].call_id == call_id  # requested at the answer


def test_an_unreadable_interpreter_snapshot_drops_the_requests_only(harness) -> None:
    call_id = waiting_for_maria(harness)
    saved = harness.store.load_queue()
    harness.store.save_queue({**saved, "interpreters": {"requests": [{"language": "tl"}]}})
    board = harness.restart()
    assert board.interpreters.request_of(call_id) is None
    assert board.calls[call_id].state is p.CallState.IN_CALL


def test_the_snapshot_is_saved_only_when_the_requests_changed(harness) -> None:
    harness.board.tick()
    assert harness.store.load_queue() is None  # nothing waits: nothing written
    call_id = waiting_for_maria(harness)
    saved = harness.store.load_queue()["interpreters"]["requests"]
    assert [(r["call_id"], r["language"]) for r in saved] == [(call_id, "tl")]


def test_a_restart_reads_and_parses_the_saved_queue_once(harness, monkeypatch) -> None:
    """The queue snapshot serves both the router's restore and the interpreters' waiting requests: a new
    leader of 12,000 waiting callers parsed it twice, 0.2 s each (py-spy, 2026-12-04)."""
    call_id = with_interpreter(harness)
    harness.board.tick()  # the queue is saved
    reads: list[object] = []
    load = harness.store.load_queue
    monkeypatch.setattr(harness.store, "load_queue", lambda: reads.append(load()) or reads[-1])
    board = harness.restart()
    assert len(reads) == 1 and reads[0] is not None
    assert board.interpreters.session_of(call_id) == ("maria", "tl")  # and the restore is whole
