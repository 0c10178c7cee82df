"""User feedback on answers (👍/👎 with an optional comment), stored in SQLite; exported as JSONL or CSV by
`Feedback.export`."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from index.sqlite import SqliteStore
from qa.records import Answer
from qa.render.plain import plain_text
from qa.stores.base import COLUMNS, MAX_COMMENT_CHARS, Feedback, check_rating
from qa.stores.errors import FeedbackError
from qa.stores.records import FeedbackRow

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


def _open_error(path: Path, exc: sqlite3.Error) -> FeedbackError:
    return FeedbackError(
        f"无法打开反馈数据库 {path}：{exc}；"
        "请确认它是本程序写的 SQLite 文件、所在目录可写，或用 QA_FEEDBACK_DB 换一个路径"
    )


class FeedbackStore(SqliteStore, Feedback):
    """Feedback rows in one SQLite file, safe to write from several processes and threads at once."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, SCHEMA, _open_error)

    def record(self, answer: Answer, rating: str, comment: str = "", session: str = "") -> int:
        """Store one rating of an answer (comment cut to MAX_COMMENT_CHARS) and return its row id."""
        check_rating(rating)
        row = (
            datetime.now(UTC).isoformat(timespec="milliseconds"),
            rating,
            comment[:MAX_COMMENT_CHARS],
            answer.question,
            answer.query,
            plain_text(answer),
            int(answer.answerable),
            json.dumps([c.to_json() for c in answer.citations], ensure_ascii=False),
            session,
        )
        with self.write() as conn:
            cur = conn.execute(
                "INSERT INTO feedback (created_at, rating, comment, question, query, answer, answerable, citations,"
                " session) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def update(self, row_id: int, rating: str, comment: str = "") -> None:
        """Change the rating and comment of a stored row: one answer keeps one row when its rating is changed."""
        check_rating(rating)
        with self.write() as conn:
            cur = conn.execute("UPDATE feedback SET rating = ?, comment = ?, created_at = ? WHERE id = ?",
                               (rating, comment[:MAX_COMMENT_CHARS],
                                datetime.now(UTC).isoformat(timespec="milliseconds"), row_id))
        if cur.rowcount != 1:
            raise FeedbackError(f"没有编号为 {row_id} 的反馈记录，无法修改；请重新评价")

    def all(self, limit: int | None = None) -> list[FeedbackRow]:
        """Return the stored rows, newest first."""
        sql = f"SELECT {', '.join(COLUMNS)} FROM feedback ORDER BY id DESC"
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        rows = self.read(sql, params)
        out = []
        for values in rows:
            item = dict(zip(COLUMNS, values, strict=True))
            item["answerable"] = bool(item["answerable"])
            item["citations"] = tuple(json.loads(item["citations"]))
            out.append(FeedbackRow(**item))
        return out

    def count(self) -> int:
        """Return the number of stored rows."""
        ((n,),) = self.read("SELECT COUNT(*) FROM feedback")
        return int(n)
