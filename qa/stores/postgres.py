"""The four stores in PostgreSQL (QA_DATABASE_URL), so every app host reads and writes the same conversations,
feedback, question log and callback nonces: a user may reach any host behind the load balancer.

One module, not one per store: the four share one connection pool, one schema created under one lock, one
pseudonym key kept in the database, and one translation of a lost server into StoreOutage."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from index.postgres.database import pool
from qa.records import Answer
from qa.render.plain import plain_text
from qa.settings import Settings
from qa.stores.base import COLUMNS, MAX_COMMENT_CHARS, Conversations, Feedback, Nonces, Questions, check_rating
from qa.stores.conversations import MAX_HISTORY, NO_HISTORY, NO_PAGE, NO_REPLY
from qa.stores.errors import FeedbackError, StoreOutage, StoreUnavailable
from qa.stores.outage import WriteOutage, or_default
from qa.stores.pseudonyms import pseudonym
from qa.stores.records import FeedbackRow, LoggedQuestion

if TYPE_CHECKING:
    import psycopg

SCHEMA = "policyqa_stores"
# Interpolated into SQL (identifiers cannot be parameters): only plain lower-case names.
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# A request waits this long for a pooled connection before the store counts as out (a chat reply has 5 s in all).
CONNECTION_WAIT_S = 3.0
TABLES = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.keys (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.conversation_questions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id TEXT NOT NULL, at DOUBLE PRECISION NOT NULL,
    question TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS conversation_questions_user ON {s}.conversation_questions (user_id, at);
CREATE INDEX IF NOT EXISTS conversation_questions_at ON {s}.conversation_questions (at);
CREATE TABLE IF NOT EXISTS {s}.conversation_pages (
    user_id TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL, pages JSONB NOT NULL);
CREATE INDEX IF NOT EXISTS conversation_pages_at ON {s}.conversation_pages (at);
CREATE TABLE IF NOT EXISTS {s}.message_replies (
    channel TEXT NOT NULL, user_id TEXT NOT NULL, msg_id TEXT NOT NULL, at DOUBLE PRECISION NOT NULL,
    reply TEXT NOT NULL, PRIMARY KEY (channel, user_id, msg_id));
CREATE INDEX IF NOT EXISTS message_replies_at ON {s}.message_replies (at);
CREATE TABLE IF NOT EXISTS {s}.feedback (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, created_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')), comment TEXT NOT NULL DEFAULT '', question TEXT NOT NULL,
    query TEXT NOT NULL, answer TEXT NOT NULL, answerable INTEGER NOT NULL, citations JSONB NOT NULL,
    session TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS {s}.questions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at DOUBLE PRECISION NOT NULL, channel TEXT NOT NULL,
    user_id TEXT NOT NULL, question TEXT NOT NULL, query TEXT NOT NULL, answerable INTEGER NOT NULL,
    clauses TEXT NOT NULL, ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS questions_at ON {s}.questions (at);
CREATE TABLE IF NOT EXISTS {s}.seen_nonces (
    channel TEXT NOT NULL, timestamp TEXT NOT NULL, nonce TEXT NOT NULL, digest TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, PRIMARY KEY (channel, timestamp, nonce));
CREATE INDEX IF NOT EXISTS seen_nonces_at ON {s}.seen_nonces (at)
"""


class StoreDatabase:
    """The stores' schema in one PostgreSQL database and the pool one process's stores share."""

    def __init__(self, url: str, schema: str = SCHEMA, size: int = 4) -> None:
        if not SCHEMA_NAME.fullmatch(schema):
            raise StoreUnavailable(f"存储模式名 {schema!r} 无效：只能用小写字母、数字和下划线；请换一个名字")
        self.schema = schema
        self.pool = pool(url, vectors=False, size=size)
        with self.transaction("存储表") as conn:
            # Hosts starting together would race on CREATE SCHEMA (a unique violation): one at a time.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (schema,))
            for statement in filter(str.strip, TABLES.format(s=schema).split(";")):
                conn.execute(statement)

    @contextmanager
    def transaction(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """Yield a pooled connection inside one transaction; a lost or full server becomes StoreOutage."""
        import psycopg

        try:
            with self.pool.connection(timeout=CONNECTION_WAIT_S) as conn, conn.transaction():
                yield conn
        except psycopg.OperationalError as exc:  # server gone, disk full, no connection within the wait
            raise StoreOutage(f"PostgreSQL 中的{what}（{self.schema}）暂时无法读写（{type(exc).__name__}: {exc}）；"
                              "请检查 QA_DATABASE_URL 指向的服务器是否在运行、磁盘是否已满") from exc

    def key(self, name: str) -> bytes:
        """Return the random pseudonym key `name` kept in the database, created once for every host."""
        with self.transaction("密钥") as conn:
            conn.execute(f"INSERT INTO {self.schema}.keys VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
                         (name, secrets.token_hex(32)))
            (value,) = conn.execute(f"SELECT value FROM {self.schema}.keys WHERE name = %s",
                                    (name,)).fetchone() or ("",)
        return str(value).encode()

    def close(self) -> None:
        """Close the pool; safe to call twice."""
        self.pool.close()


class PostgresConversations(Conversations):
    """Conversation state in PostgreSQL; when the server cannot be reached, messages are answered as if the
    conversation were new, and the outage is logged (one line, at most every few minutes)."""

    def __init__(self, db: StoreDatabase, ttl: float, salt: bytes | None = None) -> None:
        self.db, self.ttl, self.s = db, ttl, db.schema
        self.outage = WriteOutage(f"PostgreSQL 中的会话记录（{db.schema}）",
                                  "暂不保存上下文、“更多”分页和重试答复，回答照常")
        # QA_LOG_SALT when the caller passes it, else a random key kept in the database for every host.
        self.salt = salt or db.key("conversations")
        with db.transaction("会话记录") as conn:
            self._expire(conn)

    def key(self, user: str) -> str:
        """Return the pseudonym a user's rows are stored under."""
        return pseudonym(self.salt, user)

    def _expire(self, conn: psycopg.Connection[Any]) -> None:
        """Drop everyone's expired questions, pages and replies."""
        before = time.time() - self.ttl
        for table in ("conversation_questions", "conversation_pages", "message_replies"):
            conn.execute(f"DELETE FROM {self.s}.{table} WHERE at <= %s", (before,))

    @or_default(NO_HISTORY)
    def history(self, user: str) -> tuple[str, ...]:
        """Return the user's recent questions (oldest first) asked within the TTL."""
        with self.db.transaction("会话记录") as conn:
            rows = conn.execute(f"SELECT question FROM {self.s}.conversation_questions WHERE user_id = %s AND at > %s"
                                " ORDER BY at DESC, id DESC LIMIT %s",
                                (self.key(user), time.time() - self.ttl, MAX_HISTORY)).fetchall()
        return tuple(q for (q,) in reversed(rows))

    @or_default(None)
    def add_question(self, user: str, question: str) -> None:
        """Remember a question, dropping everyone's expired state."""
        with self.db.transaction("会话记录") as conn:
            self._expire(conn)
            conn.execute(f"INSERT INTO {self.s}.conversation_questions (user_id, at, question) VALUES (%s, %s, %s)",
                         (self.key(user), time.time(), question))

    @or_default(None)
    def reset(self, user: str) -> None:
        """Forget the user's conversation."""
        with self.db.transaction("会话记录") as conn:
            for table in ("conversation_questions", "conversation_pages"):
                conn.execute(f"DELETE FROM {self.s}.{table} WHERE user_id = %s", (self.key(user),))

    @or_default(None)
    def set_pages(self, user: str, pages: list[str]) -> None:
        """Keep the rest of a long reply for "更多"."""
        with self.db.transaction("会话记录") as conn:
            if pages:
                conn.execute(f"INSERT INTO {self.s}.conversation_pages VALUES (%s, %s, %s) ON CONFLICT (user_id)"
                             " DO UPDATE SET at = EXCLUDED.at, pages = EXCLUDED.pages",
                             (self.key(user), time.time(), json.dumps(pages, ensure_ascii=False)))
            else:
                conn.execute(f"DELETE FROM {self.s}.conversation_pages WHERE user_id = %s", (self.key(user),))

    @or_default(None)
    def push_front(self, user: str, page: str) -> None:
        """Put a page before the user's remaining pages, in one statement (another host may be serving "更多")."""
        with self.db.transaction("会话记录") as conn:
            conn.execute(f"INSERT INTO {self.s}.conversation_pages AS p VALUES (%s, %s, %s) ON CONFLICT (user_id)"
                         " DO UPDATE SET at = EXCLUDED.at, pages = EXCLUDED.pages || p.pages",
                         (self.key(user), time.time(), json.dumps([page], ensure_ascii=False)))

    @or_default(NO_PAGE)
    def next_page(self, user: str) -> tuple[str | None, int]:
        """Return the next page of the user's last long reply (or None) and how many pages remain after it."""
        user = self.key(user)
        with self.db.transaction("会话记录") as conn:
            # FOR UPDATE: two hosts answering "更多" at once serve two different pages, not the same one twice.
            row = conn.execute(f"SELECT pages FROM {self.s}.conversation_pages WHERE user_id = %s AND at > %s"
                               " FOR UPDATE", (user, time.time() - self.ttl)).fetchone()
            if row is None:
                return None, 0
            pages: list[str] = row[0]
            rest = pages[1:]
            if rest:
                conn.execute(f"UPDATE {self.s}.conversation_pages SET pages = %s WHERE user_id = %s",
                             (json.dumps(rest, ensure_ascii=False), user))
            else:
                conn.execute(f"DELETE FROM {self.s}.conversation_pages WHERE user_id = %s", (user,))
        return pages[0], len(rest)

    @or_default(NO_REPLY)
    def reply_for(self, channel: str, user: str, msg_id: str) -> str | None:
        """Return the reply already given to this user's message on this channel (WeChat retries a message it
        got no reply to, possibly on another host)."""
        with self.db.transaction("会话记录") as conn:
            row = conn.execute(f"SELECT reply FROM {self.s}.message_replies WHERE channel = %s AND user_id = %s"
                               " AND msg_id = %s", (channel, self.key(user), msg_id)).fetchone()
        return str(row[0]) if row else None

    @or_default(None)
    def save_reply(self, channel: str, user: str, msg_id: str, reply: str) -> None:
        """Remember the reply to a user's message, dropping ones older than the TTL."""
        with self.db.transaction("会话记录") as conn:
            self._expire(conn)
            conn.execute(f"INSERT INTO {self.s}.message_replies VALUES (%s, %s, %s, %s, %s)"
                         " ON CONFLICT (channel, user_id, msg_id)"
                         " DO UPDATE SET at = EXCLUDED.at, reply = EXCLUDED.reply",
                         (channel, self.key(user), msg_id, time.time(), reply))


class PostgresFeedback(Feedback):
    """Feedback rows in PostgreSQL; the CSV and JSONL exports are the base class's."""

    def __init__(self, db: StoreDatabase) -> None:
        self.db, self.s = db, db.schema

    def record(self, answer: Answer, rating: str, comment: str = "", session: str = "") -> int:
        """Store one rating of an answer (comment cut to MAX_COMMENT_CHARS) and return its row id."""
        check_rating(rating)
        with self.db.transaction("反馈") as conn:
            (row_id,) = conn.execute(
                f"INSERT INTO {self.s}.feedback (created_at, rating, comment, question, query, answer, answerable,"
                " citations, session) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (_now(), rating, comment[:MAX_COMMENT_CHARS], answer.question, answer.query, plain_text(answer),
                 int(answer.answerable), json.dumps([c.to_json() for c in answer.citations], ensure_ascii=False),
                 session)).fetchone() or (0,)
        return int(row_id)

    def update(self, row_id: int, rating: str, comment: str = "") -> None:
        """Change the rating and comment of a stored row: one answer keeps one row when its rating is changed."""
        check_rating(rating)
        with self.db.transaction("反馈") as conn:
            changed = conn.execute(f"UPDATE {self.s}.feedback SET rating = %s, comment = %s, created_at = %s"
                                   " WHERE id = %s", (rating, comment[:MAX_COMMENT_CHARS], _now(), row_id)).rowcount
        if changed != 1:
            raise FeedbackError(f"没有编号为 {row_id} 的反馈记录，无法修改；请重新评价")

    def all(self, limit: int | None = None) -> list[FeedbackRow]:
        """Return the stored rows, newest first."""
        with self.db.transaction("反馈") as conn:
            rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {self.s}.feedback ORDER BY id DESC LIMIT %s",
                                (limit,)).fetchall()
        out = []
        for values in rows:
            item = dict(zip(COLUMNS, values, strict=True))
            item["answerable"] = bool(item["answerable"])
            item["citations"] = tuple(item["citations"])  # JSONB comes back as a list
            out.append(FeedbackRow(**item))
        return out

    def count(self) -> int:
        """Return the number of stored rows."""
        with self.db.transaction("反馈") as conn:
            (n,) = conn.execute(f"SELECT COUNT(*) FROM {self.s}.feedback").fetchone() or (0,)
        return int(n)


class PostgresQuestions(Questions):
    """The question log in PostgreSQL: keyed pseudonyms when hashing is on, rows past the retention period go."""

    def __init__(self, db: StoreDatabase, settings: Settings) -> None:
        self.db, self.s = db, db.schema
        self.hash_users = settings.log_hash_users
        configured = settings.log_salt.get_secret_value().encode()
        self.salt = (configured or db.key("questions")) if self.hash_users else b""
        self.retention = settings.log_retention_days * 86_400

    def user_id(self, user: str) -> str:
        """Return the user id as stored: a keyed hash when hashing is on (WeChat openids are personal data)."""
        return pseudonym(self.salt, user) if self.hash_users and user else user

    def record(self, channel: str, user: str, answer: Answer, seconds: float) -> None:
        """Store one question; rows older than the retention period go at the same time."""
        now = time.time()
        with self.db.transaction("问题日志") as conn:
            conn.execute(f"DELETE FROM {self.s}.questions WHERE at < %s", (now - self.retention,))
            conn.execute(f"INSERT INTO {self.s}.questions (at, channel, user_id, question, query, answerable, clauses,"
                         " ms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                         (now, channel, self.user_id(user), answer.question, answer.query, int(answer.answerable),
                          json.dumps([c.clause_id for c in answer.citations]), int(seconds * 1000)))

    def rows(self) -> list[LoggedQuestion]:
        """Return the logged questions, newest first."""
        with self.db.transaction("问题日志") as conn:
            rows = conn.execute(f"SELECT at, channel, user_id, question, query, answerable, clauses, ms"
                                f" FROM {self.s}.questions ORDER BY at DESC, id DESC").fetchall()
        return [LoggedQuestion(*r) for r in rows]


class PostgresNonces(Nonces):
    """Seen callback pairs in PostgreSQL; a lost server raises StoreOutage, which the replay guard turns into
    remembering pairs in its process."""

    def __init__(self, db: StoreDatabase) -> None:
        self.db, self.s = db, db.schema
        self.where = f"PostgreSQL {db.schema}.seen_nonces"

    def first_digest(self, channel: str, timestamp: str, nonce: str, digest: str, keep: float) -> str:
        """Return the digest first recorded for this pair (this one, if it is new); a concurrent insert of the same
        pair on another host waits for that one to commit, so exactly one payload wins."""
        now = time.time()
        with self.db.transaction("回调防重放记录") as conn:
            conn.execute(f"DELETE FROM {self.s}.seen_nonces WHERE at < %s", (now - keep,))
            inserted = conn.execute(f"INSERT INTO {self.s}.seen_nonces VALUES (%s, %s, %s, %s, %s)"
                                    " ON CONFLICT DO NOTHING", (channel, timestamp, nonce, digest, now)).rowcount
            if inserted:
                return digest
            (first,) = conn.execute(f"SELECT digest FROM {self.s}.seen_nonces WHERE channel = %s AND timestamp = %s"
                                    " AND nonce = %s", (channel, timestamp, nonce)).fetchone() or (digest,)
        return str(first)


def _now() -> str:
    """Return the time a rating is stamped with: ISO 8601, UTC, milliseconds (as the SQLite store writes it)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
