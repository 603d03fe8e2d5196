"""The command line: arguments, the password file, and the screenshot mode rendering every screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from config.loader import load_config
from devtools.console_shots import render_all
from staff_console import cli
from staff_console.samples import form_page, sample_form_png
from staff_console.view.ringer import Ringer


def test_arguments_are_checked_with_clear_errors(capsys):
    for argv, message in (
        (["--server", "http://x/ws"], "must be a ws:// or wss:// URL"),
        (["--server", "ws://x/ws", "--password-file", "p"], "--password-file needs --username"),
    ):
        with pytest.raises(SystemExit):
            cli.parse_args(argv)
        assert message in capsys.readouterr().err
    args = cli.parse_args(["--server", "wss://host/ws", "--username", "hanako", "--password-file", "/p"])
    assert args.server == "wss://host/ws" and args.role == "officer"


def test_password_file(tmp_path: Path):
    path = tmp_path / "pw"
    path.write_text("correct horse battery\nignored\n", encoding="utf-8")
    assert cli.read_password(path) == "correct horse battery"
    path.write_text("", encoding="utf-8")
    with pytest.raises(SystemExit, match="is empty"):
        cli.read_password(path)
    with pytest.raises(SystemExit, match="cannot read the password file"):
        cli.read_password(tmp_path / "missing")


def test_sample_form_is_a_japanese_png_in_memory():
    data = sample_form_png()
    image = Image.open(__import__("io").BytesIO(data))
    assert image.format == "PNG" and image.size == (1000, 1414)
    # the form has ink (text and boxes) and the red 記入例 stamp
    pixels = image.convert("RGB").get_flattened_data()
    assert sum(1 for r, g, b in pixels if r < 100 and g < 100 and b < 100) > 5000
    assert sum(1 for r, g, b in pixels if r > 180 and g < 130 and b < 130) > 1000
    with pytest.raises(ValueError, match="at least 200x280"):
        form_page(100, 100)


def test_ringer_rings_until_stopped(qapp):
    ringer = Ringer(use_sound_device=False)
    assert ringer.backend == "beep" and not ringer.playing
    ringer.start()
    assert ringer.playing and ringer.rings == 1
    ringer.stop()
    assert not ringer.playing


async def test_screenshot_mode_renders_every_screen(tmp_path: Path):
    """Every console screen renders, and on each no label or button has text clipped, elided or sticking
    out of its box (devtools.text_fit, the kiosk's check; its test shows it fails on such text)."""
    problems: list[str] = []
    written = await render_all(tmp_path, load_config(), problems)
    assert problems == []
    names = [p.name.split("-", 1)[1] for p in written]
    assert names == [
        "sign-in-en.png",
        "sign-in.png",
        "desk-available.png",
        "desk-away.png",
        "ring.png",
        "call-chat.png",
        "scan-viewer.png",
        "scan-viewer-rotated.png",
        "scan-viewer-saved.png",
        "call-documents.png",
        "call-slip.png",
        "call-transfer.png",
        "call-end.png",
        "call-transfer-pending.png",
        "ring-transferred.png",
        "desk-wrap-up.png",
        "call-after-transfer.png",
        "desk-after-call.png",
        "history.png",
        "board-officer.png",
        "supervisor.png",
    ]
    for path in written:
        with Image.open(path) as image:
            assert image.width >= 800 and image.height >= 600
            assert len(set(image.convert("L").resize((64, 64)).get_flattened_data())) > 4  # not a blank page
