"""Versioned schema migrations, applied when a database is opened (the server's start, the admin CLI).

``schema_version`` holds one row per migration applied. Opening a database applies those it lacks, in
order, in one transaction under the ``schema_migrations`` lock, so two nodes starting at once against
one PostgreSQL database migrate it once. A database newer than this code is refused by name (an older
server must not write into a schema it does not know).

Migration 1 is the schema of the last release before versions were kept. A SQLite file that release made
has the tables already (``CREATE TABLE IF NOT EXISTS`` leaves them) but may lack the columns added on
open in those releases (calls.business, calls.rating, case_documents.pending): migration 1 adds them, as
the modules used to. Migration 2 adds PostgreSQL's credential-change counter (revocation.py), migration 3
the family members' guest links (switchboard/guest_links.py).
A new migration is a new entry at the end of ``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from signaling_server.db import schema
from signaling_server.db.base import Database, DatabaseError


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Database], None]


# (table, column, declaration): columns the releases before versioning added to older files on open.
ADOPTED_COLUMNS = (
    ("calls", "business", "TEXT"),
    ("calls", "rating", "INTEGER"),
    ("case_documents", "pending", "INTEGER NOT NULL DEFAULT 0"),
)


def _schema_v1(db: Database) -> None:
    for table in schema.TABLES:
        db.execute(schema.ddl(table, db.dialect))
    if db.dialect == "sqlite":
        _adopt_columns(db)
    for index in schema.INDEXES:
        db.execute(index)
    for guard in schema.AUDIT_GUARDS[db.dialect]:
        db.execute(guard)


def _adopt_columns(db: Database) -> None:
    """A SQLite file from a release before these columns: add them (existing rows keep their values)."""
    for table, column, declaration in ADOPTED_COLUMNS:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


def _credential_counter_v2(db: Database) -> None:
    if db.dialect == "postgresql":  # SQLite's PRAGMA data_version answers the same question
        for statement in schema.CREDENTIAL_COUNTER:
            db.execute(statement)


def _guest_links_v3(db: Database) -> None:
    for statement in schema.GUEST_LINKS:
        db.execute(schema.ddl(statement, db.dialect))


def _interpreter_invitations_v4(db: Database) -> None:
    for statement in schema.INTERPRETER_INVITATIONS:
        db.execute(schema.ddl(statement, db.dialect))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "every module's tables (the schema before versioned migrations)", _schema_v1),
    Migration(2, "credential change counter for revocation checks (PostgreSQL)", _credential_counter_v2),
    Migration(
        3, "family members' guest links (hashed secrets), kept across restarts and nodes", _guest_links_v3
    ),
    Migration(4, "external interpreters' invitations (hashed secrets)", _interpreter_invitations_v4),
)
LATEST = MIGRATIONS[-1].version


def _has_version_table(db: Database) -> bool:
    if db.dialect == "sqlite":
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    else:
        sql = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_version'"
    return db.fetchone(sql) is not None


def current_version(db: Database) -> int:
    """The highest migration applied; 0 for an empty database or one from before versioning."""
    if not _has_version_table(db):
        return 0
    row = db.fetchone("SELECT MAX(version) FROM schema_version")
    return int(row[0] or 0)


def migrate(db: Database, *, upto: int = LATEST, clock: Callable[[], float] = time.time) -> list[int]:
    """Apply the migrations ``db`` lacks (up to version ``upto``: tests build a previous release's
    database with it); the versions applied (none when it was up to date)."""
    if upto <= current_version(db) <= LATEST:  # the usual case: up to date, no write lock taken
        return []
    applied = []
    with db.transaction(lock="schema_migrations"):
        db.execute(schema.ddl(schema.SCHEMA_VERSION_TABLE, db.dialect))
        current = current_version(db)  # again, under the lock: another node may have just migrated
        if current > LATEST:
            raise DatabaseError(
                f"{db.describe()} has schema version {current}, newer than this server knows ({LATEST}): "
                "run the release that made it, or restore a back-up made for this one"
            )
        for migration in MIGRATIONS:
            if current < migration.version <= upto:
                migration.apply(db)
                db.execute(
                    "INSERT INTO schema_version(version, description, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.description, clock()),
                )
                applied.append(migration.version)
    return applied
