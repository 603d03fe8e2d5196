"""The headless console controller against a real embedded server and a headless kiosk (real aiortc)."""

from __future__ import annotations

import asyncio

import pytest

from devtools.headless import (
    PASSWORD,
    TIMEOUT,
    KioskInbox,
    connect_call,
    console_media,
    scan_png,
    send_damaged_scan,
    start_console,
    start_kiosk,
)
from remote_call import incall as ic
from remote_call import protocol as p
from remote_call.documents import sha256_hex
from signaling_server.auth import hash_password
from staff_console.controller import ConsoleController


async def test_in_call_desk_chat_scan_show_print_and_end(server):
    kiosk = await start_kiosk(server)
    console = await start_console(server)
    try:
        call_id = await connect_call(
            server, kiosk, console, procedure="jido-teate-nintei", accessibility=["wheelchair"]
        )
        assert console.current is not None and console.current.caller.accessibility == ["wheelchair"]
        inbox = KioskInbox(kiosk)
        # chat both ways
        await console.desk.send_chat("ご用件をどうぞ")
        chat = await inbox.expect(ic.Chat)
        assert (chat.text, chat.sender) == ("ご用件をどうぞ", "officer")
        heard = asyncio.ensure_future(console.events.wait("chat", TIMEOUT, sender="resident"))
        inbox.send(ic.Chat(id="r1", text="住民票をください", sender="resident"))
        assert (await heard)["text"] == "住民票をください"
        # scan: request, kiosk status, bytes over the documents channel, verified
        request_id = await console.desk.request_scan("本人確認書類を置いてください")
        request = await inbox.expect(ic.ScanRequest)
        assert request.request_id == request_id
        inbox.send(ic.ScanStatus(request_id=request_id, stage="scanning"))
        await console.events.wait("scan_status", TIMEOUT, stage="scanning")
        data = scan_png()
        received = asyncio.ensure_future(console.events.wait("document_received", TIMEOUT))
        await inbox.send_scan(data, request_id)
        verdict = await received
        assert verdict["ok"] and verdict["request_id"] == request_id
        assert console.desk.documents["scan-1"].data == data
        ack = await inbox.expect(ic.DocumentReceived)
        assert ack.ok and ack.doc_id == "scan-1"
        # a damaged scan is refused, not shown
        failed = asyncio.ensure_future(console.events.wait("document_received", TIMEOUT, ok=False))
        await send_damaged_scan(inbox, data, request_id, "scan-2")
        assert "SHA-256" in (await failed)["detail"]
        assert "scan-2" not in console.desk.documents
        # saving to the case is explicit and audited (CaseEvent to the server)
        record = await console.desk.save_to_case("scan-1")
        assert record.action == "document_saved" and record.sha256 == sha256_hex(data)
        assert console.desk.case_documents[call_id][0].data == data
        # end with an outcome; the history keeps it; the desk forgets the resident
        ended = asyncio.ensure_future(console.events.wait("call_ended", TIMEOUT))
        await console.end_call("appointment_made", "来週火曜 10時")
        assert (await ended)["reason"] == "completed"
        entry = console.history.get(call_id)
        assert entry is not None and entry.outcome == "appointment_made" and entry.notes == "来週火曜 10時"
        assert entry.procedure == "jido-teate-nintei" and entry.documents_saved == 1
        assert console.desk.documents == {} and console.desk.chat == []
    finally:
        await asyncio.gather(console.stop(), kiosk.stop())


async def test_bad_inputs_are_refused_with_a_clear_error(server):
    console = await start_console(server)
    try:
        with pytest.raises(ValueError, match="away reason"):
            await console.set_away("lunch")
        with pytest.raises(ValueError, match="at least one department"):
            await console.set_shift([])
        with pytest.raises(ValueError, match="unknown department"):
            await console.set_shift(["no-such-dep"])
        with pytest.raises(RuntimeError, match="no call in progress"):
            await console.end_call("resolved")
        with pytest.raises(ValueError, match="the console signs in"):
            ConsoleController(server.url, "x", "y", console.party.media, role="it_admin")
    finally:
        await console.stop()


async def test_shift_limits_the_departments_that_ring(server):
    kiosk = await start_kiosk(server)
    console = await start_console(server, "jiro")
    try:
        await console.set_shift(["kosodate"])
        await console.set_available()
        await console.events.wait("officer_state", TIMEOUT, state="available")
        await kiosk.request_call("shimin-toroku")
        # shimin-toroku is not in the shift: it must not ring; kosodate rings.
        kiosk2 = await start_kiosk(server, "kiosk-tonan")
        try:
            ring = asyncio.ensure_future(console.events.wait("ring", TIMEOUT))
            await kiosk2.request_call("kosodate")
            assert (await ring)["department"] == "kosodate"
        finally:
            await kiosk2.stop()
    finally:
        await asyncio.gather(console.stop(), kiosk.stop())


async def test_kenji_cannot_take_a_shift_outside_his_skills(server):
    console = await start_console(server, "kenji")
    try:
        error = asyncio.ensure_future(console.events.wait("error", TIMEOUT))
        await console.set_shift(["kosodate"])
        assert (await error)["code"] == p.ErrorCode.FORBIDDEN.value
    finally:
        await console.stop()


async def test_reconnect_uses_the_session_token_and_restores_the_shift(server):
    kiosk = await start_kiosk(server)
    console = await start_console(server, "jiro")
    try:
        await console.set_shift(["kosodate"])
        assert console._password is None  # the password is gone once the server issued a session token
        offline = asyncio.ensure_future(console.events.wait("offline", TIMEOUT))
        online = asyncio.ensure_future(console.events.wait("online", TIMEOUT))
        assert console.client._ws is not None
        await console.client._ws.close()  # the network drops
        await offline
        await online  # reconnected with the session token, and the shift sent again
        await console.set_available()
        await console.events.wait("officer_state", TIMEOUT, state="available")
        kiosk2 = await start_kiosk(server, "kiosk-tonan")
        try:
            ring = asyncio.ensure_future(console.events.wait("ring", TIMEOUT))  # the first ring, whichever
            await kiosk.request_call("shimin-toroku")  # not in the shift: must not ring
            await kiosk2.request_call("kosodate")
            assert (await ring)["department"] == "kosodate"
        finally:
            await kiosk2.stop()
    finally:
        await asyncio.gather(console.stop(), kiosk.stop())


async def test_heartbeat_and_call_quality_reach_the_server(server):
    kiosk = await start_kiosk(server)
    console = ConsoleController(
        server.url, "hanako", PASSWORD, console_media(), config=server.config, quality_s=0.5
    )
    beat = asyncio.ensure_future(console.events.wait("telemetry", TIMEOUT, type="heartbeat"))
    await console.start(TIMEOUT)
    try:
        await beat  # the first heartbeat goes right after sign-in
        await console.round_trip()  # … and the server has handled it
        seen = server.switchboard.monitor.consoles["hanako"]
        assert seen["app_version"] == "0.1.0"
        quality = asyncio.ensure_future(console.events.wait("telemetry", TIMEOUT, type="call_quality"))
        await connect_call(server, kiosk, console)
        await quality  # sent from getStats() while the call's media is up
        assert console.telemetry.quality_sent >= 1
    finally:
        await asyncio.gather(console.stop(), kiosk.stop())


async def test_unreadable_in_call_messages_never_log_the_residents_words(server, caplog):
    kiosk = await start_kiosk(server)
    console = await start_console(server)
    try:
        await connect_call(server, kiosk, console)
        inbox = KioskInbox(kiosk)
        secret = "私の住所は盛岡市内丸12番2号です" * 200  # too long for a chat message: refused
        heard = asyncio.ensure_future(console.events.wait("chat", TIMEOUT, sender="resident"))
        inbox.session.send_control({"type": "chat", "id": "x", "text": secret[:2500], "sender": "resident"})
        inbox.send(ic.Chat(id="r2", text="はい", sender="resident"))  # in order on the same channel
        assert (await heard)["text"] == "はい"
        assert "unreadable in-call message of type 'chat'" in caplog.text
        assert "盛岡市内丸" not in caplog.text
        assert [line.text for line in console.desk.chat] == ["はい"]
    finally:
        await asyncio.gather(console.stop(), kiosk.stop())


async def test_the_shift_is_chosen_from_the_officers_own_skills(server):
    kenji = await start_console(server, "kenji")  # serves kenko-hoken only
    hanako = await start_console(server, "hanako")  # serves every department
    try:
        assert kenji.skills == ["kenko-hoken"]  # the welcome carries the officer's skills
        await hanako.set_shift(["kosodate"])
        await asyncio.gather(kenji.events.wait("stats", TIMEOUT), hanako.events.wait("stats", TIMEOUT))
        assert list(kenji.stats["departments"]) == ["kenko-hoken"]  # queues of their own departments only
        assert len(hanako.skills) == len(hanako.departments) > 1  # a shift does not narrow the skills
    finally:
        await asyncio.gather(kenji.stop(), hanako.stop())


async def test_a_supervisors_console_sends_no_heartbeat_the_server_would_refuse(server):
    server.store.add_officer("kacho", "課長", "supervisor", hash_password(PASSWORD), {"kosodate": "primary"})
    console = ConsoleController(
        server.url, "kacho", PASSWORD, console_media(), role="supervisor", config=server.config
    )
    errors: list[dict] = []
    console.events.subscribe(lambda event, data: errors.append(data) if event == "error" else None)
    await console.start(TIMEOUT)
    try:
        assert console.telemetry is None
        await console.round_trip()  # everything it sent has been answered
        assert errors == []
    finally:
        await console.stop()
