"""User feedback on answers (👍/👎 with an optional comment), stored in SQLite and exportable as JSONL or CSV."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TextIO

from index.sqlite import SqliteStore
from qa.records import Answer
from qa.render.plain import plain_text
from qa.stores.errors import FeedbackError
from qa.stores.records import FeedbackRow

RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 2000
# A cell starting with one of these runs as a formula when the CSV is opened in Excel, WPS or LibreOffice
# (=HYPERLINK(...) sending data away, DDE commands); comments and questions come from the public page. OWASP
# "CSV Injection": prefix such cells with ' so they show as text. The full-width signs too, defensively: CJK
# input methods type them and some spreadsheets read them as the ASCII ones.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
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


def _open_error(path: Path, exc: sqlite3.Error) -> FeedbackError:
    return FeedbackError(
        f"无法打开反馈数据库 {path}：{exc}；"
        "请确认它是本程序写的 SQLite 文件、所在目录可写，或用 QA_FEEDBACK_DB 换一个路径"
    )


def _as_text(value: object) -> object:
    """Return a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_START) else value


class FeedbackStore(SqliteStore):
    """Feedback rows in one SQLite file, safe to write from several processes and threads at once."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, SCHEMA, _open_error)

    def record(self, answer: Answer, rating: str, comment: str = "", session: str = "") -> int:
        """Store one rating of an answer (comment cut to MAX_COMMENT_CHARS) and return its row id."""
        if rating not in RATINGS:
            raise FeedbackError(f"无效的评价 {rating!r}：只能是 'up'（有帮助）或 'down'（没帮助）；请改用其中之一")
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
        if rating not in RATINGS:
            raise FeedbackError(f"无效的评价 {rating!r}：只能是 'up'（有帮助）或 'down'（没帮助）；请改用其中之一")
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

    def export(self, fmt: Literal["jsonl", "csv"], out: TextIO) -> int:
        """Write every row (newest first) to `out` as JSON lines (exact) or CSV (for spreadsheets: a cell that
        would run as a formula starts with ') and return how many were written."""
        rows = [r.to_json() for r in self.all()]
        if fmt == "jsonl":
            for item in rows:
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
        elif fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            for item in rows:
                # CSV cells are flat text: keep the citations as the same JSON list JSONL carries.
                row = {**item, "citations": json.dumps(item["citations"], ensure_ascii=False),
                       "answerable": int(item["answerable"])}
                writer.writerow({name: _as_text(value) for name, value in row.items()})
        else:
            raise FeedbackError(f"不支持的导出格式 {fmt!r}：只能是 'jsonl' 或 'csv'；请改用其中之一")
        return len(rows)

    def count(self) -> int:
        """Return the number of stored rows."""
        ((n,),) = self.read("SELECT COUNT(*) FROM feedback")
        return int(n)
