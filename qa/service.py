"""Open the assistant in the background so a server can show index-building progress meanwhile."""

from __future__ import annotations

import logging
import threading

from qa.assistant import Assistant
from qa.settings import Settings

log = logging.getLogger(__name__)


class AssistantLoader:
    """Builds (on first start) and opens the index in a thread; surfaces poll `status` until `ready`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.assistant: Assistant | None = None
        self.error: str | None = None
        self.status = "正在加载索引…"
        self._thread = threading.Thread(target=self._run, name="assistant-loader", daemon=True)

    def start(self) -> AssistantLoader:
        """Start loading and return self."""
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> Assistant | None:
        """Block until loading ends (or the timeout passes) and return the assistant if ready."""
        self._thread.join(timeout)
        return self.assistant

    @property
    def ready(self) -> bool:
        """Return True once questions can be answered."""
        return self.assistant is not None

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.status = f"首次启动，正在建立索引：{stage} {done}/{total}"

    def _run(self) -> None:
        try:
            self.assistant = Assistant.open(self.settings, on_progress=self._progress)
            self.status = "就绪"
        except Exception as exc:  # surfaced on the page; the server keeps running to show it
            log.exception("索引加载失败")
            self.error = f"索引加载失败：{exc}"
            self.status = self.error
