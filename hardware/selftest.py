"""madoguchi-selftest: try every configured device of one kiosk and say plainly what works.

    madoguchi-selftest                      # default config, first kiosk
    madoguchi-selftest --config city.toml --kiosk kiosk-ueda --json

Grabs a camera frame, records one second and reports the level, plays a chime, scans a page and prints a
test slip. Exit status 0 only when every configured device passed (absent devices are not failures).
Scans and recordings stay in memory and are discarded.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from config.loader import ConfigError, load_config
from config.schema import DevicesConfig
from hardware.audio import Microphone, dbfs
from hardware.camera import CameraTrack
from hardware.devices import KioskDevices
from hardware.receipt import JST, Slip
from hardware.speaker import Speaker, chime


@dataclass(frozen=True)
class CheckResult:
    device: str
    driver: str
    result: str  # "pass", "fail" or "absent"
    detail: str
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


async def _check_camera(devices: KioskDevices, timeout: float) -> str:
    track = devices.camera_track()
    try:

        async def first_live_frame():
            while True:
                frame = await track.recv()
                if not getattr(track, "showing_unavailable", False):
                    return frame

        try:
            frame = await asyncio.wait_for(first_live_frame(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"no picture within {timeout:g} s: {devices.health()['camera'].detail}"
            ) from None
        kind = "camera" if isinstance(track, CameraTrack) else "test pattern"
        return f"{frame.width}x{frame.height} frame from the {kind}"
    finally:
        track.stop()


async def _check_microphone(devices: KioskDevices, timeout: float) -> str:
    mic = devices.microphone
    assert mic is not None
    before = 0
    if isinstance(mic, Microphone):
        # A device may take a moment to start delivering; wait for its first block (bounded), then record.
        probe = mic.track()
        first = mic.blocks_delivered

        async def started() -> None:
            while mic.blocks_delivered == first:
                await probe.recv()

        try:
            await asyncio.wait_for(started(), timeout)
        except TimeoutError:
            raise AssertionError(f"no audio within {timeout:g} s: {mic.health().detail}") from None
        finally:
            probe.stop()
        before = mic.blocks_delivered
    samples = await mic.record(1.0, timeout=timeout)
    if isinstance(mic, Microphone):
        got = mic.blocks_delivered - before
        if got < 25:  # less than half a second of real device audio
            raise AssertionError(f"only {got * 20} ms of audio in 1 s: {mic.health().detail}")
    return f"1 s recorded, level {dbfs(samples):.1f} dBFS (meter {devices.input_level():.2f})"


async def _check_speaker(devices: KioskDevices, timeout: float) -> str:
    speaker = devices.speaker
    assert speaker is not None
    sound = chime()
    before = speaker.samples_played
    await speaker.play(sound, timeout=timeout)
    played = speaker.samples_played - before
    if isinstance(speaker, Speaker) and played < sound.size:
        raise AssertionError(f"the device took only {played} of {sound.size} samples")
    return f"chime played ({sound.size / 48_000:.2f} s)"


async def _check_scanner(devices: KioskDevices, timeout: float) -> str:
    page = await asyncio.wait_for(devices.scanner.scan(), max(timeout, 60))
    return f"{page.width}x{page.height} at {page.dpi} dpi, {len(page.data) // 1024} KB {page.format}"


async def _check_printer(devices: KioskDevices, timeout: float) -> str:
    slip = Slip(
        "TEST",
        "セルフテスト",
        message="プリンターの動作確認です。",
        issued_at=dt.datetime.now(JST),
        qr_data="madoguchi-selftest",
    )
    result = await asyncio.wait_for(devices.printer.print_slip(slip), timeout + 10)
    if not result.ok:
        raise AssertionError(result.detail)
    return f"test slip printed ({result.bytes_sent} bytes), {result.status_after.describe()}"


CHECKS: tuple[tuple[str, str, Callable[[KioskDevices, float], Awaitable[str]]], ...] = (
    ("camera", "camera", _check_camera),
    ("microphone", "audio", _check_microphone),
    ("speaker", "audio", _check_speaker),
    ("scanner", "scanner", _check_scanner),
    ("printer", "printer", _check_printer),
)


async def run_selftest(config: DevicesConfig, label: str, timeout: float = 5.0) -> list[CheckResult]:
    devices = await KioskDevices.open(config, label)
    results: list[CheckResult] = []
    try:
        for name, section, check in CHECKS:
            driver = str(getattr(config, section).driver)
            started = time.monotonic()
            if driver == "none":
                results.append(CheckResult(name, driver, "absent", "not configured", 0.0))
                continue
            try:
                detail = await check(devices, timeout)
                health = devices.health()[name]
                if health.status == "error":
                    raise AssertionError(health.detail)
                result = "pass"
                if health.status == "degraded":
                    detail += f" (degraded: {health.detail})"
            except Exception as exc:  # one broken device never stops the others
                result = "fail"
                detail = str(exc) or type(exc).__name__
            results.append(CheckResult(name, driver, result, detail, round(time.monotonic() - started, 2)))
    finally:
        await devices.close()
    return results


def format_table(kiosk_id: str, label: str, results: list[CheckResult]) -> str:
    lines = [f"Self-test of kiosk {kiosk_id} ({label})", ""]
    lines.append(f"{'DEVICE':<11} {'DRIVER':<10} {'RESULT':<7} DETAIL")
    for r in results:
        lines.append(f"{r.device:<11} {r.driver:<10} {r.result.upper():<7} {r.detail}")
    failed = [r.device for r in results if r.result == "fail"]
    lines.append("")
    lines.append(f"FAILED: {', '.join(failed)}" if failed else "All configured devices passed.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="madoguchi-selftest", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", help="configuration file (default: $MADOGUCHI_CONFIG or the shipped one)")
    parser.add_argument("--kiosk", help="kiosk id (default: the first kiosk in the file)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per device (default 5)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not config.kiosks:
        print("the configuration defines no kiosks", file=sys.stderr)
        return 2
    if args.kiosk:
        try:
            kiosk = config.kiosk(args.kiosk)
        except KeyError:
            known = ", ".join(k.id for k in config.kiosks)
            print(f"no kiosk {args.kiosk!r} in the configuration (kiosks: {known})", file=sys.stderr)
            return 2
    else:
        kiosk = config.kiosks[0]
    results = asyncio.run(run_selftest(kiosk.devices, kiosk.name, args.timeout))
    ok = all(r.result != "fail" for r in results)
    if args.json:
        print(
            json.dumps(
                {"kiosk": kiosk.id, "name": kiosk.name, "ok": ok, "devices": [r.to_dict() for r in results]},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        print(format_table(kiosk.id, kiosk.name, results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
