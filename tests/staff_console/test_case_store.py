"""A scan saved at the console lands in the server's case store: encrypted at rest, audited by the server;
without a configured store it stays on the console and the save is audited through the call."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from config.schema import DocumentsConfig
from devtools.headless import TIMEOUT, console_media, kiosk_media
from hardware.scanner import SimulatedScanner
from kiosk_client.controller import KioskController, KioskState
from kiosk_client.peripherals import Peripherals, ScannerAdapter
from signaling_server.case_documents import new_key
from signaling_server.testing import test_config
from staff_console.controller import ConsoleController

PASSWORD = "correct horse battery"


@pytest.mark.parametrize("store_configured", [True, False], ids=["case store", "no case store"])
async def test_saving_a_scan_to_the_case(make_server, store_configured):
    config = test_config()
    if store_configured:
        config = config.model_copy(
            update={"documents": DocumentsConfig(keys={"k1": new_key()}, current_key="k1")}
        )
    async with make_server(config) as server:
        kiosk = KioskController(
            server.url,
            "kiosk-ueda",
            server.fleet.kiosk_tokens["kiosk-ueda"],
            kiosk_media(),
            config=server.config,
            peripherals=Peripherals(ScannerAdapter(SimulatedScanner(100)), None),
        )
        officer = ConsoleController(server.url, "hanako", PASSWORD, console_media())
        try:
            await kiosk.start(TIMEOUT)
            await officer.start(TIMEOUT)
            ringing = asyncio.ensure_future(officer.events.wait("ring", TIMEOUT))
            await kiosk.request_call("kosodate")
            await ringing
            started = asyncio.ensure_future(officer.events.wait("call_started", TIMEOUT))
            await officer.accept()
            call_id = (await started)["call_id"]
            await kiosk.wait_for_state(KioskState.IN_CALL, TIMEOUT)
            received = asyncio.ensure_future(officer.events.wait("document_received", TIMEOUT, ok=True))
            await officer.desk.request_scan("本人確認書類を置いてください")
            await kiosk.events.wait("scan", TIMEOUT, stage="placing")
            kiosk.scan_now()
            doc_id = (await received)["doc_id"]
            saved = asyncio.ensure_future(officer.events.wait("document_saved", TIMEOUT, doc_id=doc_id))
            await officer.desk.save_to_case(doc_id)
            assert (await saved)["stored"] is store_configured
            sent = officer.desk.documents[doc_id]
            if store_configured:
                token = officer._session_token
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(
                        f"{server.http_url}/api/cases/{call_id}/documents/{doc_id}",
                        headers={"Authorization": f"Bearer {token}"},
                    ) as response,
                ):
                    assert response.status == 200 and await response.read() == sent.data
                row = server.store.conn.execute("SELECT ciphertext FROM case_documents").fetchone()
                assert sent.data[:256] not in row[0]  # encrypted at rest
            else:
                await officer.round_trip(TIMEOUT)  # in order on the websocket: the case_event came first
            saves = [e for e in server.switchboard.audit.entries() if e.action == "document_saved"]
            assert [(e.actor, e.details["sha256"]) for e in saves] == [("hanako", sent.offer.sha256)]
        finally:
            await kiosk.stop()
            await officer.stop()
