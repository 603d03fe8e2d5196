"""``madoguchi-admin config check --translations --json``: exit 0 on the shipped configuration, exit 1 with
every gap listed when a name, a phrase, a slip template or a catalog key is missing in a language."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from config.loader import DEFAULTS_DIR
from config.phrasebook import PHRASES_PATH
from config.translations import CATALOGS_DIR
from signaling_server.admin import main


def run_check(capsys, *extra: str, config: Path | None = None) -> tuple[int, dict]:
    argv = ["--config", str(config)] if config else []
    code = main([*argv, "config", "check", "--translations", "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_the_shipped_configuration_has_every_translation(capsys):
    code, result = run_check(capsys, config=DEFAULTS_DIR / "morioka.toml")
    assert (code, result) == (0, {"ok": True, "gaps": []})


def test_every_gap_is_listed_and_the_check_exits_1(capsys, tmp_path):
    config = tmp_path / "city.toml"
    text = (DEFAULTS_DIR / "morioka.toml").read_text(encoding="utf-8")
    text = text.replace('name_vi = "Ban Đăng ký Cư dân"\n', "", 1)  # 市民登録課 has no Vietnamese name
    text = text.replace(
        'name_ja_easy = "{住民票|じゅうみんひょう}の {写|うつ}しなどを もらう"',
        'name_ja_easy = "住民票の写し"',
    )
    config.write_text(text, encoding="utf-8")
    phrases = tmp_path / "phrases.toml"
    lines = PHRASES_PATH.read_text(encoding="utf-8")
    lines = lines.replace('ko = "수수료는 {fee}엔입니다."\n', "")  # fee.amount: no Korean
    lines = lines.replace(
        'zh = "请到市政府的{window}号窗口。"', 'zh = "请到市政府的窗口。"'
    )  # next.window: its parameter lost
    lines = lines.replace('qr_note = "Quét mã QR bên dưới để xem hướng dẫn thủ tục"\n', "")
    phrases.write_text(lines, encoding="utf-8")
    catalogs = tmp_path / "messages"
    shutil.copytree(CATALOGS_DIR, catalogs)
    vi = json.loads((catalogs / "vi.json").read_text(encoding="utf-8"))
    del vi["call.untranslated"]
    (catalogs / "vi.json").write_text(json.dumps(vi, ensure_ascii=False), encoding="utf-8")

    code, result = run_check(capsys, "--phrases", str(phrases), "--catalogs", str(catalogs), config=config)

    assert code == 1 and result["ok"] is False
    assert sorted((g["kind"], g["id"], g["language"]) for g in result["gaps"]) == [
        ("catalog", "call.untranslated", "vi"),
        ("department", "shimin-toroku", "vi"),
        ("phrase", "fee.amount", "ko"),
        ("phrase", "next.window", "zh"),
        ("procedure", "juminhyo", "ja-easy"),
        ("slip", "qr_note", "vi"),
    ]
    problems = {(g["kind"], g["id"]): g["problem"] for g in result["gaps"]}
    assert problems["procedure", "juminhyo"] == "kanji without a reading ({漢字|かんじ})"
    assert problems["phrase", "next.window"] == "parameters [], ja has ['window']"


def test_without_translations_the_check_only_loads_the_configuration(capsys):
    assert main(["--config", str(DEFAULTS_DIR / "morioka.toml"), "config", "check"]) == 0
    assert capsys.readouterr().out == "configuration ok\n"
