"""End to end with the real kiosk controller and its peripherals: the officer asks for a scan, the resident
presses "読み取る", the kiosk's scanner scans and sends it, the console verifies and shows it; the officer
prints a slip and the kiosk's ESC/POS printer (a fake printer on loopback TCP) receives the job."""

from __future__ import annotations

from PySide6.QtCore import Qt

from devtools.headless import TIMEOUT, kiosk_media
from hardware.escpos_parse import parse, qr_payloads
from hardware.fake_escpos_printer import FakeEscposPrinter
from hardware.printer import NetworkPrinter
from hardware.scanner import SimulatedScanner
from kiosk_client.controller import KioskController, KioskState
from kiosk_client.peripherals import Peripherals, PrinterAdapter, ScannerAdapter


async def test_scan_from_the_kiosk_scanner_and_slip_to_its_printer(make_window, qtbot, helpers, server):
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
        window = make_window()
        try:
            await helpers.sign_in(window, qtbot, "hanako")
            c = window.controller
            await c.set_available()
            await kiosk.request_call("kosodate", procedure="jido-teate-nintei")
            await helpers.until(window, lambda: c.offer is not None)
            qtbot.mouseClick(window.ring.accept, Qt.MouseButton.LeftButton)
            await helpers.until(window, lambda: c.in_call)
            await kiosk.wait_for_state(KioskState.IN_CALL, TIMEOUT)

            qtbot.mouseClick(window.call.scan_button, Qt.MouseButton.LeftButton)
            placing = "住民の方が書類を置いています…"
            await helpers.until(window, lambda: window.call.scan_status.text() == placing)
            kiosk.scan_now()  # the resident touches 読み取る
            await helpers.until(window, lambda: len(c.desk.documents) == 1)
            doc_id, document = next(iter(c.desk.documents.items()))
            assert document.offer.dpi == 150 and document.offer.request_id is not None
            await helpers.until(window, lambda: doc_id in window.viewers)
            assert window.viewers[doc_id].image_size == (document.offer.width, document.offer.height)
            await kiosk.events.wait("scan", TIMEOUT, stage="done")  # the kiosk got the console's verdict

            window.call.slip_message.setPlainText("ご来庁の際はこの控えをお持ちください")
            window.call.slip_items.setPlainText("印鑑")
            window.call.slip_qr.setText("https://www.city.morioka.iwate.jp/kosodate")
            qtbot.mouseClick(window.call.slip_button, Qt.MouseButton.LeftButton)
            await helpers.until(window, lambda: window.call.slip_status.text() == "印刷しました。")
            commands, _ = parse(bytes(printer.received))
            assert qr_payloads(commands) == [b"https://www.city.morioka.iwate.jp/kosodate"]
            assert [command.name for command in commands].count("GS V") == 1  # one slip, cut
        finally:
            await kiosk.stop()
