"""The (timestamp, nonce) pairs of accepted signed callbacks in SQLite, shared by every server process."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from index.sqlite import SqliteStore
from qa.stores.base import Nonces
from qa.stores.errors import StoreUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_nonces (
    channel TEXT NOT NULL, timestamp TEXT NOT NULL, nonce TEXT NOT NULL, digest TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (channel, timestamp, nonce)
);
CREATE INDEX IF NOT EXISTS seen_nonces_at ON seen_nonces (at)
"""


def _open_error(path: Path, exc: sqlite3.Error) -> StoreUnavailable:
    return StoreUnavailable(f"无法打开会话数据库 {path}：{exc}；请检查目录可写，或用 QA_CONVERSATIONS_DB 换一个路径")


class NonceStore(SqliteStore, Nonces):
    """Seen callback pairs in one SQLite file (the conversations database); a full disk raises
    sqlite3.OperationalError, which the replay guard turns into remembering pairs in its process."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, SCHEMA, _open_error)
        self.where = str(self.path)

    def first_digest(self, channel: str, timestamp: str, nonce: str, digest: str, keep: float) -> str:
        """Return the digest first recorded in the file for this pair (this one, if it is new)."""
        now = time.time()
        with self.write() as conn:  # BEGIN IMMEDIATE: insert-or-compare is atomic across processes
            conn.execute("DELETE FROM seen_nonces WHERE at < ?", (now - keep,))
            inserted = conn.execute("INSERT OR IGNORE INTO seen_nonces VALUES (?, ?, ?, ?, ?)",
                                    (channel, timestamp, nonce, digest, now)).rowcount
            if inserted:
                return digest
            (first,) = conn.execute("SELECT digest FROM seen_nonces WHERE channel = ? AND timestamp = ? AND nonce = ?",
                                    (channel, timestamp, nonce)).fetchone()
        return str(first)
