"""An interpreter joins a call through a real server: offer, accept, the mesh's signaling by ``peer``,
leaving and removal (the other two go on), the call's end, a transfer the interpreter follows, records."""

from __future__ import annotations

from remote_call import protocol as p
from signaling_server.testing import WireClient, call_in_progress

from .interpreting import add_interpreter, call, close_all, interpreter, joined

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"
CANDIDATE = "candidate:1 1 udp 2130706431 127.0.0.1 50210 typ host"


async def test_the_interpreter_joins_and_every_pair_gets_its_own_signaling(server):
    add_interpreter(server, "maria", {"tl": "primary", "es": "secondary"}, name="Maria Santos")
    i = await interpreter(server, "maria")
    assert i.seen[0].skills == {"tl": "primary", "es": "secondary"}
    k, o, call_id = await call(server)
    await o.send(p.RequestInterpreter(call_id=call_id, language="tl"))
    offer = await i.expect(p.InterpretationOffer)
    assert (offer.call_id, offer.language, offer.department) == (call_id, "tl", "kosodate")
    assert (await o.expect(p.InterpreterStatus)).state == "ringing"
    assert (await k.expect(p.InterpreterStatus)).state == "ringing"
    await i.send(p.AcceptInterpretation(call_id=call_id))
    to_caller = await i.expect(p.CallConnecting, peer="caller")
    to_officer = await i.expect(p.CallConnecting, peer="officer")
    assert to_caller.offerer and to_officer.offerer  # the joining party offers
    assert not (await k.expect(p.CallConnecting, peer="interpreter")).offerer
    from_officer = await o.expect(p.CallConnecting, peer="interpreter")
    assert not from_officer.offerer and from_officer.peer_name == "Maria Santos"
    joined = await o.expect(p.InterpreterStatus, state="joined")
    assert joined.name == "Maria Santos"
    await k.expect(p.InterpreterStatus, state="joined")
    # Interpreter -> caller: relayed with peer rewritten to the sender.
    await i.send(p.SessionDescription(call_id=call_id, sdp_type="offer", sdp=SDP, peer="caller"))
    got = await k.expect(p.SessionDescription)
    assert (got.peer, got.sdp_type) == ("interpreter", "offer")
    await k.send(p.SessionDescription(call_id=call_id, sdp_type="answer", sdp=SDP, peer="interpreter"))
    assert (await i.expect(p.SessionDescription)).peer == "caller"
    await o.send(p.IceCandidate(call_id=call_id, candidate=CANDIDATE, peer="interpreter"))
    assert (await i.expect(p.IceCandidate)).peer == "officer"
    # The caller<->officer pair without peer, exactly as before.
    await k.send(p.SessionDescription(call_id=call_id, sdp_type="offer", sdp="v=0 pair"))
    plain = await o.expect(p.SessionDescription)
    assert (plain.sdp, plain.peer) == ("v=0 pair", None)
    await i.send(p.MediaConnected(call_id=call_id, peer="caller"))
    await k.send(p.MediaConnected(call_id=call_id, peer="interpreter"))
    # One pair's media restart: only its two ends rebuild it.
    await i.send(p.RestartMedia(call_id=call_id, peer="officer"))
    again = await o.expect(p.CallConnecting, peer="interpreter")
    assert again.restart and not again.offerer
    assert (await i.expect(p.CallConnecting, peer="officer")).restart
    await i.send(p.Ping(nonce=1))
    await i.expect(p.Pong)
    assert not [m for m in k.seen if isinstance(m, p.CallConnecting) and m.restart]
    await close_all(k, o, i)


async def test_the_interpreter_leaves_and_the_call_goes_on(server):
    k, o, i, call_id = await joined(server)
    await i.send(p.LeaveCall(call_id=call_id))
    for party in (k, o):
        left = await party.expect(p.PartyLeft)
        assert (left.party, left.reason) == ("interpreter", "left")
        await party.expect(p.InterpreterStatus, state="left")
    await i.expect(p.OfficerState, state="wrap_up")
    await k.send(p.IceCandidate(call_id=call_id, candidate=CANDIDATE))
    assert (await o.expect(p.IceCandidate)).candidate == CANDIDATE  # the two go on
    await i.send(p.IceCandidate(call_id=call_id, candidate=CANDIDATE, peer="caller"))
    assert (await i.expect(p.Error)).code is p.ErrorCode.NOT_FOUND  # no longer in it
    (row,) = server.store.call_parties(call_id)
    assert (row["party"], row["username"], row["language"]) == ("interpreter", "maria", "tl")
    assert row["left_at"] is not None and row["left_at"] >= row["joined_at"]
    stats = server.switchboard.stats()["interpretation"]["languages"]["tl"]
    assert (stats["requested"], stats["joined"], stats["in_call"]) == (1, 1, 0)
    await o.send(p.EndCall(call_id=call_id, outcome="resolved"))
    assert (await k.expect(p.CallEnded)).reason is p.EndReason.COMPLETED
    await close_all(k, o, i)


async def test_the_officer_removes_the_interpreter(server):
    k, o, i, call_id = await joined(server)
    await o.send(p.CancelInterpreter(call_id=call_id))
    assert (await k.expect(p.PartyLeft)).reason == "removed"
    assert (await i.expect(p.CallEnded)).call_id == call_id
    await o.send(p.IceCandidate(call_id=call_id, candidate=CANDIDATE))
    assert (await k.expect(p.IceCandidate)).candidate == CANDIDATE
    await close_all(k, o, i)


async def test_the_end_of_the_call_reaches_the_interpreter(server):
    k, o, i, call_id = await joined(server)
    await k.send(p.CancelCall(call_id=call_id))
    assert (await i.expect(p.CallEnded)).reason is p.EndReason.COMPLETED
    assert (await o.expect(p.CallEnded)).reason is p.EndReason.COMPLETED
    await i.expect(p.OfficerState, state="wrap_up")
    assert server.store.call_parties(call_id)[0]["left_at"] is not None
    await close_all(k, o, i)


async def test_the_interpreter_follows_a_transfer_to_the_next_officer(server):
    k, o, i, call_id = await joined(server)
    kenji = await WireClient.officer(server.url, "kenji", "correct horse battery")
    await o.send(p.TransferCall(call_id=call_id, to_department="kenko-hoken", note="通訳あり"))
    gone = await i.expect(p.PartyLeft)
    assert (gone.party, gone.reason) == ("officer", "left")
    await i.send(p.IceCandidate(call_id=call_id, candidate=CANDIDATE, peer="caller"))
    assert (await k.expect(p.IceCandidate)).peer == "interpreter"  # still with the resident
    offer = await kenji.expect(p.CallOffer)
    await kenji.send(p.AcceptCall(call_id=offer.call_id))
    joining = await kenji.expect(p.CallConnecting, peer="interpreter")
    assert joining.offerer  # the next officer joins the interpreter's call: it offers
    assert not (await i.expect(p.CallConnecting, peer="officer")).offerer
    await kenji.send(p.SessionDescription(call_id=call_id, sdp_type="offer", sdp=SDP, peer="interpreter"))
    assert (await i.expect(p.SessionDescription)).peer == "officer"
    await close_all(k, o, i, kenji)


async def test_a_kiosk_asks_for_an_interpreter_up_front(server):
    add_interpreter(server, "an", {"vi": "primary"})
    i = await interpreter(server, "an")
    k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
    o = await WireClient.officer(server.url, "hanako", "correct horse battery")
    await k.send(p.RequestCall(department="kosodate", interpreter_language="vi"))
    offer = await o.expect(p.CallOffer)
    assert not [m for m in i.seen if isinstance(m, p.InterpretationOffer)]  # not before the answer
    await o.send(p.AcceptCall(call_id=offer.call_id))
    asked = await i.expect(p.InterpretationOffer)
    assert (asked.call_id, asked.language) == (offer.call_id, "vi")
    await close_all(k, o, i)


async def test_a_second_request_waits_with_its_place_and_estimate_then_gets_the_interpreter(server):
    k, o, i, call_id = await joined(server)
    k2, o2, second = await call_in_progress(
        server.url, "kiosk-tonan", server.fleet.kiosk_tokens["kiosk-tonan"], "jiro", "correct horse battery"
    )
    await o2.send(p.RequestInterpreter(call_id=second, language="tl"))
    waiting = await o2.expect(p.InterpreterStatus)
    assert (waiting.state, waiting.position, waiting.estimate_s) == ("waiting", 1, 600.0)
    assert (await k2.expect(p.InterpreterStatus)).position == 1
    server.switchboard.interpreters.wrap_up_s = 0.0
    await i.send(p.LeaveCall(call_id=call_id))
    offer = await i.expect(p.InterpretationOffer)  # free again after its wrap-up: the waiting one
    assert offer.call_id == second
    await close_all(k, o, i, k2, o2)


async def test_on_a_warm_transfer_the_interpreter_moves_to_the_next_officer_at_the_hand_over(server):
    k, o, i, call_id = await joined(server)
    kenji = await WireClient.officer(server.url, "kenji", "correct horse battery")
    await o.send(p.TransferCall(call_id=call_id, to_department="kenko-hoken", warm=True))
    offer = await kenji.expect(p.CallOffer)
    await o.send(p.IceCandidate(call_id=call_id, candidate=CANDIDATE, peer="interpreter"))
    assert (await i.expect(p.IceCandidate)).peer == "officer"  # still with the first officer
    await kenji.send(p.AcceptCall(call_id=offer.call_id))
    gone = await i.expect(p.PartyLeft)
    assert (gone.party, gone.reason) == ("officer", "left")
    assert (await kenji.expect(p.CallConnecting, peer="interpreter")).offerer
    await i.expect(p.CallConnecting, peer="officer")
    await o.send(p.IceCandidate(call_id=call_id, candidate=CANDIDATE, peer="interpreter"))
    assert (await o.expect(p.Error)).code is p.ErrorCode.NOT_FOUND  # the first officer is out
    await close_all(k, o, i, kenji)


async def test_an_officer_who_drops_for_good_leaves_the_interpreter_with_the_resident(make_server):
    async with make_server(reconnect_grace_s=0.3) as server:
        k, o, i, call_id = await joined(server)
        await o.close()
        gone = await i.expect(p.PartyLeft)
        assert (gone.party, gone.reason) == ("officer", "disconnected")
        assert (await k.expect(p.CallRequeued)).call_id == call_id
        await i.send(p.IceCandidate(call_id=call_id, candidate=CANDIDATE, peer="caller"))
        assert (await k.expect(p.IceCandidate)).peer == "interpreter"
        await close_all(k, i)
