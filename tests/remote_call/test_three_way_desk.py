"""In-call messages over the extra pairs, end to end through a real server with real aiortc: the resident's
replies and the officer's chat, the document the officer shows and the scan the resident makes reach the
interpreter (checked byte for byte), the interpreter's own line reaches both, a withdrawn document is
withdrawn for the interpreter too; the interpreter asking for the call's saved case documents is refused
clearly and the call goes on undisturbed."""

from __future__ import annotations

import asyncio
import io

import aiohttp
from PIL import Image

from kiosk_client.desk import reply_text

from .three_parties import FRAMES, QUIET_S, TIMEOUT, answered, interpreter_joins, three_parties


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


async def test_chat_shown_documents_and_scans_reach_the_interpreter(server):
    async with three_parties(server, link_dead_s=QUIET_S) as three:
        kiosk, officer, interpreter = three.kiosk, three.officer, three.interpreter
        call_id = await answered(three)
        await interpreter_joins(three)
        primary = (kiosk.party.session, officer.party.session)

        # Both chat: each line reaches the interpreter once, from the party that said it.
        from_resident = asyncio.ensure_future(interpreter.events.wait("chat", TIMEOUT, sender="resident"))
        from_officer = asyncio.ensure_future(interpreter.events.wait("chat", TIMEOUT, sender="officer"))
        kiosk.send_reply("reply.yes")
        await officer.desk.send_chat("お名前を確認させてください")
        assert (await from_officer)["text"] == "お名前を確認させてください"
        assert (await from_resident)["text"] == reply_text(kiosk.resident.language, "reply.yes")

        # A library phrase reaches the resident in their language, the interpreter as the officer's Japanese.
        phrase = asyncio.ensure_future(interpreter.events.wait("chat", TIMEOUT, sender="officer"))
        await officer.desk.send_phrase("greeting.hello")
        assert (await phrase)["text"] == "こんにちは。市役所の担当者です。"

        # The officer shows a document: the interpreter has the same bytes.
        image = png()
        shown = asyncio.ensure_future(interpreter.events.wait("document_shared", TIMEOUT, purpose="show"))
        doc_id = await officer.desk.show_document(image, name="案内.png", width=64, height=48)
        assert (await shown)["doc_id"] == doc_id and (await shown)["peer"] == "officer"
        assert interpreter.desk.documents[doc_id].data == image

        # The resident scans what the officer asked for: the officer and the interpreter both receive it.
        placing = asyncio.ensure_future(kiosk.events.wait("scan", TIMEOUT, stage="placing"))
        scanned = asyncio.ensure_future(interpreter.events.wait("document_shared", TIMEOUT, purpose="scan"))
        await officer.desk.request_scan("住民票をおいてください")
        await placing
        verdict = asyncio.ensure_future(kiosk.events.wait("scan", TIMEOUT, stage="done"))  # waited for first
        kiosk.scan_now()
        scan = await scanned
        assert scan["ok"] and scan["peer"] == "caller"
        await verdict  # the officer's verdict, as before
        received = next(iter(officer.desk.documents.values()))
        assert interpreter.desk.documents[scan["doc_id"]].data == received.data

        # The interpreter types a name: both see it as the interpreter's line.
        to_kiosk = asyncio.ensure_future(kiosk.events.wait("chat", TIMEOUT, sender="interpreter"))
        to_officer = asyncio.ensure_future(officer.events.wait("chat", TIMEOUT, sender="interpreter"))
        interpreter.desk.say("Bishnu Prasad Sharma")
        await to_kiosk
        assert (await to_officer)["text"] == "Bishnu Prasad Sharma"
        assert (kiosk.resident.chat[-1].sender, kiosk.resident.chat[-1].text) == (
            "interpreter",
            "Bishnu Prasad Sharma",
        )
        assert [line.sender for line in officer.desk.chat].count("interpreter") == 1

        # Withdrawn for the resident: withdrawn for the interpreter too.
        withdrawn = asyncio.ensure_future(interpreter.events.wait("document_withdrawn", TIMEOUT))
        await officer.desk.withdraw_document(doc_id)
        assert (await withdrawn)["doc_id"] == doc_id and interpreter.desk.documents[doc_id].withdrawn
        senders = [line.sender for line in interpreter.desk.chat]
        assert sorted(senders) == ["interpreter", "officer", "officer", "resident"]

        # Saved case documents: refused, with a reason, and the call is not disturbed.
        token = interpreter._session_token
        url = f"{server.http_url}/api/cases/{call_id}/documents"
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
            assert response.status == 403
            assert "interpreters see what is shown in the call" in await response.text()
        before = three.parties.counts()
        await three.parties.watch.until(
            lambda: all(n - before[key] >= FRAMES for key, n in three.parties.counts().items()), TIMEOUT
        )
        again = asyncio.ensure_future(kiosk.events.wait("chat", TIMEOUT, sender="officer"))
        await officer.desk.send_chat("ありがとうございます")
        await again
        assert (kiosk.party.session, officer.party.session) == primary
        assert interpreter.in_call and set(interpreter.conference.links) == {"caller", "officer"}
        # Its link to the resident is measured like the officer's (call_quality), and the server takes it.
        await interpreter.events.wait("telemetry", TIMEOUT, type="call_quality")
        pong = asyncio.ensure_future(interpreter.events.wait("pong", TIMEOUT, nonce=18))
        await interpreter.ping(18)
        await pong
        assert interpreter.last_error is None

        # The end of the interpreter's part forgets everything it was shown.
        left = asyncio.ensure_future(kiosk.events.wait("peer_left", TIMEOUT, peer="interpreter"))
        await interpreter.leave()
        await left
        assert interpreter.desk.chat == [] and interpreter.desk.documents == {}
