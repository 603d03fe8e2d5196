"""Bad input around interpreters, through a real server: a language nobody speaks, an interpreter who never
answers or declines, a reused accept, a party too many, an interpreter asking for a saved case document or
for what only officers may do, and an interpreter whose connection drops. The call is never disturbed."""

from __future__ import annotations

import aiohttp

from remote_call import protocol as p
from signaling_server.store import Store
from signaling_server.testing import WireClient

from .interpreting import add_interpreter, call, close_all, interpreter, joined

CANDIDATE = "candidate:1 1 udp 2130706431 127.0.0.1 50210 typ host"


async def still_connected(k, o, call_id: str) -> None:
    await k.send(p.IceCandidate(call_id=call_id, candidate=CANDIDATE))
    assert (await o.expect(p.IceCandidate)).candidate == CANDIDATE


async def test_no_interpreter_for_the_language_is_unavailable_and_the_call_goes_on(server):
    add_interpreter(server, "maria", {"tl": "primary"})
    i = await interpreter(server, "maria")
    k, o, call_id = await call(server)
    await o.send(p.RequestInterpreter(call_id=call_id, language="ne"))
    status = await o.expect(p.InterpreterStatus)
    assert (status.language, status.state) == ("ne", "unavailable")
    assert (await k.expect(p.InterpreterStatus)).state == "unavailable"
    await still_connected(k, o, call_id)
    assert not [m for m in i.seen if isinstance(m, p.InterpretationOffer)]
    await close_all(k, o, i)


async def test_an_interpreter_who_never_answers_is_passed_over(server):
    server.switchboard.interpreters.ring_timeout_s = 0.3
    add_interpreter(server, "maria", {"tl": "primary"})
    silent = await interpreter(server, "maria")
    k, o, call_id = await call(server)
    await o.send(p.RequestInterpreter(call_id=call_id, language="tl"))
    await silent.expect(p.InterpretationOffer)
    withdrawn = await silent.expect(p.OfferWithdrawn)
    assert withdrawn.reason == "timeout"
    assert (await silent.expect(p.OfficerState, state="away")).reason == "no_answer"
    assert (await o.expect(p.InterpreterStatus, state="no_answer")).language == "tl"
    await still_connected(k, o, call_id)
    await silent.send(p.AcceptInterpretation(call_id=call_id))  # too late
    assert (await silent.expect(p.Error)).code is p.ErrorCode.CONFLICT
    await close_all(k, o, silent)


async def test_a_decline_goes_to_the_next_interpreter(server):
    add_interpreter(server, "maria", {"tl": "primary"})
    add_interpreter(server, "jose", {"tl": "primary"})
    first = await interpreter(server, "maria")
    second = await interpreter(server, "jose")
    k, o, call_id = await call(server)
    await o.send(p.RequestInterpreter(call_id=call_id, language="tl"))
    await first.expect(p.InterpretationOffer)  # the longest idle first
    await first.send(p.DeclineInterpretation(call_id=call_id))
    assert (await first.expect(p.OfferWithdrawn)).reason == "declined"
    await second.expect(p.InterpretationOffer)
    await second.send(p.AcceptInterpretation(call_id=call_id))
    await o.expect(p.InterpreterStatus, state="joined")
    await close_all(k, o, first, second)


async def test_a_reused_accept_and_a_party_too_many_are_refused(server):
    k, o, i, call_id = await joined(server)
    await i.send(p.AcceptInterpretation(call_id=call_id))
    error = await i.expect(p.Error)
    assert (error.code, error.about) == (p.ErrorCode.CONFLICT, "accept_interpretation")
    await o.send(p.RequestInterpreter(call_id=call_id, language="en"))
    error = await o.expect(p.Error)
    assert error.code is p.ErrorCode.CONFLICT and "already has an interpreter" in error.detail
    await still_connected(k, o, call_id)
    await close_all(k, o, i)


async def test_the_interpreter_may_not_do_what_officers_and_callers_do(server):
    k, o, i, call_id = await joined(server)
    for message in (
        p.EndCall(call_id=call_id),
        p.TransferCall(call_id=call_id, to_department="kenko-hoken"),
        p.RequestCall(department="kosodate"),
        p.AcceptCall(call_id=call_id),
        p.RequestInterpreter(call_id=call_id, language="en"),
    ):
        await i.send(message)
        assert (await i.expect(p.Error)).code is p.ErrorCode.FORBIDDEN
    await i.send(p.SessionDescription(call_id=call_id, sdp_type="offer", sdp="v=0"))  # no peer named
    assert (await i.expect(p.Error)).code is p.ErrorCode.INVALID
    await k.send(p.IceCandidate(call_id=call_id, candidate=CANDIDATE, peer="officer"))
    assert "carry no 'peer'" in (await k.expect(p.Error)).detail
    await k.send(p.AcceptInterpretation(call_id=call_id))
    assert (await k.expect(p.Error)).code is p.ErrorCode.FORBIDDEN
    await still_connected(k, o, call_id)
    await close_all(k, o, i)


async def test_an_interpreter_asking_for_a_saved_case_document_is_refused(server):
    k, o, i, call_id = await joined(server)
    token = i.seen[0].session_token
    url = f"{server.http_url}/api/cases/{call_id}/documents"
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == 403
        async with http.get(f"{url}/scan1", headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status == 403
    await close_all(k, o, i)


async def test_an_interpreter_who_drops_leaves_after_the_grace_and_the_call_goes_on(make_server):
    async with make_server(reconnect_grace_s=0.3) as server:
        k, o, i, call_id = await joined(server)
        await i.close()
        left = await k.expect(p.PartyLeft)
        assert (left.party, left.reason) == ("interpreter", "disconnected")
        assert (await o.expect(p.PartyLeft)).reason == "disconnected"
        await still_connected(k, o, call_id)
        assert server.store.call_parties(call_id)[0]["left_at"] is not None
        await close_all(k, o)


async def test_an_interpreter_back_within_the_grace_stays_in_the_call(make_server):
    async with make_server(reconnect_grace_s=5) as server:
        k, o, i, call_id = await joined(server)
        await i.close()
        back = await interpreter_back(server)
        assert (await back.expect(p.CallStarted)).call_id == call_id
        await back.send(p.IceCandidate(call_id=call_id, candidate=CANDIDATE, peer="officer"))
        assert (await o.expect(p.IceCandidate)).peer == "interpreter"
        assert not [m for m in k.seen if isinstance(m, p.PartyLeft)]
        await close_all(k, o, back)


async def interpreter_back(server) -> WireClient:
    client = await WireClient.connect(
        server.url,
        p.Hello(
            v=1,
            role=p.Role.INTERPRETER,
            credentials=p.PasswordCredentials(username="maria", password="correct horse battery"),
        ),
    )
    await client.expect(p.Welcome)
    assert (await client.expect(p.OfficerState)).state == "in_call"
    return client


def test_stays_left_open_by_a_stopped_server_are_closed_on_restart(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    row = store.party_joined("c1", "interpreter", "maria", "tl", 100.0)
    store.party_joined("c2", "interpreter", "jose", "ne", 150.0)
    store.party_left(row, 160.0)
    assert store.close_open_parties(200.0) == 1
    assert [r["left_at"] for r in store.call_parties("c1") + store.call_parties("c2")] == [160.0, 200.0]
