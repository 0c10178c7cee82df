"""Open the assistant in the background so a server can show index-building progress meanwhile."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from index.build import BuildReport, build_index
from index.embedding import load_embeddings
from index.store import open_index
from qa.assistant import Assistant
from qa.records import Answer
from qa.server.querylog import QuestionLog
from qa.server.redact import redact, register_settings
from qa.settings import Settings

log = logging.getLogger(__name__)


class AssistantLoader:
    """Builds (on first start) and opens the index in a thread; surfaces poll `status` until `ready`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        register_settings(settings)  # whatever this process logs or shows from here on is redacted
        self.assistant: Assistant | None = None
        self.error: str | None = None
        self.status = "正在加载索引…"
        self.rebuilding = False
        self._rebuild_lock = threading.Lock()
        self.questions = QuestionLog(settings) if settings.log_questions else None
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
            # Shown on /healthz and the page: an exception's text may hold a URL with its credentials.
            self.error = f"索引加载失败：{redact(str(exc))}"
            self.status = self.error

    def ask(self, channel: str, user: str, question: str, history: Sequence[str] = (),
            doc_ids: set[str] | None = None) -> Answer:
        """Return the answer from the ready assistant, logged for quality review."""
        assert self.assistant is not None
        started = time.monotonic()
        answer = self.assistant.ask(question, history, doc_ids)
        self.log(channel, user, answer, time.monotonic() - started)
        return answer

    def log(self, channel: str, user: str, answer: Answer, seconds: float) -> None:
        """Record a question in the question log, if it is on; a logging failure never fails the answer."""
        if self.questions is None:
            return
        try:
            self.questions.record(channel, user, answer, seconds)
        except Exception:
            log.exception("问题日志写入失败")

    def rebuild(self) -> BuildReport:
        """Build a new index generation from the corpus and switch to it; questions keep being answered
        from the current one until the new one is open. One rebuild at a time."""
        with self._rebuild_lock:
            self.rebuilding = True
            try:
                embeddings = (self.assistant.embeddings if self.assistant
                              else load_embeddings(self.settings.embedder_config))
                report = build_index(self.settings.build_config, embeddings, progress=False)
                if not report.unchanged or self.assistant is None:
                    kb = open_index(self.settings.index_dir, embeddings, self.settings.chroma_url)
                    fresh = Assistant(self.settings, kb, embeddings)
                    self.assistant = fresh  # one reference swap: in-flight questions finish on the old one
                return report
            finally:
                self.rebuilding = False
