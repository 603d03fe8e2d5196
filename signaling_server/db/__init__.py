"""The record store's database layer: one interface, SQLite or PostgreSQL behind it (docs/architecture.md).

``open_database`` takes ``server.database`` (a file path, or a ``postgresql://`` URL) and returns the
database with every migration applied. ``as_database`` lets a module accept a plain ``sqlite3``
connection too (tests, tools), migrated the same way.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from signaling_server.db.base import (
    Database,
    DatabaseError,
    DatabaseUnavailable,
    Dialect,
    IntegrityError,
    Row,
)
from signaling_server.db.migrations import LATEST, current_version, migrate
from signaling_server.db.postgres import is_postgres_url
from signaling_server.db.sqlite import SqliteDatabase

__all__ = [
    "LATEST",
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "Dialect",
    "IntegrityError",
    "Row",
    "as_database",
    "current_version",
    "is_postgres_url",
    "migrate",
    "open_database",
]


def open_database(target: str | Path) -> Database:
    """``server.database``: a ``postgresql://`` URL, or a SQLite file path (``:memory:`` for tests)."""
    db: Database
    if is_postgres_url(target):
        from signaling_server.db.postgres import PostgresDatabase

        db = PostgresDatabase(str(target))
    else:
        db = SqliteDatabase.open(target)
    try:
        migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def as_database(db: Database | sqlite3.Connection) -> Database:
    """A database as given, or a plain sqlite3 connection wrapped (and migrated; the caller keeps it)."""
    if isinstance(db, Database):
        return db
    wrapped = SqliteDatabase(db, owns=False)
    migrate(wrapped)
    return wrapped
