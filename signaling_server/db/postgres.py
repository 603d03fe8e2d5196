"""PostgreSQL through psycopg 3 (the ``cluster`` extra), for several nodes sharing one record store.

One connection per server process, in autocommit mode: each statement commits on its own, exactly as the
SQLite store's did, and ``transaction`` groups statements with ``BEGIN``/``COMMIT``. The synchronous API is
deliberate: every store method is one short statement called from the event loop. Measured on this
2-core machine (bench/bench_store_pg.py), a call's record path (three saves and a read): at load average
5, 0.56 ms on PostgreSQL over its unix socket against 0.13 ms on SQLite, about 0.14 ms a statement (4.4×);
at load average 17, 5.9 ms against 0.81 ms, the round trip to another process on a saturated machine (a
bare ``SELECT 1``: 0.3-0.9 ms then). A city's peak is tens of call-state changes a second, so the loop
loses well under a tenth of its time even then; an asyncio driver would make every caller of the store
a coroutine for no gain at that size.

Placeholders: modules write ``?``; :func:`pyformat` turns them into psycopg's ``%s`` outside quoted
literals (and doubles a literal ``%``). That is the only rewriting of SQL text; every other difference
between the engines is written out where it occurs.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from signaling_server.db.base import (
    Cursor,
    Database,
    DatabaseError,
    Dialect,
    IntegrityError,
    Params,
    Row,
    lock_key,
)

URL_SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT_S = 10


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(URL_SCHEMES)


@functools.lru_cache(maxsize=1024)
def pyformat(sql: str) -> str:
    """``?`` → ``%s`` outside single-quoted literals and double-quoted names; ``%`` → ``%%``."""
    out: list[str] = []
    quote = ""
    for char in sql:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> Row:
        return Row(values, names)

    return make


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(url)
    except Exception:  # an unparsable URL: say only its scheme
        return url.split("://", 1)[0] + "://…"
    host, port, name = parts.get("host", ""), parts.get("port", ""), parts.get("dbname", "")
    return f"postgresql://{parts.get('user', '')}@{host}{':' if port else ''}{port}/{name}"


class PostgresDatabase(Database):
    dialect: Dialect = "postgresql"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise DatabaseError(
                f"server.database is a PostgreSQL URL ({redact(url)}) but psycopg is not installed: "
                "install the cluster extra (pip install 'remote-madoguchi[cluster]')"
            ) from None
        self._psycopg = psycopg
        self._url = url
        self._closed = False
        self._conn = self._connect()

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(
                self._url, autocommit=True, row_factory=_row_factory, connect_timeout=CONNECT_TIMEOUT_S
            )
        except self._psycopg.Error as exc:
            raise DatabaseError(
                f"server.database {redact(self._url)}: cannot connect: {exc}".strip()
            ) from exc

    def _live(self) -> Any:
        """The connection; a new one when the last was lost (PostgreSQL restarted, a fail-over). The
        statement that met the loss raised its error to its caller: nothing is retried silently."""
        if (self._conn.broken or self._conn.closed) and not self._closed:
            self._conn = self._connect()
        return self._conn

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        conn = self._live()
        try:
            if params:
                return conn.execute(pyformat(sql), params)
            return conn.execute(sql)
        except self._psycopg.errors.IntegrityError as exc:
            raise IntegrityError(str(exc), exc.diag.constraint_name) from exc

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        try:
            with self._live().cursor() as cursor:
                cursor.executemany(pyformat(sql), rows)
        except self._psycopg.errors.IntegrityError as exc:
            raise IntegrityError(str(exc), exc.diag.constraint_name) from exc

    @contextlib.contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[None]:
        with self._live().transaction():
            if lock is not None:
                # Held to the end of the transaction; another node taking the same lock waits here.
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(lock),))
            yield

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.in_transaction:
            yield
            return
        self._conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            self._conn.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        return bool(self._live().info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE)

    def change_counter(self) -> int:
        # A sequence that triggers on officers, kiosk_tokens and sessions advance (migration 2): sequences
        # are outside transactions, so reading it costs one index-free look-up and takes no lock.
        row = self._conn.execute("SELECT last_value, is_called FROM credential_changes").fetchone()
        return int(row[0]) + int(bool(row[1])) if row else 0

    def describe(self) -> str:
        return f"PostgreSQL {redact(self._url)}"

    def close(self) -> None:
        self._closed = True
        self._conn.close()
