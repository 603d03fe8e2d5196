"""``madoguchi-console``: the officer / supervisor console.

    madoguchi-console --server wss://madoguchi.example/ws [--username U] [--password-file PATH]
                      [--config PATH] [--language ja|en] [--role officer|supervisor]

Without both a user name and a password file the console opens on its sign-in page. The password file must
hold the password on its first line; the password is never taken on the command line (it would show in the
process list and shell history). Screenshots of every screen are a developer command:
``madoguchi-screenshots console DIR`` (``devtools``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from config.client_urls import client_urls, split_server_urls
from config.loader import ConfigError, load_config
from config.schema import AppConfig
from remote_call.signaling_client import client_ssl_context

log = logging.getLogger(__name__)
T = TypeVar("T")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="madoguchi-console", description="Remote counter staff console")
    parser.add_argument(
        "--server",
        help="signaling server websocket URL, e.g. wss://host/ws; several nodes comma-separated "
        "(default: server.urls in the config)",
    )
    parser.add_argument("--username", help="sign in as this user")
    parser.add_argument("--password-file", type=Path, help="file whose first line is the password")
    parser.add_argument(
        "--role",
        choices=("officer", "supervisor", "interpreter"),
        default="officer",
        help="interpreter: the interpreter mode (its sign-in page, or --username and --password-file)",
    )
    parser.add_argument("--config", type=Path, help="city configuration (TOML); default: shipped Morioka")
    parser.add_argument("--language", choices=("ja", "en"), default="ja")
    parser.add_argument(
        "--media",
        choices=("devices", "simulated"),
        default="devices",
        help="the officer's camera and headset, or a test pattern and a tone (demos)",
    )
    parser.add_argument("--camera", default="0", help="camera index, device path or video file (default 0)")
    parser.add_argument("--audio-in", help="microphone (sounddevice name); default: the system's")
    parser.add_argument("--audio-out", help="speaker or headset (sounddevice name); default: the system's")
    parser.add_argument("--ca-file", type=Path, help="the city CA certificate (PEM) for the server's")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.password_file is not None and not args.username:
        parser.error("--password-file needs --username")
    try:
        if args.server:
            split_server_urls(args.server)  # wss://, or ws:// to this machine only
    except ValueError as exc:
        parser.error(f"--server: {exc}")
    return args


def read_password(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"madoguchi-console: cannot read the password file {path}: {exc.strerror}") from None
    password = text.splitlines()[0] if text else ""
    if not password:
        raise SystemExit(f"madoguchi-console: the password file {path} is empty")
    return password


def load(args: argparse.Namespace) -> AppConfig:
    try:
        return load_config(args.config) if args.config else load_config()
    except ConfigError as exc:
        raise SystemExit(f"madoguchi-console: {exc}") from None
    except OSError as exc:
        raise SystemExit(f"madoguchi-console: cannot read the configuration: {exc}") from None


async def run_console(args: argparse.Namespace, config: AppConfig) -> int:
    from hardware.simulated import SimulatedMedia
    from staff_console.controller import ConsoleController
    from staff_console.directory import Directory
    from staff_console.i18n import Messages
    from staff_console.media import ConsoleMedia
    from staff_console.view.window import ConsoleWindow

    devices = None
    if args.media == "devices":
        from staff_console.devices import DeviceMedia

        devices = await DeviceMedia(args.camera, args.audio_in, args.audio_out).start()
        media = ConsoleMedia(devices)
    else:
        media = ConsoleMedia(SimulatedMedia("console", 640, 480, 15, 0.0))
    if args.role == "interpreter":
        from staff_console.view.interpreter import run_interpreter

        tls = client_ssl_context(args.ca_file) if args.ca_file else None
        password = read_password(args.password_file) if args.username and args.password_file else None
        return await run_interpreter(
            args.urls, args.username or "", password, media, Messages(args.language), tls
        )

    def make(username: str, password: str, role: str) -> ConsoleController:
        tls = client_ssl_context(args.ca_file) if args.ca_file else None
        return ConsoleController(
            args.urls, username, password, media, role=role, config=config, ssl_context=tls
        )

    window = ConsoleWindow(
        Messages(args.language),
        server_url=args.urls,
        directory=Directory(config),
        make_controller=make,
        username=args.username or "",
    )
    window.sign_in.role.setCurrentIndex(window.sign_in.role.findData(args.role))
    closed = asyncio.get_running_loop().create_future()
    window.closed.connect(lambda: None if closed.done() else closed.set_result(None))
    window.show()
    if args.username and args.password_file:
        window.sign_in.username.setText(args.username)
        window.sign_in.password.setText(read_password(args.password_file))
        window.sign_in.button.click()
    await closed
    await window.shutdown()
    if devices is not None:
        await devices.close()
    return 0


async def _with_executor(coro: Coroutine[Any, Any, T]) -> T:
    from staff_console.view.tasks import use_thread_pool_executor

    use_thread_pool_executor(asyncio.get_running_loop())
    return await coro


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = load(args)
    try:
        args.urls = client_urls(args.server, config.server.urls)
    except ValueError as exc:
        raise SystemExit(f"madoguchi-console: {exc}") from None
    import qasync
    from PySide6.QtWidgets import QApplication

    from staff_console.view.style import apply_style

    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    apply_style(app)
    # The window's close ends run_console(), which then signs out cleanly; Qt must not stop the loop first.
    app.setQuitOnLastWindowClosed(False)
    return qasync.run(_with_executor(run_console(args, config)))


if __name__ == "__main__":
    sys.exit(main())
