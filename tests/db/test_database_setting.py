"""``server.database``: a SQLite path or a postgresql:// URL; anything else is refused when the
configuration loads, naming the setting and never echoing what may be a password."""

from __future__ import annotations

import pytest

from config.loader import ConfigError, parse_config
from signaling_server.testing import test_config


def with_database(value: str) -> dict:
    data = test_config().model_dump(mode="json")
    data["server"]["database"] = value
    return data


@pytest.mark.parametrize(
    "value", ["var/madoguchi.sqlite3", ":memory:", "postgresql://madoguchi@db.city.lg.jp/madoguchi",
              "postgres://madoguchi:pw@/madoguchi?host=/run/postgresql"],
)  # fmt: skip
def test_a_path_or_a_postgresql_url_is_taken(value: str) -> None:
    assert parse_config(with_database(value)).server.database == value


@pytest.mark.parametrize("value", ["mysql://root:hunter2@db/madoguchi", "postgresql://", "  "])
def test_anything_else_is_refused_by_name(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(with_database(value))
    (problem,) = refused.value.problems
    assert problem.startswith("server.database: ") and "hunter2" not in problem
    assert "SQLite file path" in problem and "postgresql:// URL" in problem
