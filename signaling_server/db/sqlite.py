"""The embedded engine: one SQLite file (or ``:memory:``), as the server has always kept its records."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NoReturn

from signaling_server.db.base import Cursor, Database, DatabaseError, Dialect, IntegrityError, Params


class SqliteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection, *, owns: bool, name: str = "") -> None:
        self.connection = connection  # the raw connection, for SQLite-only work (incremental blob I/O)
        self._owns = owns
        self._name = name
        self._writing = 0  # depth of our own write transactions (``transaction``, ``batch``) now open

    @classmethod
    def open(cls, path: str | Path) -> SqliteDatabase:
        """The store's file: created on first use, WAL (readers never wait for the writer), autocommit
        (every statement is its own transaction unless ``transaction`` groups them)."""
        name = str(path)
        if name != ":memory:":
            Path(name).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(name, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise_open_error(name, exc)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        return cls(conn, owns=True, name=name)

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        cursor = self.connection.cursor()
        cursor.row_factory = sqlite3.Row  # per cursor: a connection handed in keeps its own row factory
        try:
            return cursor.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        try:
            self.connection.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    @contextlib.contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[None]:
        self._writing += 1
        try:
            if self.connection.in_transaction:
                # Inside a ``batch`` (or another transaction): the file's write lock is held already; a
                # savepoint keeps this block all or nothing on its own.
                with self._savepoint():
                    yield
            else:
                with self._immediate():
                    yield
        finally:
            self._writing -= 1

    @property
    def writing(self) -> bool:
        return self._writing > 0

    @contextlib.contextmanager
    def _immediate(self) -> Iterator[None]:
        # BEGIN IMMEDIATE takes the file's write lock at once: every writer, of any kind, waits its turn.
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[None]:
        self.connection.execute("SAVEPOINT nested")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK TO nested")
            self.connection.execute("RELEASE nested")
            raise
        self.connection.execute("RELEASE nested")

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """One transaction for the block's writes: the file lock, which every node's writes of a shared file
        queue for (``busy_timeout``), taken once instead of once a write."""
        return self.transaction()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.connection.in_transaction:
            yield
            return
        self.connection.execute("BEGIN")
        try:
            yield
        finally:
            self.connection.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        return self.connection.in_transaction

    def change_counter(self) -> int:
        # Changes exactly when another connection committed to the file (13 µs measured).
        return int(self.connection.execute("PRAGMA data_version").fetchone()[0])

    def describe(self) -> str:
        return f"SQLite {self._name or 'connection'}"

    def close(self) -> None:
        if self._owns:
            self.connection.close()


def raise_open_error(name: str, exc: sqlite3.Error) -> NoReturn:
    raise DatabaseError(f"server.database {name!r}: cannot open the SQLite file: {exc}") from exc
