"""Shifts, blind and warm transfers, the おくやみ one-stop case and supervisors' live statistics."""

from __future__ import annotations

import aiohttp

from remote_call import protocol as p
from signaling_server.auth import hash_password
from signaling_server.testing import WireClient, call_in_progress

PASSWORD = "correct horse battery"


async def connected_call(server, department: str = "kosodate", officer_name: str = "hanako"):
    return await call_in_progress(
        server.url,
        "kiosk-ueda",
        server.fleet.kiosk_tokens["kiosk-ueda"],
        officer_name,
        PASSWORD,
        department=department,
    )


async def test_blind_transfer_sends_the_resident_to_the_head_of_the_other_queue(server):
    k, o, call_id = await connected_call(server)
    kenji = await WireClient.officer(server.url, "kenji", PASSWORD)  # kenko-hoken only
    await o.send(p.TransferCall(call_id=call_id, to_department="kenko-hoken", note="国保の喪失手続きも必要"))
    moved = await k.expect(p.CallTransferred)
    assert (moved.to_department, moved.warm) == ("kenko-hoken", False)
    assert (await o.expect(p.CallEnded)).reason is p.EndReason.TRANSFERRED
    assert (await o.expect(p.OfficerState, state="wrap_up")).state == "wrap_up"
    assert (await k.expect(p.Queued)).position == 1
    offer = await kenji.expect(p.CallOffer)
    assert offer.call_id == call_id and offer.department == "kenko-hoken"
    assert any("国保の喪失手続きも必要" in note for note in offer.notes)
    await kenji.send(p.AcceptCall(call_id=call_id))
    assert (await k.expect(p.CallConnecting)).department == "kenko-hoken"
    record = server.store.call(call_id)
    assert (record.department, record.officer) == ("kenko-hoken", "kenji")
    for c in (k, o, kenji):
        await c.close()


async def test_warm_transfer_keeps_the_first_officer_until_the_second_accepts(server):
    k, o, call_id = await connected_call(server)
    kenji = await WireClient.officer(server.url, "kenji", PASSWORD)
    await o.send(p.TransferCall(call_id=call_id, to_department="kenko-hoken", note="説明済み", warm=True))
    assert (await k.expect(p.CallTransferred)).warm
    offer = await kenji.expect(p.CallOffer)
    # Still in the call with the first officer: their media is untouched until the hand-over.
    await k.send(p.SessionDescription(call_id=call_id, sdp_type="offer", sdp="v=0 still-with-hanako"))
    assert (await o.expect(p.SessionDescription)).sdp == "v=0 still-with-hanako"
    await kenji.send(p.AcceptCall(call_id=offer.call_id))
    assert (await o.expect(p.CallEnded)).reason is p.EndReason.TRANSFERRED
    assert (await k.expect(p.CallConnecting)).offerer
    await kenji.expect(p.CallConnecting)
    await k.send(p.SessionDescription(call_id=call_id, sdp_type="offer", sdp="v=0 now-kenji"))
    assert (await kenji.expect(p.SessionDescription)).sdp == "v=0 now-kenji"
    for c in (k, o, kenji):
        await c.close()


async def test_cancelled_warm_transfer_stays_with_the_officer(server):
    k, o, call_id = await connected_call(server)
    kenji = await WireClient.officer(server.url, "kenji", PASSWORD)
    await o.send(p.TransferCall(call_id=call_id, to_department="kenko-hoken", warm=True))
    await kenji.expect(p.CallOffer)
    await o.send(p.CancelTransfer(call_id=call_id))
    assert (await kenji.expect(p.OfferWithdrawn)).call_id == call_id
    await o.send(p.EndCall(call_id=call_id, outcome="resolved"))
    assert (await k.expect(p.CallEnded)).reason is p.EndReason.COMPLETED
    for c in (k, o, kenji):
        await c.close()


async def test_transfer_refusals_are_named(server):
    k, o, call_id = await connected_call(server)
    await o.send(p.TransferCall(call_id=call_id, to_department="shiminzei"))
    assert "shiminzei" in (await o.expect(p.Error)).detail
    await o.send(p.TransferCall(call_id="not-mine", to_department="kenko-hoken"))
    assert (await o.expect(p.Error)).code is p.ErrorCode.NOT_FOUND
    await k.send(p.TransferCall(call_id=call_id, to_department="kenko-hoken"))
    assert (await k.expect(p.Error)).code is p.ErrorCode.FORBIDDEN
    for c in (k, o):
        await c.close()


async def test_okuyami_one_stop_walks_the_resident_through_each_department(server):
    k, o, call_id = await connected_call(server, department="okuyami")
    case = server.switchboard.router.call_info(call_id)["case"]
    checklist = [item["department"] for item in case["checklist"]]
    assert checklist[0] == "shimin-toroku" or checklist  # the configured one-stop departments
    await o.send(p.EndCall(call_id=call_id, outcome="resolved", notes="死亡届受理済み"))
    moved = await k.expect(p.CallTransferred)
    assert moved.to_department in {"shimin-toroku", "kenko-hoken", "iryo-nenkin", "kaigo-hoken"}
    assert (await o.expect(p.CallEnded)).reason is p.EndReason.TRANSFERRED
    record = server.store.call(call_id)
    assert record.state in ("queued", "ringing") and record.department == moved.to_department
    for c in (k, o):
        await c.close()


async def test_shift_limits_the_departments_offered(server):
    o = await WireClient.officer(server.url, "hanako", PASSWORD)
    await o.send(p.SetShift(departments=["kenko-hoken"]))
    k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
    await k.send(p.RequestCall(department="kosodate"))
    await k.expect(p.Queued)
    await o.send(p.Ping(nonce=1))
    await o.expect(p.Pong)
    assert not any(isinstance(m, p.CallOffer) for m in o.seen)
    await o.send(p.SetShift(departments=["kosodate"]))
    assert (await o.expect(p.CallOffer)).department == "kosodate"
    kenji = await WireClient.officer(server.url, "kenji", PASSWORD)
    await kenji.send(p.SetShift(departments=["kosodate"]))
    assert "do not serve kosodate" in (await kenji.expect(p.Error)).detail
    for c in (k, o, kenji):
        await c.close()


async def test_supervisors_get_live_statistics_and_rest(server):
    server.store.add_officer("boss", "係長", "supervisor", hash_password(PASSWORD), {"kosodate": "primary"})
    boss = await WireClient.connect(
        server.url,
        p.Hello(
            v=1, role=p.Role.SUPERVISOR, credentials=p.PasswordCredentials(username="boss", password=PASSWORD)
        ),
    )
    welcome = await boss.expect(p.Welcome)
    first = await boss.expect(p.SupervisorStats)
    assert first.stats["departments"]["kosodate"]["waiting"] == 0
    k = await WireClient.kiosk(server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"])
    await k.send(p.RequestCall(department="kosodate"))
    await k.expect(p.Queued)
    update = await boss.expect(p.SupervisorStats, timeout=10)
    while update.stats["departments"]["kosodate"]["waiting"] != 1:
        update = await boss.expect(p.SupervisorStats, timeout=10)
    # A supervisor cannot act like an officer.
    await boss.send(p.AcceptCall(call_id="x"))
    assert (await boss.expect(p.Error)).code is p.ErrorCode.FORBIDDEN
    async with aiohttp.ClientSession() as http:
        async with http.get(
            server.http_url + "/api/stats", headers={"Authorization": f"Bearer {welcome.session_token}"}
        ) as resp:
            assert resp.status == 200
            body = await resp.json()
            assert body["departments"]["kosodate"]["waiting"] == 1 and "history" in body
        async with http.get(server.http_url + "/api/stats") as resp:
            assert resp.status == 401
        officer = await WireClient.officer(server.url, "hanako", PASSWORD)
        token = officer.seen[0].session_token
        async with http.get(
            server.http_url + "/api/stats", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 403
    for c in (boss, k, officer):
        await c.close()


async def test_kiosk_leaving_during_a_warm_transfer_rings_nobody_afterwards(make_server):
    async with make_server(reconnect_grace_s=0.2) as server:
        k, o, call_id = await connected_call(server)
        kenji = await WireClient.officer(server.url, "kenji", PASSWORD)
        await o.send(p.TransferCall(call_id=call_id, to_department="kenko-hoken", warm=True))
        await kenji.expect(p.CallOffer)
        await k.close()  # the resident walks away while the next officer's phone rings
        assert (await o.expect(p.CallEnded)).reason is p.EndReason.KIOSK_DISCONNECTED
        assert (await kenji.expect(p.OfferWithdrawn)).call_id == call_id
        assert server.switchboard.router.waiting("kenko-hoken") == []
        assert server.switchboard.router.officer_state("kenji").value == "available"
        for c in (o, kenji):
            await c.close()


async def test_officer_gets_skills_own_queues_confirmation_and_history(server):
    k, o, call_id = await connected_call(server)
    welcome = o.seen[0]
    assert welcome.skills["kosodate"] == "primary"
    mine = await o.expect(p.SupervisorStats, timeout=10)
    assert "kosodate" in mine.stats["departments"] and "officers" not in mine.stats
    kenji = await WireClient.officer(server.url, "kenji", PASSWORD)
    assert set(kenji.seen[0].skills) == {"kenko-hoken"}
    await o.send(p.TransferCall(call_id=call_id, to_department="kenko-hoken", warm=True))
    await kenji.expect(p.CallOffer)
    await o.send(p.CancelTransfer(call_id=call_id))
    assert (await o.expect(p.TransferCancelled)).call_id == call_id
    await o.send(p.EndCall(call_id=call_id, outcome="appointment_made", notes="来週予約"))
    await o.expect(p.CallEnded)
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            server.http_url + "/api/officers/me/calls",
            headers={"Authorization": f"Bearer {welcome.session_token}"},
        ) as resp,
    ):
        history = await resp.json()
    assert [(c["call_id"], c["outcome"], c["notes"]) for c in history] == [
        (call_id, "appointment_made", "来週予約")
    ]
    for c in (k, o, kenji):
        await c.close()
