"""The console window with a business caller, against the real embedded server: the invitation dialog creates
a link (REST, the officer's session token), the business opens it (devtools.business_peer, aiortc) and rings;
the ring and the call header say it is a business, the shared screen is shown full size, a PDF upload opens
in the viewer page by page, scan and slip are disabled with the reason in the tooltip; revoke from the list.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from devtools.business_peer import BusinessPeer, redeem, sample_pdf
from devtools.headless import TIMEOUT
from staff_console.view.invitations import InvitationDialog
from staff_console.view.window import ConsoleWindow

DEPARTMENT = "kenchiku-shido"


async def invite(window: ConsoleWindow, qtbot, *, company: str = "株式会社みちのく設計") -> InvitationDialog:
    qtbot.mouseClick(window.header.invite, Qt.MouseButton.LeftButton)
    dialog = window.invitation_dialog
    assert dialog is not None and dialog.isVisible()
    await dialog.wait_for(lambda: dialog.department.count() > 0)
    dialog.department.setCurrentIndex(dialog.department.findData(DEPARTMENT))
    dialog.company.setText(company)
    dialog.contact.setText("岩手 太郎")
    dialog.email.setText("taro@michinoku-sekkei.example.jp")
    dialog.purpose.setPlainText("確認申請の事前相談（配置図・平面図）")
    dialog.mobile.setChecked(False)
    before = dialog.created
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    await dialog.wait_for(lambda: dialog.created is not before and dialog.table.rowCount() > 0)
    return dialog


async def test_invitation_dialog_creates_lists_copies_and_revokes(make_window, qtbot, helpers):
    window = make_window()
    await helpers.sign_in(window, qtbot, "hanako")
    dialog = await invite(window, qtbot)
    assert dialog.created is not None
    link = dialog.link.text()
    assert "/b/#" in link and len(link.split("#", 1)[1]) >= 40
    assert dialog.status.text().startswith("株式会社みちのく設計 様への招待を作成しました。")
    assert "メール" in dialog.status.text()  # sent or not: the officer is told which
    qtbot.mouseClick(dialog.copy, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == link
    row = [dialog.table.item(0, c).text() for c in range(dialog.table.columnCount())]
    assert row[1] == "株式会社みちのく設計" and row[4] == "未使用"
    assert helpers.raw_keys(dialog) == []

    # Wrong input is caught before any request, naming the fields.
    dialog.email.setText("not-an-address")
    qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert "メールアドレス" in dialog.status.text()

    dialog.table.selectRow(0)
    qtbot.mouseClick(dialog.revoke, Qt.MouseButton.LeftButton)
    await dialog.wait_for(
        lambda: dialog.table.rowCount() > 0 and dialog.table.item(0, 4).text() == "取消済み"
    )
    assert "取り消しました" in dialog.status.text()
    # The revoked link no longer signs a business in.
    refused = None
    try:
        await redeem(link)
    except RuntimeError as exc:
        refused = str(exc)
    assert refused is not None and "revoked" in refused


async def test_business_rings_shares_screen_and_uploads_a_pdf(make_window, qtbot, helpers):
    window = make_window()
    await helpers.sign_in(window, qtbot, "hanako")
    c = window.controller
    dialog = await invite(window, qtbot)
    token, business = await redeem(dialog.link.text())
    dialog.close()
    peer = BusinessPeer.with_session(c.client.url, token)
    welcome = await peer.start()
    assert welcome.business is not None and welcome.business.company == business.company
    try:
        await c.set_available()
        await peer.request_call(DEPARTMENT)
        await helpers.until(window, lambda: window.desk.currentWidget() is window.ring)
        ring = window.ring
        assert ring.badge.isVisible() and ring.badge.text() == "【業者】業者向けリモート窓口"
        assert ring.title.text() == "着信 — 業者の方がお待ちです"
        assert ring.values["company"].text() == "株式会社みちのく設計"
        assert ring.values["contact"].text() == "岩手 太郎"
        assert ring.values["purpose"].text() == "確認申請の事前相談（配置図・平面図）"
        assert not ring.values["language"].isVisible() and ring.values["company"].isVisible()
        assert helpers.raw_keys(window) == []

        qtbot.mouseClick(ring.accept, Qt.MouseButton.LeftButton)
        await helpers.until(window, lambda: c.in_call)
        call = window.call
        assert call.kind.isVisible() and "株式会社みちのく設計" in call.info.text()
        assert not call.scan_button.isEnabled() and "スキャナー" in call.scan_button.toolTip()
        slip = call.tabs.indexOf(call.slip_tab)
        assert not call.tabs.isTabEnabled(slip) and "プリンター" in call.tabs.tabToolTip(slip)

        await peer.share_screen(True)
        await helpers.until(window, lambda: call.stage.sharing)
        stage = call.stage
        assert stage.big is stage.shared_screen and stage.shared_screen.geometry() == stage.rect()
        assert stage.remote.width() < stage.width() // 2  # the business's camera, small
        assert stage.shared_screen.source is c.party.session.remote_screen
        screen = c.party.session.remote_screen
        await asyncio.wait_for(screen.first.wait(), TIMEOUT)
        stage.shared_screen.refresh()
        assert stage.shared_screen.frames_drawn >= 1
        qtbot.mouseClick(call.swap, Qt.MouseButton.LeftButton)
        assert stage.big is stage.remote and call.swap.text() == "共有画面を大きく"
        await peer.share_screen(False)
        await helpers.until(window, lambda: not call.stage.sharing)
        assert stage.big is stage.remote and not stage.shared_screen.isVisible() and not call.swap.isVisible()

        await peer.upload(sample_pdf(3), "配置図.pdf", doc_id="up-1")
        await helpers.until(window, lambda: "up-1" in window.viewers)
        viewer = window.viewers["up-1"]
        assert viewer.windowTitle() == "業者のアップロード: 配置図.pdf"
        assert viewer.badge.isVisible() and "配置図.pdf" in viewer.badge.text()
        assert viewer.page_count == 3 and viewer.page_label.text() == "1 / 3 ページ"
        assert not viewer.previous_page.isEnabled()
        qtbot.mouseClick(viewer.next_page, Qt.MouseButton.LeftButton)
        assert viewer.page == 1 and viewer.page_label.text() == "2 / 3 ページ"
        assert call.received.item(0).text() == "【アップロード】配置図.pdf（{} KB・3 ページ）".format(
            f"{len(sample_pdf(3)) / 1024:.0f}"
        )
        assert (await peer.verdict("up-1")).ok

        exe = b"MZ\x90\x00" + bytes(2000)
        await peer.upload(exe, "図面.pdf", doc_id="up-exe")
        await helpers.until(window, lambda: "up-exe" in c.desk.failed_documents)
        assert call.scan_status.text().startswith("図面.pdf: 中身が PDF・PNG・JPEG ではない")
        assert helpers.raw_keys(window) == []

        call.outcome_buttons["resolved"].setChecked(True)
        qtbot.mouseClick(call.end_button, Qt.MouseButton.LeftButton)
        await helpers.until(window, lambda: c.call_id is None)
        entry = c.history.entries[-1]
        assert entry.business and entry.outcome == "resolved"
        assert window.history.table.item(0, 2).text() == "【業者】株式会社みちのく設計"
    finally:
        await peer.stop()
