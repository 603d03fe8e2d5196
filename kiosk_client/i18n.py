"""Message catalogs: every string the kiosk shows, in six languages (kiosk_client/messages/<lang>.json).

Keys are dotted names ("welcome.title"); values may hold ``{name}`` placeholders and, for easy Japanese,
furigana as ``{漢字|かんじ}``. ``text()`` gives plain text (furigana as a reading in brackets, for buttons),
``html()`` gives Qt rich text (the reading small, after the word). A missing key is an error at load time
(``Catalogs.check()``), never a raw key on screen.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import json
import re
import string
from functools import cache
from pathlib import Path

MESSAGES_DIR = Path(__file__).parent / "messages"
LANGUAGES: tuple[str, ...] = ("ja", "ja-easy", "en", "zh", "ko", "vi")
DEFAULT_LANGUAGE = "ja"
RUBY = re.compile(r"\{([^{}|]+)\|([^{}|]+)\}")
# Where a language's own text for config data (procedure and department names) is missing, show this one.
NAME_FALLBACK = {"ja": "ja", "ja-easy": "ja", "en": "en", "zh": "en", "ko": "en", "vi": "en"}


class CatalogError(Exception):
    pass


def _placeholders(value: str) -> set[str]:
    plain = RUBY.sub(r"\1", value)
    return {name for _, name, _, _ in string.Formatter().parse(plain) if name}


class Catalogs:
    def __init__(self, directory: Path = MESSAGES_DIR, languages: tuple[str, ...] = LANGUAGES):
        self.languages = languages
        self.messages: dict[str, dict[str, str]] = {}
        for lang in languages:
            path = directory / f"{lang}.json"
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CatalogError(f"message catalog {path}: {exc}") from None
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise CatalogError(f"message catalog {path}: must be an object of strings")
            self.messages[lang] = data

    def check(self) -> list[str]:
        """Problems across catalogs: keys missing in a language, placeholders that differ from Japanese."""
        problems = []
        reference = self.messages[DEFAULT_LANGUAGE]
        all_keys = set().union(*(set(m) for m in self.messages.values()))
        for lang, messages in self.messages.items():
            for key in sorted(all_keys - set(messages)):
                problems.append(f"{lang}: missing key {key!r}")
            for key, value in messages.items():
                if key in reference and _placeholders(value) != _placeholders(reference[key]):
                    problems.append(
                        f"{lang}: {key!r} has placeholders {sorted(_placeholders(value))}, "
                        f"ja has {sorted(_placeholders(reference[key]))}"
                    )
        return problems

    def keys(self) -> set[str]:
        return set(self.messages[DEFAULT_LANGUAGE])

    def raw(self, lang: str, key: str) -> str:
        messages = self.messages.get(lang)
        if messages is None:
            raise KeyError(f"unknown language {lang!r}")
        try:
            return messages[key]
        except KeyError:
            raise KeyError(f"message {key!r} is missing in {lang}") from None

    def has(self, lang: str, key: str) -> bool:
        return key in self.messages.get(lang, {})

    def text(self, lang: str, key: str, **values: object) -> str:
        """Plain text; furigana become a bracketed reading: 窓口（まどぐち）."""
        return RUBY.sub(r"\1（\2）", self.raw(lang, key)).format(**values)

    def html(self, lang: str, key: str, **values: object) -> str:
        """Qt rich text: the message escaped, furigana as a small reading right after the word."""
        raw = self.raw(lang, key)
        parts: list[str] = []
        last = 0
        for match in RUBY.finditer(raw):
            parts.append(html_lib.escape(raw[last : match.start()]))
            parts.append(
                f"{html_lib.escape(match.group(1))}"
                f"<span style='font-size:60%'>（{html_lib.escape(match.group(2))}）</span>"
            )
            last = match.end()
        parts.append(html_lib.escape(raw[last:]))
        escaped = {k: html_lib.escape(str(v)) for k, v in values.items()}
        return "".join(parts).format(**escaped).replace("\n", "<br>")

    def when(self, lang: str, iso: str | None) -> str:
        """An ISO 8601 local time ("2026-11-30T08:30") in the language's date format."""
        if not iso:
            return self.text(lang, "trouble.unknown_time")
        try:
            moment = dt.datetime.fromisoformat(iso)
        except ValueError:
            return iso
        return self.text(
            lang,
            "when.format",
            month=moment.month,
            day=moment.day,
            weekday=self.text(lang, f"weekday.{moment.weekday()}"),
            time=moment.strftime("%H:%M"),
        )

    def category(self, lang: str, category: str) -> str:
        key = f"category.{category}"
        return self.text(lang, key) if self.has(lang, key) else category


@cache
def catalogs() -> Catalogs:
    return Catalogs()
