"""User feedback on answers (👍/👎 with an optional comment), stored in SQLite and exportable as JSONL or CSV."""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Literal, TextIO

from qa.errors import FeedbackError
from qa.models import Answer

RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 2000
BUSY_TIMEOUT_S = 10.0
COLUMNS = ("id", "created_at", "rating", "comment", "question", "query", "answer", "answerable", "citations",
           "session")

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    query TEXT NOT NULL,
    answer TEXT NOT NULL,
    answerable INTEGER NOT NULL,
    citations TEXT NOT NULL,
    session TEXT NOT NULL DEFAULT ''
)
"""


class FeedbackStore:
    """Feedback rows in one SQLite file, safe to write from several processes and threads at once."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves so no implicit transaction is left open.
            # check_same_thread=False + the lock: the web UI calls in from worker threads; the lock serialises them.
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                         check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._open_error(exc) from exc
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            # WAL lets readers run beside a writer and makes concurrent writers queue on the busy timeout.
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            with self._write():
                self._conn.execute(SCHEMA)
        except sqlite3.Error as exc:
            self._conn.close()
            raise self._open_error(exc) from exc

    def _open_error(self, exc: sqlite3.Error) -> FeedbackError:
        return FeedbackError(
            f"无法打开反馈数据库 {self.path}：{exc}；请确认它是本程序写的 SQLite 文件、所在目录可写，"
            f"或用 QA_FEEDBACK_DB 换一个路径"
        )

    def _write(self) -> _WriteTxn:
        return _WriteTxn(self._conn, self._lock)

    def record(self, answer: Answer, rating: str, comment: str = "", session: str = "") -> int:
        """Store one rating of an answer (comment cut to MAX_COMMENT_CHARS) and return its row id."""
        if rating not in RATINGS:
            raise FeedbackError(f"无效的评价 {rating!r}：只能是 'up'（有帮助）或 'down'（没帮助）；请改用其中之一")
        row = (
            datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            rating,
            comment[:MAX_COMMENT_CHARS],
            answer.question,
            answer.query,
            answer.text,
            int(answer.answerable),
            json.dumps([c.to_json() for c in answer.citations], ensure_ascii=False),
            session,
        )
        with self._write():
            cur = self._conn.execute(
                "INSERT INTO feedback (created_at, rating, comment, question, query, answer, answerable, citations,"
                " session) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def all(self, limit: int | None = None) -> list[dict]:
        """Return the stored rows, newest first, with citations as lists and answerable as bool."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id DESC"
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        out = []
        for values in rows:
            item = dict(zip(COLUMNS, values, strict=True))
            item["answerable"] = bool(item["answerable"])
            item["citations"] = json.loads(item["citations"])
            out.append(item)
        return out

    def export(self, fmt: Literal["jsonl", "csv"], out: TextIO) -> int:
        """Write every row (newest first) to `out` as JSON lines or CSV and return how many were written."""
        rows = self.all()
        if fmt == "jsonl":
            for item in rows:
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
        elif fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            for item in rows:
                # CSV cells are flat text: keep the citations as the same JSON list JSONL carries.
                writer.writerow({**item, "citations": json.dumps(item["citations"], ensure_ascii=False),
                                 "answerable": int(item["answerable"])})
        else:
            raise FeedbackError(f"不支持的导出格式 {fmt!r}：只能是 'jsonl' 或 'csv'；请改用其中之一")
        return len(rows)

    def count(self) -> int:
        """Return the number of stored rows."""
        with self._lock:
            (n,) = self._conn.execute("SELECT COUNT(*) FROM feedback").fetchone()
        return int(n)

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class _WriteTxn:
    """One short write transaction: BEGIN IMMEDIATE takes the write lock up front, then COMMIT or ROLLBACK."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            # IMMEDIATE, not DEFERRED: a deferred read-then-write upgrade can fail with "locked" without waiting.
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                self._conn.execute("COMMIT")
            elif self._conn.in_transaction:  # SQLite may already have rolled back; a second ROLLBACK would mask exc.
                self._conn.execute("ROLLBACK")
        finally:
            self._lock.release()
