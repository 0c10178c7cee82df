"""Per-user conversation state for chat channels (WeChat, WeCom): recent questions, pending pages, replies.

Users are stored by keyed pseudonym, never by openid, and everything expires after the TTL, whether or not its
user writes again."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from index.sqlite import SqliteStore
from qa.stores.base import Conversations
from qa.stores.errors import StoreUnavailable
from qa.stores.outage import WriteOutage, or_default
from qa.stores.pseudonyms import pseudonym, stored_salt

SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (user TEXT NOT NULL, at REAL NOT NULL, question TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS questions_user ON questions (user, at);
CREATE INDEX IF NOT EXISTS questions_at ON questions (at);
CREATE TABLE IF NOT EXISTS pages (user TEXT PRIMARY KEY, at REAL NOT NULL, pages TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pages_at ON pages (at);
CREATE TABLE IF NOT EXISTS message_replies (
    channel TEXT NOT NULL, user TEXT NOT NULL, msg_id TEXT NOT NULL, at REAL NOT NULL, reply TEXT NOT NULL,
    PRIMARY KEY (channel, user, msg_id)
);
CREATE INDEX IF NOT EXISTS message_replies_at ON message_replies (at);
"""
MAX_HISTORY = 6
# What a read answers when the database cannot be read: a new conversation.
NO_HISTORY: tuple[str, ...] = ()
NO_PAGE: tuple[str | None, int] = (None, 0)
NO_REPLY: str | None = None


def _open_error(path: Path, exc: sqlite3.Error) -> StoreUnavailable:
    return StoreUnavailable(f"无法打开会话数据库 {path}：{exc}；请检查目录可写，或用 QA_CONVERSATIONS_DB 换一个路径")


class ConversationStore(SqliteStore, Conversations):
    """Conversation state in SQLite, so several server processes (replicas) share it. When the file cannot be
    read or written, messages are answered as if the conversation were new, and the outage is logged (one line,
    at most every few minutes)."""

    def __init__(self, path: Path | str, ttl: float, salt: bytes | None = None) -> None:
        super().__init__(path, SCHEMA, _open_error)
        self.outage = WriteOutage(f"会话数据库 {self.path} ",
                                  "暂不保存上下文、“更多”分页和重试答复，回答照常")
        self.ttl = ttl
        # QA_LOG_SALT when the caller passes it, else a random key kept beside the database for every process.
        self.salt = salt or stored_salt(Path(f"{self.path}.salt"))
        with self.write() as conn:
            self._expire(conn)  # what expired while no server ran (and rows of earlier versions, keyed by openid)

    def key(self, user: str) -> str:
        """Return the pseudonym a user's rows are stored under."""
        return pseudonym(self.salt, user)

    def _expire(self, conn: sqlite3.Connection) -> None:
        """Drop everyone's expired questions, pages and replies: a user who never writes again is forgotten too."""
        before = time.time() - self.ttl
        for table in ("questions", "pages", "message_replies"):
            conn.execute(f"DELETE FROM {table} WHERE at <= ?", (before,))

    @or_default(NO_HISTORY)
    def history(self, user: str) -> tuple[str, ...]:
        """Return the user's recent questions (oldest first) asked within the TTL."""
        rows = self.read("SELECT question FROM questions WHERE user = ? AND at > ? ORDER BY at DESC LIMIT ?",
                         (self.key(user), time.time() - self.ttl, MAX_HISTORY))
        return tuple(q for (q,) in reversed(rows))

    @or_default(None)
    def add_question(self, user: str, question: str) -> None:
        """Remember a question, dropping everyone's expired state."""
        with self.write() as conn:
            self._expire(conn)
            conn.execute("INSERT INTO questions VALUES (?, ?, ?)", (self.key(user), time.time(), question))

    @or_default(None)
    def reset(self, user: str) -> None:
        """Forget the user's conversation."""
        user = self.key(user)
        with self.write() as conn:
            conn.execute("DELETE FROM questions WHERE user = ?", (user,))
            conn.execute("DELETE FROM pages WHERE user = ?", (user,))

    @or_default(None)
    def set_pages(self, user: str, pages: list[str]) -> None:
        """Keep the rest of a long reply for "更多"."""
        user = self.key(user)
        with self.write() as conn:
            if pages:
                conn.execute("INSERT OR REPLACE INTO pages VALUES (?, ?, ?)",
                             (user, time.time(), json.dumps(pages, ensure_ascii=False)))
            else:
                conn.execute("DELETE FROM pages WHERE user = ?", (user,))

    @or_default(None)
    def push_front(self, user: str, page: str) -> None:
        """Put a page before the user's remaining pages (an answer that arrived after its reply window)."""
        user = self.key(user)
        with self.write() as conn:
            row = conn.execute("SELECT pages FROM pages WHERE user = ?", (user,)).fetchone()
            pages = [page, *(json.loads(row[0]) if row else [])]
            conn.execute("INSERT OR REPLACE INTO pages VALUES (?, ?, ?)",
                         (user, time.time(), json.dumps(pages, ensure_ascii=False)))

    @or_default(NO_PAGE)
    def next_page(self, user: str) -> tuple[str | None, int]:
        """Return the next page of the user's last long reply (or None) and how many pages remain after it."""
        user = self.key(user)
        with self.write() as conn:
            row = conn.execute("SELECT pages FROM pages WHERE user = ? AND at > ?",
                               (user, time.time() - self.ttl)).fetchone()
            if row is None:
                return None, 0
            pages = json.loads(row[0])
            rest = pages[1:]
            if rest:
                conn.execute("UPDATE pages SET pages = ? WHERE user = ?", (json.dumps(rest, ensure_ascii=False), user))
            else:
                conn.execute("DELETE FROM pages WHERE user = ?", (user,))
        return pages[0], len(rest)

    @or_default(NO_REPLY)
    def reply_for(self, channel: str, user: str, msg_id: str) -> str | None:
        """Return the reply already given to this user's message on this channel (WeChat retries a message it
        got no reply to)."""
        rows = self.read("SELECT reply FROM message_replies WHERE channel = ? AND user = ? AND msg_id = ?",
                         (channel, self.key(user), msg_id))
        return rows[0][0] if rows else None

    @or_default(None)
    def save_reply(self, channel: str, user: str, msg_id: str, reply: str) -> None:
        """Remember the reply to a user's message, dropping ones older than the TTL."""
        with self.write() as conn:
            self._expire(conn)
            conn.execute("INSERT OR REPLACE INTO message_replies VALUES (?, ?, ?, ?, ?)",
                         (channel, self.key(user), msg_id, time.time(), reply))
