"""A wall-clock limit on reading or parsing one file, so that no single document can hold a build for hours."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from index.errors import DocumentError


@contextmanager
def time_limit(seconds: float, message: str) -> Iterator[None]:
    """Raise DocumentError(message) inside the block once it has run `seconds` of wall-clock time.

    The limit is an interval timer (SIGALRM): it interrupts pure Python work (jieba, the clause tree) and a wait on a
    converter process (which subprocess.run then kills). Only the main thread of a process receives signals, so
    elsewhere (a library caller's own thread) the block runs without a limit; builds run in a process's main thread
    (the CLI, the server's build process, the parsing workers)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise DocumentError(message)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
