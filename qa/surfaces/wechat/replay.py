"""Replay protection for signed callbacks: each (timestamp, nonce) pair is accepted with one payload only."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path

from index.sqlite import SqliteStore
from qa.stores.errors import StoreUnavailable
from qa.stores.outage import WriteOutage
from qa.surfaces.errors import CallbackRejected

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_nonces (
    channel TEXT NOT NULL, timestamp TEXT NOT NULL, nonce TEXT NOT NULL, digest TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (channel, timestamp, nonce)
);
CREATE INDEX IF NOT EXISTS seen_nonces_at ON seen_nonces (at)
"""


def _open_error(path: Path, exc: sqlite3.Error) -> StoreUnavailable:
    return StoreUnavailable(f"无法打开会话数据库 {path}：{exc}；请检查目录可写，或用 QA_CONVERSATIONS_DB 换一个路径")


class ReplayGuard(SqliteStore):
    """The (timestamp, nonce) pairs of accepted callbacks, shared by every server process through SQLite.

    A signature stays valid for `max_age` seconds either side of now, so a pair is kept for twice that (plus a
    minute of clock skew) and then forgotten: a replay older than that fails the timestamp check instead."""

    def __init__(self, path: Path | str, max_age: int) -> None:
        super().__init__(path, SCHEMA, _open_error)
        self.keep = 2 * max_age + 60
        self.outage = WriteOutage(f"回调防重放记录（{self.path}）", "改为记在本进程内存中，其他进程看不到")
        # While the file cannot be written: pairs seen by this process, so a replay to it is still caught.
        self._memory: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._memory_lock = threading.Lock()

    def check(self, channel: str, timestamp: str, nonce: str, payload: str) -> None:
        """Record a verified callback; raise CallbackRejected when its (timestamp, nonce) came with another payload.

        The same pair with the same payload is let through: should WeChat retry an identical request, the reply
        comes from the (channel, user, MsgId) reply store and nothing is answered twice. The payload is the
        decrypted XML in safe mode, so only the holder of the AES key could produce a second one."""
        digest = hashlib.sha256(payload.encode()).hexdigest()
        try:
            first = self._stored(channel, timestamp, nonce, digest)
        except sqlite3.OperationalError as exc:  # a full disk must not stop every callback
            self.outage.failed(exc)
            first = self._remembered(channel, timestamp, nonce, digest)
        if first != digest:
            raise CallbackRejected("timestamp/nonce 已被另一条消息使用（疑似重放）")

    def _stored(self, channel: str, timestamp: str, nonce: str, digest: str) -> str:
        """Return the digest first recorded in the file for this pair (this one, if it is new)."""
        now = time.time()
        with self.write() as conn:  # BEGIN IMMEDIATE: insert-or-compare is atomic across processes
            conn.execute("DELETE FROM seen_nonces WHERE at < ?", (now - self.keep,))
            inserted = conn.execute("INSERT OR IGNORE INTO seen_nonces VALUES (?, ?, ?, ?, ?)",
                                    (channel, timestamp, nonce, digest, now)).rowcount
            if inserted:
                return digest
            (first,) = conn.execute("SELECT digest FROM seen_nonces WHERE channel = ? AND timestamp = ? AND nonce = ?",
                                    (channel, timestamp, nonce)).fetchone()
        return str(first)

    def _remembered(self, channel: str, timestamp: str, nonce: str, digest: str) -> str:
        """Return the digest first seen in this process for this pair, keeping pairs for as long as the file would."""
        now = time.time()
        with self._memory_lock:
            self._memory = {k: v for k, v in self._memory.items() if v[1] >= now - self.keep}
            return self._memory.setdefault((channel, timestamp, nonce), (digest, now))[0]
