"""The madoguchi-kiosk command: argument errors and the token file; and the developer command
``madoguchi-screenshots kiosk`` rendering every screen."""

from __future__ import annotations

import pytest
from PIL import Image

from config.loader import load_config
from devtools import screenshots
from devtools.kiosk_shots import render_screenshots
from kiosk_client import cli


def test_arguments_are_checked_with_clear_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["--server", "ws://h/ws"])
    assert "--kiosk-id, --token-file required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.parse_args(["--server", "http://h", "--kiosk-id", "k", "--token-file", "t"])
    assert "ws:// or wss://" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.parse_args(["--screenshots", str(tmp_path)])  # a developer command now, not the kiosk's
    args = screenshots.parse_args(["kiosk", str(tmp_path)])
    assert args.app == "kiosk" and args.directory == tmp_path and args.kiosk_id == "kiosk-ueda"


def test_token_file_must_hold_a_token(tmp_path):
    with pytest.raises(SystemExit, match="cannot read the token file"):
        cli.read_token(tmp_path / "missing")
    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(SystemExit, match="too short"):
        cli.read_token(short)
    good = tmp_path / "good"
    good.write_text("  " + "t" * 32 + "\n")
    assert cli.read_token(good) == "t" * 32


async def test_screenshots_render_every_stage_to_png(tmp_path, monkeypatch):
    import devtools.kiosk_demo as demo
    import kiosk_client.i18n as i18n

    monkeypatch.setattr(demo, "STAGES", ("welcome", "in_call_scan_done", "after_call"))
    monkeypatch.setattr(i18n, "LANGUAGES", ("ja", "vi"))
    paths = await render_screenshots(load_config(), tmp_path)
    assert len(paths) == 3 * 2 * 2
    assert {p.parent.parent.name for p in paths} == {"normal", "high_contrast"}
    for path in paths:
        with Image.open(path) as image:
            assert image.size == (1920, 1080)
            assert len(image.getcolors(1 << 20) or []) > 50  # a real screen, not a blank one
    # High contrast really is dark: the welcome background is black.
    with Image.open(tmp_path / "high_contrast" / "ja" / "00-welcome.png") as image:
        assert image.convert("L").getpixel((960, 1000)) < 30
