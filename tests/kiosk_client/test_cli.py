"""The madoguchi-kiosk command: argument errors, the token file, and screenshot rendering."""

from __future__ import annotations

import pytest
from PIL import Image

from config.loader import load_config
from kiosk_client import cli


def test_arguments_are_checked_with_clear_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(["--server", "ws://h/ws"])
    assert "--kiosk-id, --token-file required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.parse_args(["--server", "http://h", "--kiosk-id", "k", "--token-file", "t"])
    assert "ws:// or wss://" in capsys.readouterr().err
    args = cli.parse_args(["--screenshots", str(tmp_path)])
    assert args.screenshots == tmp_path and args.server is None


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
    import kiosk_client.demo as demo
    import kiosk_client.i18n as i18n

    monkeypatch.setattr(demo, "STAGES", ("welcome", "in_call_scan_done", "after_call"))
    monkeypatch.setattr(i18n, "LANGUAGES", ("ja", "vi"))
    paths = await cli.render_screenshots(load_config(), tmp_path)
    assert len(paths) == 3 * 2 * 2
    assert {p.parent.parent.name for p in paths} == {"normal", "high_contrast"}
    for path in paths:
        with Image.open(path) as image:
            assert image.size == (1920, 1080)
            assert len(image.getcolors(1 << 20) or []) > 50  # a real screen, not a blank one
    # High contrast really is dark: the welcome background is black.
    with Image.open(tmp_path / "high_contrast" / "ja" / "00-welcome.png") as image:
        assert image.convert("L").getpixel((960, 1000)) < 30
