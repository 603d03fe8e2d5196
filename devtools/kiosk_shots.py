"""``madoguchi-screenshots kiosk DIR``: every kiosk screen (``devtools.kiosk_demo.STAGES``) in every language
and both themes, rendered to DIR/<theme>/<language>/NN-<stage>.png by the real window, no server needed."""

from __future__ import annotations

from pathlib import Path

from config.schema import AppConfig
from devtools import kiosk_demo
from devtools.qt_settle import settle
from kiosk_client import i18n


async def render_screenshots(config: AppConfig, directory: Path, kiosk_id: str = "kiosk-ueda") -> list[Path]:
    from kiosk_client.view.window import KioskWindow

    controller = kiosk_demo.demo_controller(config, kiosk_id)
    window = KioskWindow(controller)
    window.show()
    paths: list[Path] = []
    try:
        for theme in ("normal", "high_contrast"):
            for lang in i18n.LANGUAGES:
                folder = directory / theme / lang
                folder.mkdir(parents=True, exist_ok=True)
                for index, name in enumerate(kiosk_demo.STAGES):
                    window.frozen = True
                    await kiosk_demo.stage(controller, name, lang)
                    controller.resident.high_contrast = theme == "high_contrast"
                    window.frozen = False
                    kiosk_demo.view_stage(window, name)
                    await settle(window)  # Qt's deferred shows and layouts, before the grab
                    window.refresh()
                    await settle(window)  # the layout of the texts the refresh set
                    await window.flush_video()
                    path = folder / f"{index:02d}-{name}.png"
                    if not window.grab().save(str(path)):
                        raise OSError(f"could not write {path}")
                    paths.append(path)
    finally:
        window.shutdown()
        window.close()
        await controller.reset()
    return paths
