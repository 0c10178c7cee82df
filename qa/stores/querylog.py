"""A log of the questions asked, for quality review: hashed user ids when configured, limited retention."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from index.sqlite import SqliteStore
from qa.records import Answer
from qa.settings import Settings
from qa.stores.base import Questions
from qa.stores.errors import StoreUnavailable
from qa.stores.pseudonyms import pseudonym, salt_for
from qa.stores.records import LoggedQuestion

SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    at REAL NOT NULL, channel TEXT NOT NULL, user TEXT NOT NULL, question TEXT NOT NULL, query TEXT NOT NULL,
    answerable INTEGER NOT NULL, clauses TEXT NOT NULL, ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS questions_at ON questions (at)
"""


def _open_error(path: Path, exc: sqlite3.Error) -> StoreUnavailable:
    return StoreUnavailable(f"无法打开问题日志 {path}：{exc}；请检查目录可写，或用 QA_LOG_DB 换一个路径")


class QuestionLog(SqliteStore, Questions):
    """Questions and how they were answered (no answer text: it is reproducible from the cited clauses)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.log_db, SCHEMA, _open_error)
        self.hash_users = settings.log_hash_users
        # Without QA_LOG_SALT the key used to be empty: an unkeyed hash anyone could recompute from an openid.
        self.salt = salt_for(settings.log_salt, settings.log_db) if self.hash_users else b""
        self.retention = settings.log_retention_days * 86_400

    def user_id(self, user: str) -> str:
        """Return the user id as stored: a keyed hash when hashing is on (WeChat openids are personal data)."""
        if not self.hash_users or not user:
            return user
        return pseudonym(self.salt, user)

    def record(self, channel: str, user: str, answer: Answer, seconds: float) -> None:
        """Store one question; rows older than the retention period go at the same time."""
        now = time.time()
        clauses = json.dumps([c.clause_id for c in answer.citations])
        with self.write() as conn:
            conn.execute("DELETE FROM questions WHERE at < ?", (now - self.retention,))
            conn.execute("INSERT INTO questions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (now, channel, self.user_id(user), answer.question, answer.query, int(answer.answerable),
                          clauses, int(seconds * 1000)))

    def rows(self) -> list[LoggedQuestion]:
        """Return the logged questions, newest first."""
        cols = ("at", "channel", "user", "question", "query", "answerable", "clauses", "ms")
        rows = self.read(f"SELECT {', '.join(cols)} FROM questions ORDER BY at DESC")
        return [LoggedQuestion(*r) for r in rows]
