"""The database interface every module that keeps records uses (store, audit, auth, appointments, ...).

Two engines stand behind it: SQLite (``sqlite.py``, the embedded default: one file in WAL mode, nothing to
install) and PostgreSQL (``postgres.py``, psycopg 3, for several nodes sharing one record store). A module
writes one SQL text per statement with ``?`` placeholders, in the SQL both engines understand: upserts are
``INSERT ... ON CONFLICT (...) DO UPDATE``/``DO NOTHING`` (not SQLite's ``INSERT OR REPLACE``), new ids come
back by ``RETURNING`` (not ``lastrowid``). Where the engines really differ the module asks ``dialect`` and
says so in its own code (streamed document uploads: SQLite's incremental blob I/O); table definitions
differ only in the column types named in ``schema.py``.

Every call is a short synchronous statement on one connection, as the store always was; ``transaction``
is the one way to group statements, with a ``lock`` name that serialises writers of one kind across
processes (SQLite: ``BEGIN IMMEDIATE`` locks the whole file; PostgreSQL: an advisory lock of that name).
"""

from __future__ import annotations

import contextlib
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any]


class DatabaseError(Exception):
    """The database cannot be opened or used as configured; the message names the database and why."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached now (PostgreSQL stopped, restarted, the link cut): a degraded mode
    the server rides out (signaling_server/database_watch.py); the message names the database, never a
    password. Only the PostgreSQL engine raises it: a SQLite file has no such mode."""


class IntegrityError(Exception):
    """A constraint refused a write (a duplicate key, an append-only table). ``constraint`` names it when
    the engine says (PostgreSQL always does; SQLite names the column in the message instead)."""

    def __init__(self, message: str, constraint: str | None = None) -> None:
        super().__init__(message)
        self.constraint = constraint

    def mentions(self, name: str) -> bool:
        """The refusal is about ``name`` (a column or a constraint), on either engine."""
        return name in str(self) or (self.constraint is not None and name in self.constraint)


class Cursor(Protocol):
    """What ``execute`` returns: iterate it or fetch from it; ``rowcount`` after a write."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Row(tuple):
    """A result row read by position (``row[0]``, unpacking) or by column name (``row["state"]``,
    ``dict(row)``), as ``sqlite3.Row`` is; PostgreSQL's rows are made of this class."""

    _names: dict[str, int]

    def __new__(cls, values: Iterable[Any], names: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def lock_key(name: str) -> int:
    """A stable signed 64-bit number for a lock name (PostgreSQL's advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Database(ABC):
    dialect: Dialect

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> Cursor:
        """Run one statement (``?`` placeholders); rows to iterate or fetch, ``rowcount`` for writes."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    def fetchone(self, sql: str, params: Params = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def fetchall(self, sql: str, params: Params = ()) -> list[Any]:
        return list(self.execute(sql, params).fetchall())

    @abstractmethod
    def transaction(self, lock: str | None = None) -> contextlib.AbstractContextManager[None]:
        """One write transaction, committed at the end of the block, rolled back on an exception.
        Writers that pass the same ``lock`` run one at a time, in this process and in every other one."""

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Many small writes that may be committed together (a failover's reconnect graces ending in one
        tick: thousands of calls' records). Here each write stays on its own: a PostgreSQL server takes
        them one round trip at a time without a lock shared by the nodes, and a write lost with its
        connection must wait in ``write_behind``, not vanish in a rolled-back transaction. SQLite's file
        lock is taken once for the block instead (``SqliteDatabase.batch``)."""
        return contextlib.nullcontext()

    @abstractmethod
    def snapshot(self) -> contextlib.AbstractContextManager[None]:
        """Reads inside the block see one consistent state (a concurrent writer's commit is not seen)."""

    @property
    @abstractmethod
    def in_transaction(self) -> bool: ...

    @property
    def writing(self) -> bool:
        """Inside a write transaction of this object's own (``transaction``, or SQLite's ``batch``): the
        writers' lock is held, so a nested ``transaction`` is a savepoint under it (the audit chain may be
        appended to). False in a transaction begun otherwise (a read ``snapshot``, a raw connection's)."""
        return False

    @abstractmethod
    def change_counter(self) -> int:
        """A number that changes when another process changed the credentials (revocation.py polls it)."""

    @property
    def available(self) -> bool:
        """False while the database cannot be reached (PostgreSQL only; a SQLite file always is)."""
        return True

    def unreachable(self) -> str:
        """What a refused caller is told while ``available`` is False: the database, never a password."""
        return f"the record database ({self.describe()}) is unreachable"

    @property
    def pending_writes(self) -> int:
        """Writes waiting in memory for the database to come back (``write_behind``)."""
        return 0

    def write_behind(self, key: str | None, write: Callable[[], object]) -> None:
        """A write of something that has already happened, which the caller cannot refuse (a call's end,
        the queue): run now, or, while the database is unreachable, kept in memory in order and run when
        it returns (``db/pending.py``). A later write of the same ``key`` replaces a waiting one
        (``None``: each is kept, as audit entries)."""
        write()

    @abstractmethod
    def describe(self) -> str:
        """Which database this is, for logs and errors (never a password)."""

    @abstractmethod
    def close(self) -> None: ...
