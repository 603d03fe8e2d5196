"""Issue 15, item 1, end to end: a Vietnamese-speaking resident at a real kiosk controller (with its window),
an officer at the real console window, a real aiortc call through the embedded server. The officer picks
phrases in the picker, asks for a scan and prints a slip; the resident reads all of it in Vietnamese, the
officer's chat shows the Japanese, free text is marked untranslated on both screens, and the kiosk's ESC/POS
printer (a fake printer on loopback TCP) prints the Vietnamese slip with the Japanese beside it."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from config.phrasebook import config_names, shipped_phrasebook
from devtools.headless import TIMEOUT, kiosk_media
from devtools.qt_settle import settle
from hardware.escpos_parse import parse, raster_images_stacked
from hardware.fake_escpos_printer import FakeEscposPrinter
from hardware.printer import NetworkPrinter
from hardware.receipt import JST, render_slip_body
from hardware.scanner import SimulatedScanner
from kiosk_client.controller import KioskController, KioskState
from kiosk_client.peripherals import Peripherals, PrinterAdapter, ScannerAdapter
from kiosk_client.slips import localized_slip
from remote_call.events import EventHub

SHOTS = os.environ.get("MADOGUCHI_SHOTS")  # a directory: the test also saves what both screens showed


def _shoot(widget, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(SHOTS) / name))


def expect(events: EventHub, name: str, **match: Any) -> asyncio.Future:
    """The next ``name`` event matching ``match``; its subscription is in place before the loop runs the
    work a click schedules after this call (tasks start in order)."""
    return asyncio.ensure_future(events.wait(name, TIMEOUT, **match))


def _minutes(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every minute a slip printed between ``start`` and ``end`` can carry (its time shows HH:MM)."""
    minute = start.replace(second=0, microsecond=0)
    found = []
    while minute <= end:
        found.append(minute)
        minute += dt.timedelta(minutes=1)
    return found


async def test_a_vietnamese_resident_reads_phrases_scan_request_and_slip_in_vietnamese(
    make_window, qtbot, helpers, server
):
    from kiosk_client.view.window import KioskWindow

    async with FakeEscposPrinter("ok") as printer:
        peripherals = Peripherals(
            ScannerAdapter(SimulatedScanner(150)),
            PrinterAdapter(NetworkPrinter(printer.address, width_px=512, status_timeout_s=1.0)),
        )
        kiosk = KioskController(
            server.url,
            "kiosk-ueda",
            server.fleet.kiosk_tokens["kiosk-ueda"],
            kiosk_media(),
            config=server.config,
            peripherals=peripherals,
        )
        await kiosk.start(TIMEOUT)
        kiosk_window = KioskWindow(kiosk)
        qtbot.addWidget(kiosk_window)
        kiosk_window.resize(1920, 1080)  # the kiosk's screen
        kiosk_window.show()
        window = make_window()
        try:
            await helpers.sign_in(window, qtbot, "hanako")
            c = window.controller
            await c.set_available()
            kiosk.choose_language("vi")
            await kiosk.request_call("kosodate", procedure="jido-teate-nintei", language="vi")
            await helpers.until(window, lambda: c.offer is not None)
            qtbot.mouseClick(window.ring.accept, Qt.MouseButton.LeftButton)
            await helpers.until(window, lambda: c.in_call)
            await kiosk.wait_for_state(KioskState.IN_CALL, TIMEOUT)
            call = window.call
            picker = call.phrases

            # A phrase with a parameter, picked and filled in the console's picker.
            call.tabs.setCurrentWidget(picker)
            picker.choose("fee.amount")
            picker.fields["fee"].setValue(350)
            assert "Lệ phí là 350 yên." in picker.preview.text()  # the officer sees what the resident will
            heard = expect(kiosk.events, "chat", sender="officer")
            qtbot.mouseClick(picker.send, Qt.MouseButton.LeftButton)
            await heard
            line = kiosk.resident.chat[-1]
            assert (line.text, line.phrase_id) == ("Lệ phí là 350 yên.", "fee.amount")
            await helpers.until(window, lambda: call.chat.count() == 1)
            assert call.chat.item(0).text() == "職員: 手数料は350円です。"  # the officer's chat: Japanese

            # A department parameter is shown by the department's Vietnamese name.
            picker.choose("next.department")
            picker.fields["department"].setCurrentIndex(picker.fields["department"].findData("shimin-toroku"))
            heard = expect(kiosk.events, "chat", sender="officer")
            qtbot.mouseClick(picker.send, Qt.MouseButton.LeftButton)
            await heard
            assert kiosk.resident.chat[-1].text == (
                "Tiếp theo, thủ tục sẽ được thực hiện tại Ban Đăng ký Cư dân."
            )

            # Free text goes as typed, marked untranslated on both screens.
            heard = expect(kiosk.events, "chat", sender="officer")
            call.chat_input.setText("印鑑をお持ちください")
            qtbot.mouseClick(call.chat_send, Qt.MouseButton.LeftButton)
            await heard
            await helpers.until(window, lambda: call.chat.count() == 3)
            assert call.chat.item(2).text() == "職員: ［翻訳なし］印鑑をお持ちください"
            await settle(kiosk_window)
            in_call = kiosk_window.screens["in_call"]
            chat_html = in_call.chat.text()
            assert "［Chưa dịch］</span> 印鑑をお持ちください" in chat_html
            assert "Lệ phí là 350 yên." in chat_html
            _shoot(kiosk_window, "kiosk-vi-phrase.png")
            call.tabs.setCurrentWidget(picker)
            _shoot(window, "console-phrase-picker.png")

            # The scan request: the default prompt is the library's phrase; the kiosk shows it in Vietnamese.
            call.tabs.setCurrentIndex(call.tabs.indexOf(call.scan_button.parentWidget()))
            await settle(window)
            placing = expect(kiosk.events, "scan", stage="placing")
            qtbot.mouseClick(call.scan_button, Qt.MouseButton.LeftButton)
            await placing
            scan = kiosk.resident.scan
            assert scan is not None
            assert (scan.prompt, scan.phrase_id) == (
                "Vui lòng đặt giấy tờ lên máy quét.",
                "scan.place_document",
            )
            await settle(kiosk_window)
            assert "Vui lòng đặt giấy tờ lên máy quét." in in_call.scan_prompt.text()
            assert "Chưa dịch" not in in_call.scan_prompt.text()
            _shoot(kiosk_window, "kiosk-vi-scan.png")

            # Another scan phrase, requested from the picker.
            call.tabs.setCurrentWidget(picker)
            picker.choose("scan.face_down")
            await settle(window)
            placing = expect(kiosk.events, "scan", stage="placing")
            qtbot.mouseClick(picker.request_scan, Qt.MouseButton.LeftButton)
            await placing
            scan = kiosk.resident.scan
            assert scan is not None and scan.phrase_id == "scan.face_down"
            assert scan.prompt == "Vui lòng đặt giấy tờ với mặt có chữ úp xuống."

            # A document shown with a caption: the sample form's title is the library's, in Vietnamese.
            shown = expect(kiosk.events, "document", shown=True)
            qtbot.mouseClick(call.show_sample, Qt.MouseButton.LeftButton)
            await shown
            await settle(kiosk_window)
            assert in_call.document_title.text() == "Đây là mẫu cách điền đơn."
            _shoot(kiosk_window, "kiosk-vi-document.png")

            # The slip: two phrases added from the picker, the officer's own words, printed in Vietnamese.
            kiosk_window.hide()  # its full-HD video no longer competes with the printer's I/O on a busy CI
            picker.choose("fee.amount")
            picker.fields["fee"].setValue(300)
            qtbot.mouseClick(picker.add_to_slip, Qt.MouseButton.LeftButton)
            picker.choose("next.window")
            picker.fields["window"].setValue(3)
            qtbot.mouseClick(picker.add_to_slip, Qt.MouseButton.LeftButton)
            assert call.slip_phrases.list.count() == 2
            call.slip_items.setPlainText("印鑑")
            call.tabs.setCurrentWidget(call.slip_tab)
            await settle(window)
            start = dt.datetime.now(JST)
            result = expect(c.events, "print_result")
            qtbot.mouseClick(call.slip_button, Qt.MouseButton.LeftButton)
            assert (await result)["ok"] is True
            await settle(window)
            assert call.slip_status.text() == "印刷しました。"
            end = dt.datetime.now(JST)
            slip = next(iter(c.desk.slips.values())).slip
            assert slip.language == "vi" and slip.department_id == "kosodate"
            receipt = localized_slip(slip, "盛岡市", "vi", shipped_phrasebook(), config_names(server.config))
            assert receipt.message.splitlines() == [
                "Lệ phí là 300 yên.",
                "手数料は300円です。",
                "Vui lòng đến quầy số 3 tại Tòa thị chính.",
                "市役所の3番窓口へお越しください。",
                "Mang theo / 持ち物: (chưa dịch) 印鑑",
            ]
            assert receipt.department == "Ban Hỗ trợ Trẻ em và Gia đình\n子育てあんしん課"
            commands, _ = parse(bytes(printer.received))
            printed = raster_images_stacked(commands)
            assert printed is not None
            # The printer received exactly this Vietnamese-and-Japanese slip, at the minute it printed.
            expected = [render_slip_body(replace(receipt, issued_at=m)) for m in _minutes(start, end)]
            assert any(printed.convert("1").tobytes() == image.tobytes() for image in expected)
        finally:
            kiosk_window.shutdown()
            await kiosk.stop()
