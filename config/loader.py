"""Load and validate a TOML configuration file; errors name the file, the key and what is wrong."""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from config.schema import AppConfig

DEFAULTS_DIR = Path(__file__).parent / "defaults"
ENV_VAR = "MADOGUCHI_CONFIG"
SECRETS_ENV_VAR = "MADOGUCHI_SECRETS"  # a TOML file (mode 0600) merged over the configuration
SECRET_VARIABLES = {  # environment variable -> (section, key), merged over both files
    "MADOGUCHI_TURN_SECRET": ("turn", "secret"),
    "MADOGUCHI_SMTP_PASSWORD": ("smtp", "password"),
    "MADOGUCHI_METRICS_TOKEN": ("monitoring", "metrics_token"),
}
DOCUMENT_KEYS_VAR = "MADOGUCHI_DOCUMENT_KEYS"  # "k1=<base64>,k2=<base64>" -> [documents] keys


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


def _read_toml(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the file: {exc.strerror}"]) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [f"not UTF-8 text: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None


def load_config(
    path: Path | str | None = None,
    *,
    secrets: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> AppConfig:
    """The configuration at ``path``, with secrets merged in from a separate file (``secrets``, else
    ``$MADOGUCHI_SECRETS``) and from environment variables (``SECRET_VARIABLES``), so that the main file
    can be readable by the operators and kept in version control without the secrets."""
    environ = os.environ if environ is None else environ
    path = Path(path) if path is not None else default_config_path()
    data = _read_toml(path)
    secrets = secrets if secrets is not None else environ.get(SECRETS_ENV_VAR) or None
    if secrets is not None:
        _merge(data, _read_secrets(Path(secrets)))
    _merge(data, _environment_secrets(environ, path))
    return parse_config(data, path)


def _read_secrets(path: Path) -> dict:
    """The secrets file, refused when anyone but its owner may read or write it."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the secrets file: {exc.strerror}"]) from None
    if mode & 0o077:
        raise ConfigError(
            path,
            [
                f"the secrets file is readable or writable by others (mode {stat.S_IMODE(mode):04o}); "
                f"make it private to the server's user: chmod 600 {path}"
            ],
        )
    return _read_toml(path)


def _environment_secrets(environ: Mapping[str, str], source: Path) -> dict:
    found: dict = {}
    for name, (section, key) in SECRET_VARIABLES.items():
        if environ.get(name):
            found.setdefault(section, {})[key] = environ[name]
    keys = environ.get(DOCUMENT_KEYS_VAR, "")
    for item in filter(None, (part.strip() for part in keys.split(","))):
        key_id, sep, value = item.partition("=")
        if not sep or not key_id or not value:
            raise ConfigError(source, [f"{DOCUMENT_KEYS_VAR}: expected id=base64key[,id=base64key...]"])
        found.setdefault("documents", {}).setdefault("keys", {})[key_id] = value
    return found


def _merge(into: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def dump_config(config: AppConfig) -> str:
    """The configuration as TOML that load_config reads back to an equal AppConfig."""
    import tomli_w

    return tomli_w.dumps(config.model_dump(mode="json", exclude_none=True))
