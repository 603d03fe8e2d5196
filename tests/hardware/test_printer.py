"""Receipt printing against a fake Epson printer on loopback TCP: bytes decoded back, every status answer."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
from PIL import Image

from hardware.escpos_parse import parse, qr_payloads, raster_images_stacked
from hardware.fake_escpos_printer import FakeEscposPrinter, FakeSerialPrinter
from hardware.printer import EscposDevicePrinter, NetworkPrinter, PrinterError, SimulatedPrinter
from hardware.receipt import JST, Slip, build_slip_job, png_bytes, render_preview, render_slip_body

SLIP = Slip(
    reception_number="A-012",
    department="市民登録課",
    message="住民票の写しは1階2番窓口でお受け取りください。本人確認書類をお持ちください。",
    issued_at=dt.datetime(2026, 11, 26, 14, 5, tzinfo=JST),
    qr_data="https://www.city.morioka.iwate.jp/kurashi/todokede/1009403.html",
)


def bits(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("1"), dtype=bool)


async def test_printed_raster_equals_the_rendered_png_and_qr_is_native() -> None:
    async with FakeEscposPrinter("ok") as fake:
        printer = NetworkPrinter(fake.address, width_px=512, status_timeout_s=1.0)
        result = await printer.print_slip(SLIP)
        assert result.ok and result.sent and result.confirmed, result
        assert result.bytes_sent > 0
        assert printer.health().status == "ok"
    data = bytes(fake.received)
    commands, used = parse(data)
    assert used == len(data)
    # The rendered body, as a PNG (what the preview shows), decodes to exactly the printed raster.
    rendered = Image.open(io.BytesIO(png_bytes(render_slip_body(SLIP, 512))))
    printed = raster_images_stacked(commands)
    assert printed is not None and printed.size == rendered.size == (512, rendered.height)
    assert np.array_equal(bits(printed), bits(rendered))
    assert np.mean(~bits(printed)) > 0.02  # it actually has ink on it
    # The QR code went as GS ( k with the slip's data; no Japanese text went as (GB18030) text.
    assert qr_payloads(commands) == [SLIP.qr_data.encode()]
    assert not any(c.name == "text" and c.payload.strip(b"\n") for c in commands)
    assert [c.name for c in commands].count("GS V") == 1  # one cut
    # Status was queried before and after the job (DLE EOT 1..4 twice).
    assert fake.status_queries == [1, 2, 3, 4, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("mode", "state", "health", "printed"),
    [
        ("ok", "ok", "ok", True),
        ("near_end", "paper_near_end", "degraded", True),
        ("paper_out", "paper_out", "error", False),
        ("cover_open", "cover_open", "error", False),
        ("silent", "unknown", "error", True),
    ],
)
async def test_every_status_answer(mode: str, state: str, health: str, printed: bool) -> None:
    async with FakeEscposPrinter(mode) as fake:  # type: ignore[arg-type]
        printer = NetworkPrinter(fake.address, status_timeout_s=0.2)
        status = await printer.status()
        assert status.state == state
        assert printer.health().status == health
        if mode == "silent":
            assert not status.answered and "no answer" in status.detail and status.online is None
        result = await printer.print_slip(SLIP)
        assert result.sent is printed
        # Only a printer that answered "fine" afterwards counts as printed OK; silence is never OK.
        assert result.ok is (mode in ("ok", "near_end"))
        if not printed:
            assert fake.jobs_cut == 0 and "not printed" in result.detail
        if mode == "silent":
            assert fake.jobs_cut == 1 and "did not confirm" in result.detail


async def test_unreachable_printer_is_named_and_unknown() -> None:
    async with FakeEscposPrinter("ok") as fake:
        address = fake.address
    printer = NetworkPrinter(address, status_timeout_s=0.2, connect_timeout_s=1.0)  # nothing listens now
    status = await printer.status()
    assert status.state == "unknown" and address in status.detail
    result = await printer.print_slip(SLIP)
    assert not result.sent and not result.ok
    assert printer.health().status == "error"
    with pytest.raises(PrinterError, match="host:port"):
        NetworkPrinter("printer:notaport")


async def test_file_printer_prints_but_cannot_read_status(tmp_path) -> None:
    target = tmp_path / "lp0"
    printer = EscposDevicePrinter("file", str(target))
    result = await printer.print_slip(SLIP)
    await printer.close()
    assert result.sent and not result.ok and "unknown" in result.detail
    assert target.read_bytes() == build_slip_job(SLIP)
    assert printer.health().status == "degraded"


async def test_simulated_printer_keeps_the_last_slip_in_memory() -> None:
    printer = SimulatedPrinter()
    result = await printer.print_slip(SLIP)
    assert result.ok
    preview = Image.open(io.BytesIO(printer.last_png))
    assert preview.format == "PNG"
    assert np.array_equal(bits(preview), bits(render_preview(SLIP)))
    assert qr_payloads(parse(printer.last_job)[0]) == [SLIP.qr_data.encode()]
    out = SimulatedPrinter(mode="paper_out")
    assert not (await out.print_slip(SLIP)).sent and out.health().status == "error"


@pytest.mark.parametrize("mode", ["ok", "paper_out", "silent"])
async def test_serial_printer_over_a_pseudo_terminal(mode: str) -> None:
    """python-escpos' Serial transport (pyserial) talking to the fake printer behind a pty."""
    pytest.importorskip("serial", reason="pyserial is not installed")
    with FakeSerialPrinter(mode) as fake:  # type: ignore[arg-type]
        printer = EscposDevicePrinter("serial", f"{fake.port}@38400", status_timeout_s=0.3)
        try:
            result = await printer.print_slip(SLIP)
        finally:
            await printer.close()
    expected = {
        "ok": ("ok", True, True),
        "paper_out": ("paper_out", False, False),
        "silent": ("unknown", True, False),
    }[mode]
    assert result.status_before.state == expected[0]
    assert (result.sent, result.ok) == expected[1:]
    if result.sent:
        commands, _ = parse(bytes(fake.received))
        printed = raster_images_stacked(commands)
        assert printed is not None and np.array_equal(bits(printed), bits(render_slip_body(SLIP)))
        assert qr_payloads(commands) == [SLIP.qr_data.encode()]
