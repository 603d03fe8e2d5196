"""The Qt console driven like an officer would, against an embedded server and a headless kiosk."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt

from devtools.headless import TIMEOUT, KioskInbox, scan_png, start_kiosk
from remote_call import incall as ic
from remote_call.documents import sha256_hex


async def test_sign_in_ring_accept_chat_scan_show_print_end(make_window, qtbot, helpers, server, tmp_path):
    window = make_window()
    await helpers.sign_in(window, qtbot, "hanako")
    c = window.controller
    assert window.pages.currentWidget() is window.main_page
    qtbot.mouseClick(window.header.available, Qt.MouseButton.LeftButton)
    await helpers.until(window, lambda: c.officer_state == "available")
    assert window.header.badge.text() == "受付可"

    kiosk = await start_kiosk(server)
    try:
        await kiosk.request_call(
            "kosodate", procedure="jido-teate-nintei", language="en", accessibility=["wheelchair"]
        )
        await helpers.until(window, lambda: window.desk.currentWidget() is window.ring)
        ring = window.ring
        assert window.ringer.playing
        assert ring.values["procedure"].text() == "児童手当等の受給資格及び児童手当の額についての認定請求"
        assert ring.values["language"].text() == "英語"
        assert ring.values["accessibility"].text() == "車いす"
        assert "上田" in ring.values["kiosk"].text()
        assert "待ち時間" in ring.waited.text()

        qtbot.mouseClick(ring.accept, Qt.MouseButton.LeftButton)
        await helpers.until(window, lambda: c.in_call)
        assert not window.ringer.playing
        assert window.desk.currentWidget() is window.call
        session = c.party.session
        await asyncio.wait_for(session.remote_video.first.wait(), TIMEOUT)
        await asyncio.wait_for(session.channel_open.wait(), TIMEOUT)
        await asyncio.wait_for(kiosk.party.session.channel_open.wait(), TIMEOUT)
        # the resident's video is drawn
        window.call.stage.remote.refresh()
        assert window.call.stage.remote.frames_drawn >= 1
        inbox = KioskInbox(kiosk)

        # chat both ways
        window.call.chat_input.setText("こんにちは、子育て支援課です")
        qtbot.keyClick(window.call.chat_input, Qt.Key.Key_Return)
        assert (await inbox.expect(ic.Chat)).text == "こんにちは、子育て支援課です"
        inbox.send(ic.Chat(id="r1", text="よろしくお願いします", sender="resident"))
        await helpers.until(window, lambda: window.call.chat.count() == 2)
        assert window.call.chat.item(1).text() == "住民: よろしくお願いします"

        # scan: request, status, bytes, verified, viewer opens; save is explicit
        qtbot.mouseClick(window.call.scan_button, Qt.MouseButton.LeftButton)
        request = await inbox.expect(ic.ScanRequest)
        inbox.send(ic.ScanStatus(request_id=request.request_id, stage="scanning"))
        await helpers.until(window, lambda: window.call.scan_status.text() == "スキャン中…")
        data = scan_png()
        await inbox.send_scan(data, request.request_id)
        await helpers.until(window, lambda: "scan-1" in window.viewers)
        viewer = window.viewers["scan-1"]
        assert viewer.isVisible() and viewer.image_size == (620, 877)
        assert (await inbox.expect(ic.DocumentReceived)).ok
        assert c.desk.case_documents == {}
        viewer.view.set_scale(1.0)
        qtbot.mouseClick(viewer.zoom_in, Qt.MouseButton.LeftButton)
        assert abs(viewer.view.scale_factor - 1.25) < 1e-6
        qtbot.mouseClick(viewer.rotate_right, Qt.MouseButton.LeftButton)
        assert viewer.view.rotation == 90
        qtbot.mouseClick(viewer.save_button, Qt.MouseButton.LeftButton)
        await window.runner.settle()
        assert c.desk.case_documents[c.call_id][0].data == data
        assert not viewer.save_button.isEnabled()
        await c.round_trip()  # the server has handled every case event sent so far
        audit = server.switchboard.audit
        for action in ("document_received", "document_saved"):
            entries = audit.entries(action=action, target=c.call_id)
            assert len(entries) == 1 and entries[0].actor == "hanako", action
            details = entries[0].details
            assert details["sha256"] == sha256_hex(data) and details["size"] == len(data)

        # show the sample form: it reaches the kiosk whole over the documents channel
        shown: asyncio.Future = asyncio.get_running_loop().create_future()
        from remote_call.documents import DocumentReceiver

        receiver = DocumentReceiver(
            lambda offer, blob, ok, detail: shown.done() or shown.set_result((offer, blob, ok))
        )
        inbox.session.document_handlers.append(receiver.feed)
        qtbot.mouseClick(window.call.show_sample, Qt.MouseButton.LeftButton)
        offer, blob, ok = await asyncio.wait_for(shown, TIMEOUT)
        assert ok and offer.purpose == "show" and blob[:8] == b"\x89PNG\r\n\x1a\n"
        inbox.send(ic.DocumentReceived(doc_id=offer.doc_id, ok=True))
        await helpers.until(window, lambda: window.call.shown_status.text() == "端末に表示されています。")

        # a file from the officer's computer, chosen in a non-modal file dialog
        picture = tmp_path / "地図.png"
        picture.write_bytes(scan_png(200, 120))
        shown = asyncio.get_running_loop().create_future()
        dialog = window._choose_file()
        assert dialog.isVisible()
        dialog.selectFile(str(picture))
        dialog.accept()
        offer, blob, ok = await asyncio.wait_for(shown, TIMEOUT)
        assert ok and offer.name == "地図.png" and blob == picture.read_bytes()
        (tmp_path / "notes.txt").write_text("x")
        window.show_file(str(tmp_path / "notes.txt"))
        assert window.statusBar().currentMessage().endswith("notes.txt は見せられません（PNG・JPEG のみ）")

        # print a slip at the kiosk
        window.call.slip_message.setPlainText("本日はありがとうございました")
        window.call.slip_items.setPlainText("印鑑\n本人確認書類")
        window.call.slip_next.setPlainText("窓口で番号札をお取りください")
        window.call.slip_qr.setText("https://www.city.morioka.iwate.jp/")
        qtbot.mouseClick(window.call.slip_button, Qt.MouseButton.LeftButton)
        slip = await inbox.expect(ic.PrintSlip)
        assert slip.items_to_bring == ["印鑑", "本人確認書類"] and slip.department == "子育てあんしん課"
        assert slip.qr_url == "https://www.city.morioka.iwate.jp/"
        inbox.send(ic.PrintResult(slip_id=slip.slip_id, ok=True, printer_status="ok"))
        await helpers.until(window, lambda: window.call.slip_status.text() == "印刷しました。")
        await c.round_trip()
        assert len(audit.entries(action="document_shown", target=c.call_id)) == 2  # the sample and the file
        assert len(audit.entries(action="slip_printed", target=c.call_id)) == 1

        assert helpers.raw_keys(window) == [] and helpers.raw_keys(viewer) == []
        # end with an outcome and notes; history shows it
        call_id = c.call_id
        window.call.tabs.setCurrentIndex(4)
        window.call.outcome_buttons["appointment_made"].setChecked(True)
        window.call.end_notes.setPlainText("12月3日 10時 来庁予約")
        qtbot.mouseClick(window.call.end_button, Qt.MouseButton.LeftButton)
        await helpers.until(window, lambda: c.call_id is None)
        assert window.desk.currentWidget() is window.shift and window.viewers == {}
        entry = c.history.get(call_id)
        assert entry.outcome == "appointment_made" and entry.notes == "12月3日 10時 来庁予約"
        table = window.history.table
        assert table.rowCount() == 1 and table.item(0, 5).text() == "予約を受付"
        assert table.item(0, 6).text() == "12月3日 10時 来庁予約"
        await helpers.until(window, lambda: c.officer_state == "wrap_up")
        assert window.header.wrap_up.text().startswith("後処理")
        assert helpers.raw_keys(window) == []
    finally:
        await kiosk.stop()
