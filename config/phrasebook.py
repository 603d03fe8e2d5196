"""The phrase library (定型文): what an officer sends so that the resident reads it in their own language.

``config/defaults/phrases.toml`` holds every phrase in the six kiosk languages (ja, ja-easy with readings as
``{漢字|かんじ}``, en, zh, ko, vi) and the printed slip's wording per language. The officer picks a phrase
by id (the console shows the Japanese); the kiosk renders the same id in the resident's language. A phrase
may take parameters, typed by their name (``PARAM_KINDS``): a department or procedure id (shown by its
name in the language), a number (a fee, a window) or a time; never free text, so nothing untranslated can
slip in through a parameter. ``load_phrasebook`` validates the file: every phrase in every language, with
the same parameters as the Japanese.
"""

from __future__ import annotations

import html
import re
import string
import tomllib
from collections.abc import Callable, Mapping
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from config.schema import AppConfig

LANGUAGES: tuple[str, ...] = ("ja", "ja-easy", "en", "zh", "ko", "vi")
JAPANESE = ("ja", "ja-easy")
PHRASES_PATH = Path(__file__).parent / "defaults" / "phrases.toml"
RUBY = re.compile(r"\{([^{}|]+)\|([^{}|]+)\}")
PhraseId = Annotated[str, Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", max_length=64)]
# A parameter's kind follows from its name: what the officer may put in it, and how it is shown.
PARAM_KINDS: dict[str, str] = {
    "department": "department",
    "procedure": "procedure",
    "fee": "number",
    "window": "number",
    "floor": "number",
    "minutes": "number",
    "copies": "number",
    "time": "time",
}
_PARAM_VALUES = {
    "department": re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$"),
    "procedure": re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$"),
    "number": re.compile(r"^\d{1,9}$"),
    "time": re.compile(r"^([01]\d|2[0-3]):[0-5]\d$"),
}
NameOf = Callable[[str, str, str], str | None]  # (kind, id, language) -> the name, or None if unknown


class PhraseError(ValueError):
    """A phrase that cannot be sent or shown: unknown id, missing or unexpected parameters."""


class Category(StrEnum):
    GREETING = "greeting"
    PREPARE = "prepare"
    SCAN = "scan"
    WAIT = "wait"
    NEXT = "next"
    FEE = "fee"
    DOCUMENT = "document"
    CLOSING = "closing"


def placeholders(text: str) -> set[str]:
    plain = RUBY.sub(r"\1", text)
    return {name for _, name, _, _ in string.Formatter().parse(plain) if name is not None}


def ruby_plain(text: str) -> str:
    """Furigana as a bracketed reading, for plain text (a printed slip, a button): 窓口（まどぐち）."""
    return RUBY.sub(r"\1（\2）", text)


def ruby_html(text: str) -> str:
    """Qt rich text: the text escaped, furigana as a small reading right after the word."""
    parts: list[str] = []
    last = 0
    for match in RUBY.finditer(text):
        parts.append(html.escape(text[last : match.start()]))
        word, reading = html.escape(match.group(1)), html.escape(match.group(2))
        parts.append(f"{word}<span style='font-size:60%'>（{reading}）</span>")
        last = match.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts).replace("\n", "<br>")


def text_problems(where: str, texts: Mapping[str, str], required: tuple[str, ...] = LANGUAGES) -> list[str]:
    """Languages missing from ``texts``, unknown languages, and placeholders that differ from Japanese."""
    problems = [f"{where}: unknown language {lang!r}" for lang in texts if lang not in LANGUAGES]
    problems += [f"{where}: missing {lang}" for lang in required if not str(texts.get(lang, "")).strip()]
    reference = placeholders(texts.get("ja", ""))
    for lang, text in texts.items():
        if lang != "ja" and lang in LANGUAGES and text.strip() and placeholders(text) != reference:
            problems.append(
                f"{where}: {lang} has parameters {sorted(placeholders(text))}, ja has {sorted(reference)}"
            )
    return problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Phrase(_Strict):
    id: PhraseId
    category: Category
    text: dict[str, str]

    @model_validator(mode="after")
    def _complete(self) -> Phrase:
        problems = text_problems(f"phrase {self.id!r}", self.text)
        unknown = sorted(placeholders(self.text.get("ja", "")) - set(PARAM_KINDS))
        if unknown:
            problems.append(f"phrase {self.id!r}: unknown parameters {unknown}; known: {sorted(PARAM_KINDS)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def params(self) -> list[str]:
        return sorted(placeholders(self.text["ja"]))


class SlipTemplate(_Strict):
    """The printed slip's own words in one language (the Japanese one is always printed too)."""

    title: str = Field(min_length=1)
    number: str = Field(min_length=1)  # 受付番号
    items: str = Field(min_length=1)  # 持ち物
    next_steps: str = Field(min_length=1)  # 次の手続き
    untranslated: str = Field(min_length=1)  # marks the officer's free text
    qr_note: str = Field(min_length=1)


class PhraseBook(_Strict):
    phrases: list[Phrase] = Field(min_length=1)
    slip: dict[str, SlipTemplate]

    @field_validator("slip")
    @classmethod
    def _slip_languages(cls, slip: dict[str, SlipTemplate]) -> dict[str, SlipTemplate]:
        missing = [lang for lang in LANGUAGES if lang not in slip]
        unknown = [lang for lang in slip if lang not in LANGUAGES]
        if missing or unknown:
            raise ValueError(f"slip templates: missing {missing}, unknown {unknown}")
        return slip

    @model_validator(mode="after")
    def _unique(self) -> PhraseBook:
        ids = [p.id for p in self.phrases]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"phrase ids defined twice: {twice}")
        return self

    def phrase(self, phrase_id: str) -> Phrase:
        for phrase in self.phrases:
            if phrase.id == phrase_id:
                return phrase
        raise PhraseError(f"unknown phrase {phrase_id!r}")

    def by_category(self, category: Category) -> list[Phrase]:
        return [p for p in self.phrases if p.category == category]

    def check_params(self, phrase_id: str, params: Mapping[str, str]) -> Phrase:
        """The phrase, if ``params`` fill exactly its parameters with values of the right kind."""
        phrase = self.phrase(phrase_id)
        if set(params) != set(phrase.params):
            raise PhraseError(f"phrase {phrase_id!r} takes {phrase.params}, got {sorted(params)}")
        for name, value in params.items():
            if not _PARAM_VALUES[PARAM_KINDS[name]].match(value):
                raise PhraseError(f"phrase {phrase_id!r}: {name}={value!r} is not a {PARAM_KINDS[name]}")
        return phrase

    def render(self, phrase_id: str, lang: str, params: Mapping[str, str], name_of: NameOf) -> str:
        """The phrase in ``lang`` with its parameters filled (ja-easy keeps ``{漢字|かんじ}`` readings)."""
        phrase = self.check_params(phrase_id, params)
        values = {name: _shown(name, value, lang, name_of) for name, value in params.items()}
        template = phrase.text.get(lang) or phrase.text["ja"]
        # Format around the readings: "{窓口|まどぐち}" is not a placeholder.
        pieces = RUBY.split(template)
        out: list[str] = []
        for i in range(0, len(pieces), 3):
            out.append(pieces[i].format(**values))
            if i + 2 < len(pieces):
                out.append(f"{{{pieces[i + 1]}|{pieces[i + 2]}}}")
        return "".join(out)


def _shown(name: str, value: str, lang: str, name_of: NameOf) -> str:
    kind = PARAM_KINDS[name]
    if kind in ("department", "procedure"):
        return name_of(kind, value, lang) or value
    if kind == "number" and len(value) > 3:
        grouped = f"{int(value):,}"
        return grouped.replace(",", ".") if lang == "vi" else grouped
    return value


class PhraseBookError(Exception):
    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"invalid phrase library {self.path}:\n" + "\n".join(f"  - {p}" for p in problems))


def read_phrase_data(path: Path = PHRASES_PATH) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PhraseBookError(path, [f"cannot read: {exc}"]) from None


def parse_phrasebook(data: dict, source: Path | str = "<memory>") -> PhraseBook:
    try:
        return PhraseBook.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        ]
        raise PhraseBookError(source, problems) from None


def load_phrasebook(path: Path | str | None = None) -> PhraseBook:
    """The phrase library at ``path`` (default: the shipped config/defaults/phrases.toml), validated."""
    if path is None:
        return shipped_phrasebook()
    return parse_phrasebook(read_phrase_data(Path(path)), path)


@cache
def shipped_phrasebook() -> PhraseBook:
    return parse_phrasebook(read_phrase_data(PHRASES_PATH), PHRASES_PATH)


def config_names(config: AppConfig | None) -> NameOf:
    """Names of departments and procedures from ``config`` in each language (None: ids stay ids)."""
    from config.schema import localized_name

    def name_of(kind: str, item_id: str, lang: str) -> str | None:
        if config is None:
            return None
        items = config.departments if kind == "department" else config.procedures
        found = next((item for item in items if item.id == item_id), None)
        return localized_name(found, lang) if found is not None else None

    return name_of
