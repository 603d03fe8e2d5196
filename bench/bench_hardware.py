"""Hardware benchmarks: page detection + warp at 1080p, receipt job size/time, echo reduction.

    .venv/bin/python bench/bench_hardware.py [--json] [--repeat N]

Times are reported with a baseline measured on the same frame in the same run (a bare cv2.resize +
cv2.cvtColor), so the ratios mean something on any machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable

import cv2
import numpy as np

from hardware.echo import create_echo_canceller, measure_echo_reduction
from hardware.fake_escpos_printer import FakeEscposPrinter
from hardware.page_detect import detect_page, warp_to_a4
from hardware.printer import NetworkPrinter
from hardware.receipt import JST, Slip, build_slip_job, png_bytes, render_preview
from hardware.sample_form import desk_scene, render_form_page


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench_page(repeat: int) -> dict[str, float]:
    frame, truth = desk_scene(render_form_page(150), (1920, 1080))

    def baseline() -> None:
        cv2.cvtColor(cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)

    corners = detect_page(frame)
    if corners is None:
        raise RuntimeError("page not detected in the benchmark scene")
    base = median_ms(baseline, repeat)
    detect = median_ms(lambda: detect_page(frame), repeat)
    warp = median_ms(lambda: warp_to_a4(frame, corners, 200), max(3, repeat // 3))
    return {
        "frame": "1920x1080",
        "baseline_resize_cvtcolor_ms": round(base, 3),
        "detect_ms": round(detect, 3),
        "warp_a4_200dpi_ms": round(warp, 3),
        "detect_vs_baseline": round(detect / base, 2),
        "detect_plus_warp_vs_baseline": round((detect + warp) / base, 2),
        "corner_error_px": round(float(np.max(np.abs(corners - truth))), 2),
    }


STANDARD_SLIP = Slip(
    reception_number="A-012",
    department="市民登録課",
    message="住民票の写しは1階2番窓口でお受け取りください。本人確認書類をお持ちください。",
    issued_at=dt.datetime(2026, 11, 26, 14, 5, tzinfo=JST),
    qr_data="https://www.city.morioka.iwate.jp/kurashi/todokede/1009403.html",
)


async def _print_once(printer: NetworkPrinter) -> None:
    result = await printer.print_slip(STANDARD_SLIP)
    if not result.ok:
        raise RuntimeError(f"benchmark print failed: {result.detail}")


def bench_printer(repeat: int) -> dict[str, float]:
    job = build_slip_job(STANDARD_SLIP)
    build = median_ms(lambda: build_slip_job(STANDARD_SLIP), repeat)
    preview = median_ms(lambda: png_bytes(render_preview(STANDARD_SLIP)), repeat)

    async def end_to_end() -> float:
        async with FakeEscposPrinter("ok") as fake:
            printer = NetworkPrinter(fake.address)
            await _print_once(printer)
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                await _print_once(printer)
                times.append((time.perf_counter() - start) * 1000)
            return statistics.median(times)

    return {
        "job_bytes": len(job),
        "build_job_ms": round(build, 2),
        "preview_png_ms": round(preview, 2),
        "print_over_loopback_ms": round(asyncio.run(end_to_end()), 2),
        "note": "loopback print = connect + DLE EOT 1-4 + job + DLE EOT 1-4 to the fake Epson printer",
    }


def bench_echo() -> dict[str, object]:
    canceller, detail = create_echo_canceller(True)
    if canceller is None:
        return {"available": False, "detail": detail}
    seconds = 6.0
    erle = measure_echo_reduction(canceller, seconds=seconds, settle_s=3.0)
    cpu = canceller.last_run_s
    return {
        "available": True,
        "echo_reduction_db": round(erle, 1),
        "processing_time_per_audio_second": round(cpu / seconds, 4),
        "signal": "6 s modulated noise, 30 ms delay, 4-tap room response, last 3 s measured",
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    results = {
        "page_detection": bench_page(args.repeat),
        "printer": bench_printer(args.repeat),
        "echo": bench_echo(),
    }
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for section, values in results.items():
            print(section)
            for key, value in values.items():
                print(f"  {key:<36} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
