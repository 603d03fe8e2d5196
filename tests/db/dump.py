"""Every row of every table as text, on either engine: what a test searches for a secret that must not
be stored (SQLite: the file's SQL dump; PostgreSQL: each table's rows)."""

from __future__ import annotations

from signaling_server.db import Database
from signaling_server.db.sqlite import SqliteDatabase


def everything_stored(db: Database) -> str:
    if isinstance(db, SqliteDatabase):
        return "\n".join(db.connection.iterdump())
    tables = [
        r[0] for r in db.fetchall("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    ]
    return "\n".join(repr(tuple(row)) for table in tables for row in db.fetchall(f"SELECT * FROM {table}"))
