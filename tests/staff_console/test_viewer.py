"""The scan viewer: actual size from the scan's dpi, fit, zoom limits, rotation, refusal of non-images,
and the マイナンバーカード warning on a flagged scan."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import Qt

from devtools.headless import TIMEOUT, KioskInbox, scan_png, start_kiosk
from remote_call import incall as ic
from remote_call.documents import send_document, sha256_hex
from staff_console.i18n import Messages
from staff_console.view.viewer import MAX_SCALE, DocumentViewer


def test_actual_size_fit_zoom_and_rotation(qtbot):
    data = scan_png(2480 // 4, 3508 // 4)
    viewer = DocumentViewer(
        Messages("ja", strict=True),
        "d1",
        data,
        title="t",
        verified_note="ok",
        dpi=75,
        screen_dpi=lambda: 96.0,
    )
    qtbot.addWidget(viewer)
    viewer.resize(800, 900)
    viewer.show()
    qtbot.mouseClick(viewer.actual, Qt.MouseButton.LeftButton)
    assert viewer.view.scale_factor == pytest.approx(96 / 75)  # paper size on a 96 dpi screen
    qtbot.mouseClick(viewer.fit_button, Qt.MouseButton.LeftButton)
    on_screen = viewer.view.mapFromScene(viewer.view.item.sceneBoundingRect()).boundingRect()
    assert on_screen.height() <= viewer.view.viewport().height()  # the whole page is visible
    assert on_screen.width() <= viewer.view.viewport().width()
    for _ in range(40):
        qtbot.mouseClick(viewer.zoom_in, Qt.MouseButton.LeftButton)
    assert viewer.view.scale_factor == MAX_SCALE
    qtbot.mouseClick(viewer.rotate_left, Qt.MouseButton.LeftButton)
    assert viewer.view.rotation == 270
    rect = viewer.view.item.sceneBoundingRect()
    assert rect.width() > rect.height()  # the portrait page now lies on its side
    with pytest.raises(ValueError, match="not an image"):
        DocumentViewer(Messages("ja"), "d2", b"%PDF-1.7 not an image", title="t", verified_note="")


async def test_a_flagged_scan_shows_the_mynumber_warning(make_window, qtbot, helpers, server):
    window = make_window()
    await helpers.sign_in(window, qtbot, "hanako")
    c = window.controller
    await c.set_available()
    kiosk = await start_kiosk(server)
    try:
        await kiosk.request_call("shimin-toroku")
        await helpers.until(window, lambda: c.offer is not None)
        qtbot.mouseClick(window.ring.accept, Qt.MouseButton.LeftButton)
        await helpers.until(window, lambda: c.in_call)
        await asyncio.wait_for(kiosk.party.session.documents_open.wait(), TIMEOUT)
        inbox = KioskInbox(kiosk)
        data = scan_png(400, 250)
        offer = ic.DocumentOffer(
            doc_id="card",
            purpose="scan",
            name="card.png",
            mime="image/png",
            size=len(data),
            sha256=sha256_hex(data),
            warning="mynumber_back",
        )
        await send_document(inbox.session.documents, offer, data)
        await helpers.until(window, lambda: "card" in window.viewers)
        assert "マイナンバーカードの裏面" in window.viewers["card"].info.text()
        assert window.viewers["card"].save_button.isEnabled()  # still the officer's explicit decision
    finally:
        await kiosk.stop()
