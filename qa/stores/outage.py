"""Stores that keep the service answering when their disk is full or their server is gone: the failure is logged,
not per message."""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from qa.stores.errors import StoreOutage

log = logging.getLogger(__name__)
# An outage is logged again after this long: once per message would flood the log of a busy server, and a
# successful write is no sign of recovery (deletes still work on a full disk).
REPEAT_SECONDS = 600.0
# What a store raises when it cannot be read or written just now: SQLite's full disk, I/O error or lock held past
# the busy timeout; PostgreSQL's lost server or full disk (translated by qa/stores/postgres.py).
OUTAGES: tuple[type[Exception], ...] = (sqlite3.OperationalError, StoreOutage)
P = ParamSpec("P")
R = TypeVar("R")


class WriteOutage:
    """A store's failing reads and writes, logged one line at a time, at most once every REPEAT_SECONDS."""

    def __init__(self, what: str, meanwhile: str) -> None:
        self.what = what
        self.meanwhile = meanwhile
        self._logged_at: float | None = None
        self._lock = threading.Lock()

    def failed(self, exc: Exception) -> None:
        """Note a failed read or write; log it (one line: a full disk is not a bug) unless logged lately."""
        now = time.monotonic()
        with self._lock:
            due = self._logged_at is None or now - self._logged_at >= REPEAT_SECONDS
            if due:
                self._logged_at = now
        if not due:
            return
        if isinstance(exc, StoreOutage):  # its message names the store, the cause and the fix already
            log.warning("%s：%s", exc, self.meanwhile)
        else:
            log.warning("%s无法读写（%s）：%s；请检查磁盘空间和文件权限", self.what, exc, self.meanwhile)


class Outaged(Protocol):
    """A store that notes its outages."""

    outage: WriteOutage


S = TypeVar("S", bound=Outaged)


def or_default(default: R) -> Callable[[Callable[Concatenate[S, P], R]], Callable[Concatenate[S, P], R]]:
    """Return a decorator that answers `default` when the store cannot be read or written (one of OUTAGES): a chat
    message is then answered without its stored context."""
    def wrap(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
        @functools.wraps(method)
        def run(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(self, *args, **kwargs)
            except OUTAGES as exc:
                self.outage.failed(exc)
                return default
        return run
    return wrap
