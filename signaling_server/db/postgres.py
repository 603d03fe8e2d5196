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

**When PostgreSQL goes away** (stopped, restarted, the backend terminated, the link cut) the statement that
meets the loss raises ``DatabaseUnavailable`` and the database is *unavailable*: every later statement
raises it at once (no connection attempt on the event loop: a host that does not answer would hold it for
``CONNECT_TIMEOUT_S``), ``write_behind`` keeps the switchboard's writes in memory in order
(``pending.py``), and ``on_lost`` listeners hear of it. ``signaling_server/database_watch.py`` then
connects again in a worker thread with backoff (``open_connection``) and hands the new connection to
``recovered``, which writes what waited before the database is available again.

Placeholders: modules write ``?``; :func:`pyformat` turns them into psycopg's ``%s`` outside quoted
literals (and doubles a literal ``%``). That is the only rewriting of SQL text; every other difference
between the engines is written out where it occurs.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from signaling_server.db.base import (
    Cursor,
    Database,
    DatabaseError,
    DatabaseUnavailable,
    Dialect,
    IntegrityError,
    Params,
    Row,
    lock_key,
)
from signaling_server.db.pending import PendingWrites

log = logging.getLogger(__name__)

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
        self._lost: str | None = None  # why the database is unreachable; None while it is available
        self._recovering = False  # the pending writes are being written on a new connection
        self._pending = PendingWrites()
        self.on_lost: list[Callable[[str], None]] = []  # told (with the reason) when the connection is lost
        try:
            self._conn = self.open_connection()
        except psycopg.Error as exc:
            raise DatabaseError(
                f"server.database {redact(self._url)}: cannot connect: {exc}".strip()
            ) from exc

    def open_connection(self) -> Any:
        """A new connection, or the driver's error. Touches no state of this object: a worker thread
        may call it while the event loop goes on (``database_watch.py``)."""
        return self._psycopg.connect(
            self._url, autocommit=True, row_factory=_row_factory, connect_timeout=CONNECT_TIMEOUT_S
        )

    # ------------------------------------------------------------------ availability

    @property
    def available(self) -> bool:
        return self._lost is None

    @property
    def lost_reason(self) -> str | None:
        return self._lost

    @property
    def pending_writes(self) -> int:
        return len(self._pending)

    @property
    def pending_written(self) -> int:
        return self._pending.written

    def unreachable(self) -> str:
        """What a refused caller is told: the database and why, never a password."""
        return f"the record database ({self.describe()}) is unreachable: {self._lost or 'connection lost'}"

    def write_behind(self, key: str | None, write: Callable[[], object]) -> None:
        if self._lost is None and not self._pending:
            try:
                write()
                return
            except DatabaseUnavailable:
                pass  # lost during this very write: it waits with the others
        self._pending.add(key, write)

    def recovered(self, conn: Any) -> int:
        """A new connection (from ``open_connection``): the pending writes run on it, in order, and then
        the database is available again. How many ran; ``DatabaseUnavailable`` if it was lost again."""
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn = conn
        self._recovering = True
        try:
            ran = self._pending.flush(DatabaseUnavailable, self._write_failed)
        finally:
            self._recovering = False
        self._lost = None
        return ran

    def _write_failed(self, key: str | None, exc: Exception) -> None:
        log.error("a write kept while %s was unreachable was refused (%s): %s", self.describe(), key, exc)

    def _lose(self, exc: BaseException) -> None:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        self._lost = reason
        for listener in list(self.on_lost):
            listener(reason)

    def _live(self) -> Any:
        """The connection, or ``DatabaseUnavailable`` at once while the database is unreachable."""
        if self._lost is not None and not self._recovering:
            raise DatabaseUnavailable(self.unreachable())
        if self._conn.closed and not self._closed:
            self._lose(self._psycopg.OperationalError("the connection is closed"))
            raise DatabaseUnavailable(self.unreachable())
        return self._conn

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """The driver's errors translated in one place: a constraint → ``IntegrityError``; a lost
        connection → ``DatabaseUnavailable`` (and the database unavailable until ``recovered``)."""
        try:
            yield
        except self._psycopg.errors.IntegrityError as exc:
            raise IntegrityError(str(exc), exc.diag.constraint_name) from exc
        except self._psycopg.Error as exc:
            if not (self._conn.broken or self._conn.closed):
                raise  # the statement's own error (a syntax error, a lock time-out): not an outage
            self._lose(exc)
            raise DatabaseUnavailable(self.unreachable()) from exc

    # ------------------------------------------------------------------ statements

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        conn = self._live()
        with self._guard():
            if params:
                return conn.execute(pyformat(sql), params)
            return conn.execute(sql)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        conn = self._live()
        with self._guard(), conn.cursor() as cursor:
            cursor.executemany(pyformat(sql), rows)

    def ping(self) -> None:
        """One round trip (``database_watch.py``, to notice an outage while nothing else is written)."""
        self.execute("SELECT 1")

    @contextlib.contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[None]:
        conn = self._live()
        with self._guard(), conn.transaction():
            if lock is not None:
                # Held to the end of the transaction; another node taking the same lock waits here.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(lock),))
            yield

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.in_transaction:
            yield
            return
        conn = self._live()
        with self._guard():
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            if not (conn.broken or conn.closed):
                conn.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        return bool(self._live().info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE)

    def change_counter(self) -> int:
        # A sequence that triggers on officers, kiosk_tokens and sessions advance (migration 2): sequences
        # are outside transactions, so reading it costs one index-free look-up and takes no lock.
        row = self.execute("SELECT last_value, is_called FROM credential_changes").fetchone()
        return int(row[0]) + int(bool(row[1])) if row else 0

    def describe(self) -> str:
        return f"PostgreSQL {redact(self._url)}"

    def close(self) -> None:
        self._closed = True
        self._conn.close()
