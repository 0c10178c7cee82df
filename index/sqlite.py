"""SQLite files shared by processes: WAL mode, a busy timeout, one short write transaction at a time."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self

log = logging.getLogger(__name__)
BUSY_TIMEOUT_S = 10.0
# Variables per statement, well under SQLite's limit.
IN_BATCH = 500


class SqliteStore:
    """A connection to one SQLite file, safe to use from several threads and processes at once."""

    def __init__(self, path: Path | str, schema: str, error: Callable[[Path, sqlite3.Error], Exception]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._error = error
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves so no implicit transaction is left open.
            # check_same_thread=False + the lock: web servers call in from worker threads.
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                         check_same_thread=False)
        except sqlite3.Error as exc:
            raise error(self.path, exc) from exc
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            # WAL lets readers run beside a writer and makes concurrent writers queue on the busy timeout.
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            with self.write():
                for statement in filter(str.strip, schema.split(";")):
                    self._conn.execute(statement)
        except sqlite3.Error as exc:
            self._conn.close()
            raise error(self.path, exc) from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Yield the connection inside one short write transaction (BEGIN IMMEDIATE ... COMMIT)."""
        with self._lock:
            # IMMEDIATE, not DEFERRED: a deferred read-then-write upgrade can fail with "locked" without waiting.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:  # SQLite may already have rolled back
                    self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Return the rows of a query."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def read_in(self, sql: str, values: Sequence[Any], *params: Any) -> list[tuple[Any, ...]]:
        """Return the rows of a query whose `IN ({})` placeholder takes `values`, asked in batches SQLite allows."""
        rows: list[tuple[Any, ...]] = []
        for i in range(0, len(values), IN_BATCH):
            part = tuple(values[i : i + IN_BATCH])
            rows += self.read(sql.format(",".join("?" * len(part))), (*params, *part))
        return rows

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class CacheStore(SqliteStore):
    """A SQLite file that only caches what can be computed again: a damaged file is deleted and started afresh,
    costing the work it saved, never the build; found damaged while in use, a read misses and a write is dropped."""

    def __init__(self, path: Path | str, schema: str, what: str) -> None:
        self._schema, self._what = schema, what
        self._in_use = False
        try:
            super().__init__(path, schema, self._unusable)
        except CacheDamaged as exc:
            self._start_afresh(exc.__cause__)
        self._in_use = True

    def _unusable(self, where: Path, exc: sqlite3.Error) -> Exception:
        return CacheDamaged(f"{self._what} {where} 无法打开：{exc}")

    def _start_afresh(self, cause: BaseException | None) -> None:
        log.warning("%s已损坏，已删除并重建（%s）", self._what, cause)
        for damaged in (self.path, self.path.with_name(self.path.name + "-wal"),
                        self.path.with_name(self.path.name + "-shm")):
            damaged.unlink(missing_ok=True)
        self._in_use = False
        super().__init__(self.path, self._schema, self._unusable)
        self._in_use = True

    def _recover(self, exc: sqlite3.DatabaseError) -> None:
        # Only damage starts afresh: a busy or locked file (another process writing) is the caller's to see.
        if not self._in_use or getattr(exc, "sqlite_errorname", "") not in DAMAGED:
            raise exc
        super().close()
        self._start_afresh(exc)

    def read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Return the rows of a query; none when the file turns out damaged (it starts afresh)."""
        try:
            return super().read(sql, params)
        except sqlite3.DatabaseError as exc:
            self._recover(exc)
            return []

    def keep_only(self, table: str, column: str, keys: Iterable[str], also: str = "",
                  params: tuple[Any, ...] = ()) -> None:
        """Delete the rows of `table` whose `column` is not among `keys` (or that match `also`), so the cache
        holds the current corpus only.

        The column's values are read (from its index: the column is, or begins, the key) and the rows to go deleted
        by value. `DELETE … NOT IN` a temporary table of the keys scanned the table itself: at a million clauses the
        parse cache's 885 MB, 3.5 s when its pages were not in memory, against 0.1 s."""
        wanted = set(keys)
        with self.write() as conn:
            gone = [value for value, in conn.execute(f"SELECT {column} FROM {table}") if value not in wanted]
            for i in range(0, len(gone), IN_BATCH):
                part = gone[i : i + IN_BATCH]
                conn.execute(f"DELETE FROM {table} WHERE {column} IN ({','.join('?' * len(part))})", part)
            if also:
                conn.execute(f"DELETE FROM {table} WHERE 0{also}", params)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """Yield the connection inside one write transaction; the write is dropped when the file turns out damaged."""
        try:
            with super().write() as conn:
                yield conn
        except sqlite3.DatabaseError as exc:
            self._recover(exc)


# SQLite's result codes for a file that is not, or no longer, a sound database.
DAMAGED = {"SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CORRUPT_INDEX", "SQLITE_CORRUPT_SEQUENCE", "SQLITE_CORRUPT_VTAB"}


class CacheDamaged(Exception):
    """A cache file that SQLite cannot open; never seen by a user (the cache starts afresh)."""
