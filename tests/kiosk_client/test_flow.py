"""The whole resident flow through the real Qt view, against an embedded server and a headless officer.

Real parts: the signaling server, aiortc media both ways, the kiosk's device layer (SANE's ``test`` backend
for the scanner, the ESC/POS printer over TCP to a fake printer socket), the officer's ConsoleController.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QAbstractButton

from config.loader import default_config_path
from hardware.devices import KioskDevices
from kiosk_client.controller import KioskController, KioskState, Screen
from kiosk_client.view.window import KioskWindow
from remote_call import incall as ic
from remote_call.documents import DocumentReceiver, send_document, sha256_hex
from staff_console.controller import ConsoleController

from .conftest import (
    PASSWORD,
    TIMEOUT,
    assert_nothing_of_the_resident,
    click,
    expect,
    kiosk_config,
    network_printer,
    officer_media,
    sane_test_scanner,
    settle,
    visible_texts,
)


class OfficerSide:
    """The officer's end of the call's channels, driven directly: in-call messages and documents."""

    def __init__(self, console: ConsoleController):
        session = console.party.session
        assert session is not None
        self.session = session
        self.messages: asyncio.Queue[ic.InCall] = asyncio.Queue()
        self.documents: asyncio.Queue[tuple[ic.DocumentOffer, bytes | None, bool]] = asyncio.Queue()
        self.receiver = DocumentReceiver(self._on_document)
        session.control_handlers.append(lambda raw: self.messages.put_nowait(ic.parse_incall(raw)))
        session.document_handlers.append(self.receiver.feed)

    def _on_document(self, offer: ic.DocumentOffer, data: bytes | None, ok: bool, detail: str) -> None:
        self.documents.put_nowait((offer, data, ok))
        self.send(ic.DocumentReceived(doc_id=offer.doc_id, ok=ok, detail=detail))

    def send(self, message: ic.InCall) -> None:
        self.session.send_control(ic.incall_dict(message))

    async def next(self, kind: type, **match: object) -> ic.InCall:
        """The next message of ``kind`` (matching fields); others of other kinds are skipped."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                message = await self.messages.get()
                if isinstance(message, kind) and all(getattr(message, k) == v for k, v in match.items()):
                    return message


def png(width: int, height: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


async def start_call(
    server,
    qtbot,
    config,
    *,
    procedure_tile: str = "tile-procedure-juminhyo",
    category: str = "category-住民票・戸籍",
):
    """Resident: welcome → language → procedure → consent → preflight → call; officer answers."""
    devices = await KioskDevices.open(config.kiosk("kiosk-ueda").devices, "上田公民館")
    kiosk = KioskController(
        server.url, "kiosk-ueda", server.fleet.kiosk_tokens["kiosk-ueda"], devices, config=config
    )
    window = KioskWindow(kiosk)
    qtbot.addWidget(window)
    window.show()
    console = ConsoleController(server.url, "hanako", PASSWORD, officer_media())
    await asyncio.gather(kiosk.start(TIMEOUT), console.start(TIMEOUT))
    await settle(window)
    assert kiosk.screen is Screen.WELCOME and not window.notice.isVisible()

    click(qtbot, window, "lang-ja")
    assert kiosk.screen is Screen.CHOOSE and window.stack.currentWidget() is window.screens["choose"]
    await settle(window)
    click(qtbot, window, category)
    await settle(window)
    shown = [
        w.objectName()
        for w in window.screens["choose"].tiles_box.findChildren(QAbstractButton)
        if w.isVisible()
    ]
    assert procedure_tile in shown and all(name.startswith("tile-procedure-") for name in shown)
    click(qtbot, window, procedure_tile)
    assert kiosk.screen is Screen.CONSENT and kiosk.resident.department == "shimin-toroku"
    consent_text = " ".join(visible_texts(window.screens["consent"]))
    assert "記録も保存もしません" in consent_text and "スキャナー" in consent_text

    click(qtbot, window, "consent-agree")
    assert kiosk.screen is Screen.PREFLIGHT
    await kiosk.media.preview.wait_count(2, TIMEOUT)  # "こちらに映ります": the camera preview runs
    await window.flush_video()
    assert window.screens["preflight"].preview.has_image

    await console.set_available()
    ring = expect(console.events, "ring")
    queued = expect(kiosk.events, "queue")
    click(qtbot, window, "preflight-call")
    await queued
    assert kiosk.screen in (Screen.WAITING, Screen.CONNECTING, Screen.IN_CALL)
    assert (await ring)["department"] == "shimin-toroku"
    started = expect(kiosk.events, "state", state="in_call")
    await console.accept()
    await started
    assert kiosk.screen is Screen.IN_CALL
    sessions = [kiosk.party.session, console.party.session]
    await asyncio.wait_for(asyncio.gather(*(s.channel_open.wait() for s in sessions if s)), TIMEOUT)
    return kiosk, window, console, devices


async def finish(kiosk: KioskController, console: ConsoleController, devices: KioskDevices) -> None:
    await asyncio.gather(console.stop(), kiosk.stop())
    await devices.close()


async def test_resident_flow_call_scan_slip_and_privacy_reset(make_server, qtbot, fake_printer):
    async with make_server() as server:
        config = kiosk_config(
            server.config, scanner=sane_test_scanner(), printer=network_printer(fake_printer)
        )
        kiosk, window, console, devices = await start_call(server, qtbot, config)
        try:
            # Media both ways: the officer large, the resident's self-view small.
            kiosk_session, officer_session = kiosk.party.session, console.party.session
            assert kiosk_session is not None and officer_session is not None
            await asyncio.wait_for(
                asyncio.gather(
                    kiosk_session.remote_video.first.wait(), officer_session.remote_video.first.wait()
                ),
                TIMEOUT,
            )
            await kiosk.media.self_view.wait_count(2, TIMEOUT)
            await window.flush_video()
            call_screen = window.screens["in_call"]
            assert call_screen.officer_video.has_image and call_screen.self_view.has_image
            officer = OfficerSide(console)

            # The officer asks for a document: prompt with live guidance, the SANE scan, SHA-256 verified.
            placing = expect(kiosk.events, "scan", stage="placing")
            officer.send(ic.ScanRequest(request_id="req-1", prompt="本人確認書類を置いてください"))
            await placing
            assert call_screen.side_stack.currentIndex() == 1
            assert "本人確認書類を置いてください" in call_screen.scan_prompt.text()
            assert (await officer.next(ic.ScanStatus)).stage == "placing"
            done = expect(kiosk.events, "scan", stage="done")
            click(qtbot, window, "scan-button")
            offer, data, ok = await asyncio.wait_for(officer.documents.get(), TIMEOUT)
            assert ok and data is not None and offer.purpose == "scan" and offer.request_id == "req-1"
            assert hashlib.sha256(data).hexdigest() == offer.sha256 and offer.mime in (
                "image/png",
                "image/jpeg",
            )
            assert Image.open(io.BytesIO(data)).size == (offer.width, offer.height)  # a real SANE page
            await done
            stages = [(await officer.next(ic.ScanStatus)).stage for _ in range(3)]
            assert stages == ["scanning", "sending", "done"]
            await settle(window)
            assert not call_screen.scan_thumbnail.pixmap().isNull()
            assert kiosk.resident.scan is not None and kiosk.resident.scan.thumbnail is not None
            click(qtbot, window, "scan-cancel")  # "閉じる" after done
            assert call_screen.side_stack.currentIndex() == 0

            # Chat from the officer, a canned reply back.
            chat = expect(kiosk.events, "chat", sender="officer")
            officer.send(ic.Chat(id="c1", text="住民票は何通必要ですか", sender="officer"))
            await chat
            assert "住民票は何通必要ですか" in call_screen.chat.text()
            assert "chat" in kiosk.cues.played
            click(qtbot, window, "reply-yes")
            reply = await officer.next(ic.Chat)
            assert (reply.sender, reply.text) == ("resident", "はい")

            # An image the officer shows.
            shown_png = png(64, 48, 7)
            shown = expect(kiosk.events, "document", shown=True)
            await asyncio.wait_for(officer_session.documents_open.wait(), TIMEOUT)
            await send_document(
                officer_session.documents,
                ic.DocumentOffer(
                    doc_id="show-1",
                    purpose="show",
                    name="guide.png",
                    mime="image/png",
                    size=len(shown_png),
                    sha256=sha256_hex(shown_png),
                ),
                shown_png,
            )
            await shown
            verdict = await officer.next(ic.DocumentReceived, doc_id="show-1")
            assert verdict.ok
            await settle(window)
            # The document stands beside the officer's video, which stays in sight.
            assert call_screen.document_page.isVisible() and not call_screen.document.pixmap().isNull()
            assert call_screen.officer_video.isVisible()

            # A slip: printed on the ESC/POS printer, whose TCP socket receives the job.
            officer.send(
                ic.PrintSlip(
                    slip_id="slip-1",
                    department="市民登録課",
                    message="住民票の写し 1通",
                    items_to_bring=["マイナンバーカード"],
                    next_steps="コンビニでも取れます",
                )
            )
            result = await officer.next(ic.PrintResult)
            assert result.ok and result.slip_id == "slip-1" and result.printer_status == "ok", result
            # The printer confirmed the job with its status after the cut: the bytes are in its socket.
            assert len(fake_printer.received) > 2000 and fake_printer.jobs_cut >= 1

            # The end button asks first; then the thank-you screen with the slip note.
            click(qtbot, window, "end-call")
            assert call_screen.controls_stack.currentIndex() == 1  # "通話を終わりますか？"
            assert kiosk.state is KioskState.IN_CALL
            ended = expect(kiosk.events, "state", state="finished")
            click(qtbot, window, "end-yes")
            await ended
            assert kiosk.screen is Screen.AFTER_CALL
            assert "紙が出ています" in window.screens["after_call"].slip.text()
            assert kiosk.resident.chat == [] and kiosk.resident.shown == {} and kiosk.resident.scan is None
            assert call_screen.chat.text() == ""  # in-call data is gone at the end of the call already
            assert window.idle_bar.isVisible() or kiosk.idle.armed  # the visible way back to the welcome

            click(qtbot, window, "rating-good")
            assert kiosk.ratings["good"] == 1
            reset = expect(kiosk.events, "reset")
            click(qtbot, window, "finish")
            await reset
            await settle(window)
            assert kiosk.screen is Screen.WELCOME and kiosk.state is KioskState.IDLE
            assert_nothing_of_the_resident(
                kiosk, window, ["住民票は何通必要ですか", "本人確認書類を置いてください", "あなた：はい"]
            )
        finally:
            await finish(kiosk, console, devices)


async def test_device_failures_keep_the_call_going_and_mute_sends_silence(make_server, qtbot, fake_printer):
    """No scanner, a printer out of paper: each step says so; the call continues; mute is real silence."""
    fake_printer.set_mode("paper_out")
    async with make_server() as server:
        config = kiosk_config(server.config, printer=network_printer(fake_printer))  # scanner: none
        kiosk, window, console, devices = await start_call(server, qtbot, config)
        try:
            officer = OfficerSide(console)
            failed = expect(kiosk.events, "scan", stage="failed")
            officer.send(ic.ScanRequest(request_id="req-9"))
            await failed
            status = await officer.next(ic.ScanStatus)
            assert status.stage == "failed" and "scanner" in status.detail
            call_screen = window.screens["in_call"]
            assert "スキャナーが使えません" in call_screen.scan_stage.text()
            assert not call_screen.scan_button.isVisible()  # nothing to retry; tell the officer
            assert kiosk.state is KioskState.IN_CALL

            officer.send(ic.PrintSlip(slip_id="slip-9", department="市民登録課", message="テスト"))
            result = await officer.next(ic.PrintResult)
            assert not result.ok and result.printer_status == "paper_out"
            assert kiosk.resident.slip is not None and not kiosk.resident.slip.ok

            # Mute: the officer's received audio drops to silence; unmute brings the tone back.
            officer_session = console.party.session
            assert officer_session is not None

            async def level_after(frames: int) -> float:
                got: asyncio.Queue = asyncio.Queue()
                officer_session.remote_audio.listeners.append(got.put_nowait)
                try:
                    levels = [
                        np.abs((await asyncio.wait_for(got.get(), TIMEOUT)).to_ndarray()).mean()
                        for _ in range(frames)
                    ]
                finally:
                    officer_session.remote_audio.listeners.remove(got.put_nowait)
                return float(np.mean(levels[-10:]))

            loud = await level_after(20)
            click(qtbot, window, "mute")
            assert kiosk.media.muted and "マイクが切れています" in call_screen.muted_note.text()
            quiet = await level_after(40)
            assert loud > 500 and quiet < loud / 50, (loud, quiet)
            click(qtbot, window, "mute")
            assert await level_after(40) > 500

            ended = expect(kiosk.events, "state", state="finished")
            await console.end_call()
            await ended
            assert "紙を印刷できませんでした" in window.screens["after_call"].slip.text()
            assert "019-651-4111" in window.screens["after_call"].slip.text()
        finally:
            await finish(kiosk, console, devices)


async def test_remote_actions_answer_with_action_results(make_server, qtbot):
    async with make_server() as server:
        config = kiosk_config(server.config, scanner=sane_test_scanner())
        devices = await KioskDevices.open(config.kiosk("kiosk-ueda").devices, "上田公民館")
        kiosk = KioskController(
            server.url,
            "kiosk-ueda",
            server.fleet.kiosk_tokens["kiosk-ueda"],
            devices,
            config=config,
            telemetry=False,
        )
        await kiosk.start(TIMEOUT)
        sent: list = []
        original = kiosk.client.send

        async def spy(message):  # record what the kiosk tells the server, then really send it
            sent.append(message)
            await original(message)

        kiosk.client.send = spy  # type: ignore[method-assign]
        try:
            from remote_call import protocol as p

            restart = expect(kiosk.events, "restart_requested")
            for action_id, action in (("a1", "selftest"), ("a2", "reload_config"), ("a3", "restart")):
                if action_id == "a3":
                    kiosk.config_path = default_config_path()
                    answered = expect(kiosk.events, "action_result", action_id="a2b")
                    await kiosk._on_message(p.RemoteAction(action_id="a2b", action="reload_config"))
                    await answered
                answered = expect(kiosk.events, "action_result", action_id=action_id)
                await kiosk._on_message(p.RemoteAction(action_id=action_id, action=action))
                await answered
            await restart
            results = {m.action_id: m for m in sent if isinstance(m, p.ActionResult)}
            detail = json.loads(results["a1"].detail)
            assert results["a1"].ok and detail["scanner"].startswith("ok") and detail["printer"] == "unknown"
            assert (
                not results["a2"].ok and "--config" in results["a2"].detail
            )  # started without a config file
            assert results["a2b"].ok and kiosk.app_config is not None and kiosk.app_config.kiosks
            assert results["a3"].ok
        finally:
            await kiosk.stop()
            await devices.close()
