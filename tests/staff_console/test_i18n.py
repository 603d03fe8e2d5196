"""Message catalogs: ja and en have the same keys and fields, and every key the code uses exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

import staff_console
from staff_console.i18n import Messages, MissingMessage, load_catalog
from staff_console.view import fmt

SOURCE = Path(staff_console.__file__).parent


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogs_have_the_same_keys_and_fields():
    ja, en = load_catalog("ja"), load_catalog("en")
    assert set(ja) == set(en), f"only ja: {set(ja) - set(en)}; only en: {set(en) - set(ja)}"
    for key in ja:
        assert ja[key].strip() and en[key].strip(), key
        assert _fields(ja[key]) == _fields(en[key]), key


def test_every_key_used_in_the_code_exists():
    keys = set(load_catalog("ja"))
    used: set[str] = set()
    prefixes: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\("([a-z][a-z0-9_.]+)"', text))
        used |= set(re.findall(r'_button\("([a-z][a-z0-9_.]+)"', text))
        prefixes |= set(re.findall(r'\bt\(f"([a-z][a-z0-9_]*\.)\{', text))
    assert len(used) > 100
    assert sorted(used - keys) == []
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in keys), prefix
    # the dynamic families are complete
    for family, values in (
        ("lang.", fmt.LANGUAGES),
        ("a11y.", fmt.ACCESSIBILITY),
        ("away.", ("break", "counter", "meeting")),
        ("state.", ("offline", "available", "ringing", "in_call", "wrap_up", "away")),
        ("outcome.", ("resolved", "visit_city_hall", "transferred", "appointment_made", "other")),
        ("scan.", ("placing", "hold_still", "scanning", "sending", "done", "failed", "cancelled")),
        ("reason.", fmt.SERVER_REASONS),
        ("ring.withdrawn_", ("answered_elsewhere", "timeout", "caller_left", "declined")),
    ):
        for value in values:
            assert family + value in keys, family + value


def test_strict_messages_refuse_a_missing_key_and_lenient_fall_back():
    with pytest.raises(MissingMessage, match=r"no\.such\.key"):
        Messages("ja", strict=True)("no.such.key")
    assert Messages("en")("ring.accept") == "Answer"
    assert Messages("ja")("time.minutes", m=2, s=5) == "2分5秒"
    with pytest.raises(ValueError, match="no console messages for language 'fr'"):
        Messages("fr")
