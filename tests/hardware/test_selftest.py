"""madoguchi-selftest: passes with the shipped (simulated) defaults; names a broken device and fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from config.loader import default_config_path
from hardware.selftest import main


def test_shipped_defaults_pass(capsys) -> None:
    assert main(["--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    names = [d["device"] for d in report["devices"]]
    assert names == ["camera", "microphone", "speaker", "scanner", "printer"]
    assert all(d["result"] == "pass" for d in report["devices"])


def test_broken_camera_is_named_and_exits_non_zero(tmp_path: Path) -> None:
    config = tmp_path / "city.toml"
    config.write_text(
        default_config_path().read_text(encoding="utf-8")
        + """
[[kiosks]]
id = "kiosk-broken"
name = "故障テスト"

[kiosks.devices.camera]
driver = "real"
source = "/nonexistent.mp4"
""",
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hardware.selftest",
            "--config",
            str(config),
            "--kiosk",
            "kiosk-broken",
            "--timeout",
            "1.5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED: camera" in done.stdout
    camera_line = next(line for line in done.stdout.splitlines() if line.startswith("camera"))
    assert "FAIL" in camera_line and "/nonexistent.mp4" in camera_line
    # The other (simulated) devices still ran and passed.
    for device in ("microphone", "speaker", "scanner", "printer"):
        line = next(line for line in done.stdout.splitlines() if line.startswith(device))
        assert "PASS" in line, line


def test_unknown_kiosk_is_a_clear_error(capsys) -> None:
    assert main(["--kiosk", "no-such-kiosk"]) == 2
    assert "no-such-kiosk" in capsys.readouterr().err
