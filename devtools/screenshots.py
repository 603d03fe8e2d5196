"""``madoguchi-screenshots``: every screen of the kiosk or the console rendered to PNG, for reviews and docs.

    madoguchi-screenshots kiosk shots/kiosk [--config PATH] [--kiosk-id kiosk-ueda]
        # 20 screens x 6 languages x 2 themes from simulated sessions, no server; prints a JSON summary
    madoguchi-screenshots console shots/console [--config PATH]
        # a real simulated call through an embedded server; prints each file written

Rendered off screen when there is no display (the console always: identical with or without one).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from config.loader import ConfigError, load_config
from config.schema import AppConfig

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="madoguchi-screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("app", choices=("kiosk", "console"), help="which application's screens")
    parser.add_argument("directory", type=Path, metavar="DIR", help="where the PNG files go")
    parser.add_argument("--config", type=Path, help="city configuration (TOML); default: shipped Morioka")
    parser.add_argument("--kiosk-id", default="kiosk-ueda", help="the kiosk whose screen size is used")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def load(path: Path | None) -> AppConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise SystemExit(f"madoguchi-screenshots: {exc}") from None
    except OSError as exc:
        raise SystemExit(f"madoguchi-screenshots: cannot read the configuration: {exc}") from None


def kiosk(args: argparse.Namespace, config: AppConfig) -> int:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync

    from devtools.kiosk_shots import render_screenshots

    _application("madoguchi-kiosk")
    started = time.perf_counter()
    paths = qasync.run(render_screenshots(config, args.directory, args.kiosk_id))
    seconds = round(time.perf_counter() - started, 1)
    print(json.dumps({"screenshots": len(paths), "directory": str(args.directory), "seconds": seconds}))
    return 0


def console(args: argparse.Namespace, config: AppConfig) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import asyncio

    import qasync

    from devtools.console_shots import render_all
    from staff_console.view.style import apply_style
    from staff_console.view.tasks import use_thread_pool_executor

    apply_style(_application("madoguchi-console"))

    async def render() -> list[Path]:
        use_thread_pool_executor(asyncio.get_running_loop())  # see docs/console.md: qasync's executor
        return await render_all(args.directory, config)

    for path in qasync.run(render()):
        print(path)
    return 0


def _application(name: str) -> QApplication:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName(name)
    app.setQuitOnLastWindowClosed(False)  # closing a window must not stop the loop before the cleanup
    return app


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = load(args.config)
    try:
        return kiosk(args, config) if args.app == "kiosk" else console(args, config)
    except OSError as exc:
        raise SystemExit(f"madoguchi-screenshots: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
