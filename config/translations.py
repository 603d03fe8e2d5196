"""``madoguchi-admin config check [--translations] [--json]``: is everything a resident may read there in
every kiosk language?

Lists each gap once: a department's or procedure's name missing in a language (やさしい日本語 names also
need readings for their kanji, ``{漢字|かんじ}``), a phrase of the library missing in a language or with
other parameters than its Japanese, a slip template missing, a key of the kiosk's message catalogs missing
in a language. Exit 0 when there is none, 1 otherwise (2: the configuration itself does not load). The
kiosk's catalogs are read as files (config never imports the kiosk).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from config.loader import load_config
from config.phrasebook import LANGUAGES, PHRASES_PATH, RUBY, placeholders
from config.schema import NAME_FIELDS, AppConfig, Department, Procedure

CATALOGS_DIR = Path(__file__).resolve().parent.parent / "kiosk_client" / "messages"
SLIP_FIELDS = ("title", "number", "items", "next_steps", "untranslated", "qr_note")
KANJI = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf々]")


@dataclass(frozen=True)
class Gap:
    kind: str  # department, procedure, phrase, slip, catalog, phrasebook
    id: str
    language: str
    problem: str


def name_gaps(config: AppConfig) -> list[Gap]:
    gaps: list[Gap] = []
    items: list[tuple[str, Department | Procedure]] = [("department", d) for d in config.departments]
    items += [("procedure", p) for p in config.procedures]
    for kind, item in items:
        for lang, field in NAME_FIELDS.items():
            name = getattr(item, field)
            if not name.strip():
                gaps.append(Gap(kind, item.id, lang, f"no {field}"))
            elif lang == "ja-easy" and KANJI.search(RUBY.sub("", name)):
                gaps.append(Gap(kind, item.id, lang, "kanji without a reading ({漢字|かんじ})"))
    return gaps


def phrase_gaps(data: dict) -> list[Gap]:
    """From the phrase file's raw data, so that every gap is listed (validation stops a load at the first)."""
    gaps: list[Gap] = []
    for index, phrase in enumerate(data.get("phrases", [])):
        phrase_id = str(phrase.get("id", f"#{index}"))
        texts = {k: str(v) for k, v in dict(phrase.get("text", {})).items()}
        reference = placeholders(texts.get("ja", ""))
        for lang in LANGUAGES:
            text = texts.get(lang, "")
            if not text.strip():
                gaps.append(Gap("phrase", phrase_id, lang, "missing"))
            elif placeholders(text) != reference:
                gaps.append(
                    Gap(
                        "phrase",
                        phrase_id,
                        lang,
                        f"parameters {sorted(placeholders(text))}, ja has {sorted(reference)}",
                    )
                )
        gaps += [
            Gap("phrase", phrase_id, lang, "unknown language") for lang in texts if lang not in LANGUAGES
        ]
        ruby_free = RUBY.sub("", texts.get("ja-easy", ""))
        if KANJI.search(ruby_free):
            gaps.append(Gap("phrase", phrase_id, "ja-easy", "kanji without a reading ({漢字|かんじ})"))
    slip = data.get("slip", {})
    for lang in LANGUAGES:
        template = slip.get(lang, {})
        for field in SLIP_FIELDS:
            if not str(template.get(field, "")).strip():
                gaps.append(Gap("slip", field, lang, f"no slip.{lang}.{field}"))
    return gaps


def catalog_gaps(directory: Path) -> list[Gap]:
    catalogs: dict[str, dict[str, str]] = {}
    gaps: list[Gap] = []
    for lang in LANGUAGES:
        try:
            catalogs[lang] = json.loads((directory / f"{lang}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            gaps.append(Gap("catalog", f"{lang}.json", lang, f"unreadable: {exc}"))
            catalogs[lang] = {}
    keys = set().union(*(set(c) for c in catalogs.values()))
    reference = catalogs["ja"]
    for lang, messages in catalogs.items():
        gaps += [Gap("catalog", key, lang, "missing") for key in sorted(keys - set(messages))]
        for key, value in sorted(messages.items()):
            if key in reference and placeholders(value) != placeholders(reference[key]):
                gaps.append(Gap("catalog", key, lang, "placeholders differ from ja"))
    return gaps


def translation_gaps(
    config: AppConfig, phrases: Path = PHRASES_PATH, catalogs: Path = CATALOGS_DIR
) -> list[Gap]:
    try:
        data = tomllib.loads(phrases.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return [*name_gaps(config), Gap("phrasebook", str(phrases), "", f"unreadable: {exc}")]
    return [*name_gaps(config), *phrase_gaps(data), *catalog_gaps(catalogs)]


def cmd_config_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)  # a configuration that does not load: ConfigError, exit 2
    gaps = translation_gaps(config, Path(args.phrases), Path(args.catalogs)) if args.translations else []
    if args.json:
        print(json.dumps({"ok": not gaps, "gaps": [asdict(g) for g in gaps]}, ensure_ascii=False, indent=2))
    elif gaps:
        for gap in gaps:
            print(f"{gap.kind} {gap.id} [{gap.language}]: {gap.problem}")
        print(f"{len(gaps)} missing translation(s)", file=sys.stderr)
    else:
        print("configuration ok" + (": every translation present" if args.translations else ""))
    return 1 if gaps else 0


def register(sub: argparse._SubParsersAction) -> None:
    """``config check`` under madoguchi-admin's subcommands."""
    group = sub.add_parser("config", help="check the configuration").add_subparsers(dest="config_command")
    group.required = True
    check = group.add_parser("check", help="load and validate; --translations: list missing translations")
    check.add_argument(
        "--translations",
        action="store_true",
        help="every name, phrase and message in ja, ja-easy, en, zh, ko, vi; exit 1 on gaps",
    )
    check.add_argument("--json", action="store_true", help="the result as JSON")
    check.add_argument("--phrases", default=str(PHRASES_PATH), help="the phrase library (default: shipped)")
    check.add_argument("--catalogs", default=str(CATALOGS_DIR), help="the kiosk's message catalogs")
    check.set_defaults(func=cmd_config_check)
