"""Stores that keep the service answering when their disk is full: the failure is logged, not per message."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

log = logging.getLogger(__name__)
# An outage is logged again after this long: once per message would flood the log of a busy server, and a
# successful write is no sign of recovery (deletes still work on a full disk).
REPEAT_SECONDS = 600.0


class WriteOutage:
    """A store's failing reads and writes, logged one line at a time, at most once every REPEAT_SECONDS."""

    def __init__(self, what: str, meanwhile: str) -> None:
        self.what = what
        self.meanwhile = meanwhile
        self._logged_at: float | None = None
        self._lock = threading.Lock()

    def failed(self, exc: sqlite3.Error) -> None:
        """Note a failed read or write; log it (one line: a full disk is not a bug) unless logged lately."""
        now = time.monotonic()
        with self._lock:
            due = self._logged_at is None or now - self._logged_at >= REPEAT_SECONDS
            if due:
                self._logged_at = now
        if due:
            log.warning("%s无法读写（%s）：%s；请检查磁盘空间和文件权限", self.what, exc, self.meanwhile)
