"""Decoding Epson DLE EOT status bytes; silence and garbage are "unknown", never OK."""

from __future__ import annotations

from hardware.printer_status import PrinterStatus


def test_status_bytes_decode() -> None:
    assert PrinterStatus.from_bytes(0x12, 0x12, 0x12, 0x12).state == "ok"
    assert PrinterStatus.from_bytes(0x12, 0x12, 0x12, 0x1E).state == "paper_near_end"
    assert PrinterStatus.from_bytes(0x1A, 0x32, 0x12, 0x72).state == "paper_out"
    assert PrinterStatus.from_bytes(0x1A, 0x16, 0x12, 0x12).state == "cover_open"
    assert PrinterStatus.from_bytes(0x1A, 0x52, 0x1A, 0x12).state == "error"  # autocutter error
    garbage = PrinterStatus.from_bytes(0xFF, 0x12, 0x12, 0x12)
    assert garbage.state == "unknown" and "0xff" in garbage.detail


def test_unknown_is_never_ok() -> None:
    unknown = PrinterStatus.unknown("no answer to DLE EOT 1 within 1 s")
    assert unknown.state == "unknown" and not unknown.can_print
    assert unknown.to_health().status == "error" and "no answer" in unknown.to_health().detail
