"""``madoguchi-kiosk``: the resident's touchscreen app.

    madoguchi-kiosk --server wss://madoguchi.city.local/ws --kiosk-id kiosk-ueda \
        --token-file /etc/madoguchi/token

Exit codes: 0 after the IT exit (corner long-press + PIN), 75 when an administrator asked for a restart
(the systemd unit restarts the app), 2 for bad arguments. Screenshots of every screen are a developer
command: ``madoguchi-screenshots kiosk DIR`` (``devtools``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from config.client_urls import client_urls, split_server_urls
from config.loader import ConfigError, load_config
from config.schema import AppConfig
from remote_call.signaling_client import client_ssl_context

log = logging.getLogger("kiosk_client")

EXIT_RESTART = 75


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="madoguchi-kiosk", description="Remote Madoguchi resident kiosk")
    parser.add_argument(
        "--server",
        help="signaling server websocket URL, e.g. wss://host/ws; several nodes comma-separated "
        "(default: server.urls in the config)",
    )
    parser.add_argument("--kiosk-id", default=None, help="this kiosk's id in the config (e.g. kiosk-ueda)")
    parser.add_argument("--token-file", type=Path, help="file holding this kiosk's device token")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="city config TOML (default: MADOGUCHI_CONFIG or the shipped Morioka defaults)",
    )
    parser.add_argument(
        "--windowed", action="store_true", help="a normal window instead of kiosk full screen"
    )
    parser.add_argument(
        "--ca-file", type=Path, help="the city CA certificate (PEM) the server's must chain to"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    missing = [
        flag
        for flag, value in (
            ("--kiosk-id", args.kiosk_id),
            ("--token-file", args.token_file),
        )
        if not value
    ]
    if missing:
        parser.error(f"{', '.join(missing)} required")
    try:
        if args.server:
            split_server_urls(args.server)  # wss://, or ws:// to this machine only
    except ValueError as exc:
        parser.error(f"--server: {exc}")
    if args.ca_file is not None and not args.ca_file.is_file():
        parser.error(f"--ca-file: no such file {str(args.ca_file)!r}")
    return args


def read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SystemExit(f"madoguchi-kiosk: cannot read the token file {path}: {exc.strerror}") from None
    if len(token) < 16:
        raise SystemExit(f"madoguchi-kiosk: the token file {path} does not hold a device token (too short)")
    return token


def load(args: argparse.Namespace) -> AppConfig:
    try:
        return load_config(args.config)
    except ConfigError as exc:
        raise SystemExit(f"madoguchi-kiosk: {exc}") from None
    except OSError as exc:
        raise SystemExit(f"madoguchi-kiosk: cannot read the config {args.config}: {exc.strerror}") from None


# ---------------------------------------------------------------------------------------------- the app


async def run_kiosk(args: argparse.Namespace, config: AppConfig) -> int:
    from hardware.devices import KioskDevices
    from kiosk_client.controller import KioskController
    from kiosk_client.view.window import KioskWindow

    try:
        kiosk = config.kiosk(args.kiosk_id)
    except KeyError:
        known = ", ".join(k.id for k in config.kiosks) or "(none)"
        raise SystemExit(
            f"madoguchi-kiosk: kiosk {args.kiosk_id!r} is not in the config; known: {known}"
        ) from None
    if not args.windowed and config.kiosk_app.exit_pin is None:
        raise SystemExit(
            "madoguchi-kiosk: no exit PIN: set kiosk_app.exit_pin (4-12 digits) when provisioning this kiosk;"
            " kiosk mode without one could not be left by IT staff (nothing is shipped as a default)"
        )
    try:
        urls = client_urls(args.server, config.server.urls)
    except ValueError as exc:
        raise SystemExit(f"madoguchi-kiosk: {exc}") from None
    token = read_token(args.token_file)
    devices = await KioskDevices.open(kiosk.devices, kiosk.name)
    tls = client_ssl_context(args.ca_file) if args.ca_file else None  # else the system's trust store
    controller = KioskController(
        urls, args.kiosk_id, token, devices, config=config, config_path=args.config, ssl_context=tls
    )
    window = KioskWindow(controller, kiosk_mode=not args.windowed)
    if args.windowed:
        window.show()
    else:
        window.showFullScreen()
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_event(event: str, _data: dict) -> None:
        if event == "exit_requested" and not done.done():
            done.set_result(0)
        elif event == "restart_requested" and not done.done():
            done.set_result(EXIT_RESTART)

    controller.events.subscribe(on_event)
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if not done.done():
            done.set_result(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        # Windows / no signal support: the IT exit still works
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
    controller.start_background()
    code = await done
    window.shutdown()
    window.close()
    await controller.stop()
    await devices.close()
    return code


GIL_SWITCH_INTERVAL_S = 0.001  # see docs/kiosk.md: the UI thread gets the GIL back from media threads sooner


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = load(args)
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName("madoguchi-kiosk")
    app.setQuitOnLastWindowClosed(False)  # closing the window must not stop the loop before the cleanup
    return qasync.run(run_kiosk(args, config))


if __name__ == "__main__":
    sys.exit(main())
