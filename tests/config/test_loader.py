"""The shipped defaults load; a wrong value names the file, the key and what is wrong."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from config import ConfigError, load_config
from config.loader import DEFAULTS_DIR
from config.schema import Audience, ProcedureSource

DEFAULTS = (DEFAULTS_DIR / "morioka.toml").read_text(encoding="utf-8")


def test_morioka_defaults():
    config = load_config(DEFAULTS_DIR / "morioka.toml")
    names = {d.name_ja for d in config.departments if d.remote}
    assert {
        "子育てあんしん課",
        "市民登録課",
        "医療助成年金課",
        "健康保険課",
        "介護保険課",
        "給排水課",
        "建築指導課",
    } <= names
    assert any(d.kind == "one_stop" for d in config.departments)
    mynaportal = [p for p in config.procedures if p.source is ProcedureSource.MYNAPORTAL_27]
    assert len(mynaportal) == 27
    by_name = {p.name_ja: p for p in config.procedures}
    assert by_name["妊娠の届出"].department == "kosodate"
    assert by_name["要介護・要支援認定の申請"].department == "kaigo-hoken"
    assert by_name["住民票の写しなどの交付請求"].convenience_store
    assert config.department("kyuhaisui").audience is Audience.BUSINESSES
    assert config.ice_servers == []  # never a public STUN server by default
    assert config.department("kosodate").hours.spans_for(dt.date(2026, 11, 26)) == [
        (dt.time(8, 30), dt.time(17, 15))
    ]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "city.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("port = 8765", "port = 99999"), "server.port"),
        (("port = 8765", "prot = 8765"), "server.prot: unknown key"),
        (
            (
                'audience = "residents"\n\n[[departments]]\nid = "shimin-toroku"',
                'audience = "citizens"\n\n[[departments]]\nid = "shimin-toroku"',
            ),
            "departments[0](id=kosodate).audience",
        ),
        (
            ('category = "子育て"\ndepartment = "kosodate"', 'category = "子育て"\ndepartment = "nowhere"'),
            "unknown department 'nowhere'",
        ),
        (
            (
                '[[appointments.departments]]\ndepartment = "kosodate"',
                '[[appointments.departments]]\ndepartment = "x"',
            ),
            "appointments name 'x', which is not a remote department",
        ),
        (('id = "kiosk-ueda"', 'id = "Kiosk Ueda"'), "kiosks[0]"),
        (("ice_servers = []", 'ice_servers = [{ urls = ["http://stun.example"] }]'), "not a stun:"),
    ],
)
def test_errors_name_file_key_and_problem(tmp_path: Path, change: tuple[str, str], expected: str):
    old, new = change
    assert old in DEFAULTS
    path = _write(tmp_path, DEFAULTS.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message


def test_bad_hours_span(tmp_path: Path):
    path = _write(
        tmp_path,
        DEFAULTS.replace(
            'audience = "residents"\n',
            'audience = "residents"\n[departments.hours]\nmon = ["17:00-08:30"]\n',
            1,
        ),
    )
    with pytest.raises(ConfigError, match="ends before it starts"):
        load_config(path)


def test_not_toml_and_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[server\nport = 1"))
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_config(tmp_path / "absent.toml")
