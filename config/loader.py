"""Load and validate a TOML configuration file; errors name the file, the key and what is wrong."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import ValidationError

from config.schema import AppConfig

DEFAULTS_DIR = Path(__file__).parent / "defaults"
ENV_VAR = "MADOGUCHI_CONFIG"


class ConfigError(Exception):
    """A configuration file that cannot be used. The message says which file, which key and why."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration in {self.path}:\n{lines}")


def default_config_path() -> Path:
    """The file named by $MADOGUCHI_CONFIG, else the shipped Morioka defaults."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else DEFAULTS_DIR / "morioka.toml"


def _key_path(loc: tuple[int | str, ...], data: object) -> str:
    """Turn a pydantic location into a readable key path, using ids for list items where possible."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and 0 <= item < len(node):
            element = node[item]
            ident = element.get("id") if isinstance(element, dict) else None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]" + (f"(id={ident})" if ident else "")]
            node = element
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def parse_config(data: dict, source: Path | str = "<memory>") -> AppConfig:
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = _key_path(tuple(err["loc"]), data)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (misspelt?)"
            problems.append(f"{key}: {msg}")
        raise ConfigError(source, problems) from None


def load_config(path: Path | str | None = None) -> AppConfig:
    path = Path(path) if path is not None else default_config_path()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the file: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [f"not UTF-8 text: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    return parse_config(data, path)


def dump_config(config: AppConfig) -> str:
    """The configuration as TOML that load_config reads back to an equal AppConfig."""
    import tomli_w

    return tomli_w.dumps(config.model_dump(mode="json", exclude_none=True))
