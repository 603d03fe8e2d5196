"""Message catalogs of the console: staff_console/messages/{ja,en}.json, Japanese first, English second.

Keys are flat dotted names (``ring.title``); values may hold ``{name}`` fields. A missing key is an error in
tests (``strict=True``); in production it falls back to the other language, then to the key itself.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

MESSAGES_DIR = Path(__file__).parent / "messages"
LANGUAGES = ("ja", "en")


class MissingMessage(KeyError):
    pass


@cache
def load_catalog(language: str) -> dict[str, str]:
    if language not in LANGUAGES:
        raise ValueError(f"no console messages for language {language!r}; have {', '.join(LANGUAGES)}")
    data = json.loads((MESSAGES_DIR / f"{language}.json").read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{language}.json must be one object of strings")
    return data


class Messages:
    def __init__(self, language: str = "ja", *, strict: bool = False):
        self.language = language
        self.strict = strict
        self.catalog = load_catalog(language)
        self.fallback = load_catalog("en" if language == "ja" else "ja")

    def __call__(self, key: str, **fields: Any) -> str:
        text = self.catalog.get(key)
        if text is None:
            if self.strict:
                raise MissingMessage(f"message {key!r} is missing in {self.language}.json")
            text = self.fallback.get(key, key)
        return text.format(**fields) if fields else text

    def has(self, key: str) -> bool:
        return key in self.catalog
