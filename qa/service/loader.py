"""Open the assistant (building the index first when there is none), in the background for a server so it can
show the build's progress meanwhile."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from index.build import BuildReport, build_index
from index.embedding import PolicyEmbeddings, load_embeddings
from index.errors import DatabaseUnavailable
from index.knowledge import KnowledgeBase
from index.store import current_generation
from qa.assistant import Assistant
from qa.errors import BuildFailed
from qa.service.backend import needs_first_build, needs_rewrite, open_knowledge_base, publish_build, serving_marker
from qa.service.builder import BuildProcess
from qa.service.redact import public, register_settings
from qa.settings import Settings

log = logging.getLogger(__name__)
# How often a server looks for a generation another process published (`python -m qa build`, another replica).
WATCH_SECONDS = 2.0
# A generation swapped out is released (its lease, its vector store) this long after the swap at the latest:
# longer than any request (the LLM times out after 30 s by default).
RELEASE_AFTER_SECONDS = 120.0


def build(settings: Settings, progress: bool = True, embeddings: PolicyEmbeddings | None = None) -> BuildReport:
    """Return the report of building (or updating) the index of the corpus in this process, with the embedder
    given (one already loaded), else the configured one."""
    if embeddings is None:
        embeddings = load_embeddings(settings.embedder_config)
    report = build_index(settings.build_config, embeddings, progress=progress)
    # With QA_DATABASE_URL the generation is also written to PostgreSQL and every host switched to it.
    if (generation := publish_build(settings, embeddings)) is not None:
        log.info("已写入 PostgreSQL 并切换到索引 %s", generation)
    return report


def open_assistant(settings: Settings, build_if_missing: bool = True, progress: bool = True) -> Assistant:
    """Return an assistant over the index, building it from the corpus first (in this process) when there is none."""
    embeddings = load_embeddings(settings.embedder_config)
    if build_if_missing and needs_first_build(settings, embeddings):
        log.info("首次启动：正在为 %s 建立索引", settings.corpus_dir)
        log.info(build(settings, progress, embeddings).summary())
    return Assistant(settings, open_knowledge_base(settings, embeddings), embeddings)


def open_knowledge(settings: Settings, progress: bool = True) -> KnowledgeBase:
    """Return the knowledge base for look-ups alone (keyword search, no embedder loaded), building it from the
    corpus first when no generation exists at all."""
    if current_generation(settings.index_dir) is None:
        log.info("首次启动：正在为 %s 建立索引", settings.corpus_dir)
        log.info(build(settings, progress).summary())
    return open_knowledge_base(settings, None)


@dataclass(frozen=True)
class BuildProgress:
    """Where a first-start build is: its stage, items done of total, and where and when the stage began."""

    stage: str
    done: int
    total: int
    first_done: int
    started: float  # time.monotonic()

    def remaining(self, now: float) -> float | None:
        """Return the seconds the stage still needs at its pace so far; None before it has a pace."""
        if self.done <= self.first_done or now <= self.started:
            return None
        return (self.total - self.done) * (now - self.started) / (self.done - self.first_done)


class AssistantLoader:
    """Builds (on first start) and opens the index in a thread; surfaces poll `status` until `ready`.

    Every build runs in a child process (qa.service.builder): answering keeps its memory and, at a lower
    priority for the child, its cores; a child that dies fails the build and nothing else."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        register_settings(settings)  # whatever this process logs or shows from here on is redacted
        self.assistant: Assistant | None = None
        self.error: str | None = None
        self.status = "正在加载索引…"
        self.progress: BuildProgress | None = None  # the first-start build's, for a page to word
        self.rebuilding = False
        self._rebuild_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="assistant-loader", daemon=True)
        self._stop = threading.Event()
        self._marker: object | None = None
        self._build: BuildProcess | None = None

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
        last = self.progress
        if last is None or last.stage != stage:
            self.progress = BuildProgress(stage, done, total, done, time.monotonic())
        else:
            self.progress = dataclasses.replace(last, done=done, total=total)
        self.status = f"首次启动，正在建立索引：{stage} {done}/{total}"

    def _run(self) -> None:
        try:
            # No index yet, or one whose vectors are of another embedder (a new default): build before serving.
            if needs_first_build(self.settings, load_embeddings(self.settings.embedder_config)):
                log.info("首次启动：正在为 %s 建立索引", self.settings.corpus_dir)
                log.info(self._build_in_child(self._progress).summary())
            self.assistant = open_assistant(self.settings, build_if_missing=False)
            self.status = "就绪"
            if needs_rewrite(self.settings):
                # Served meanwhile: only the measure queries are slower until the rewrite is switched to.
                log.info("索引 %s 的记录文件是旧格式：在后台重写", self.assistant.kb.folder.name)
                threading.Thread(target=self._rewrite, name="index-rewrite", daemon=True).start()
        except Exception as exc:  # surfaced on the page; the server keeps running to show it
            log.exception("索引加载失败")
            # Shown on /healthz and the page: an exception's text may hold a URL with its credentials, and paths.
            self.error = f"索引加载失败：{public(str(exc))}（详见服务器日志）"
            self.status = self.error
        self._marker = self._current_marker()
        # Also after a failure: a `python -m qa build` that repairs the index brings the server back.
        threading.Thread(target=self._watch, name="index-watch", daemon=True).start()

    def _rewrite(self) -> None:
        """Rebuild the serving generation in the current format and switch to it; a failure is logged, and the
        generation served as it is."""
        try:
            log.info(self.rebuild().summary())
        except Exception as exc:  # the old generation still answers; the next build tries again
            log.error("重写旧格式索引失败，继续使用当前索引：%s", public(str(exc)))

    def _watch(self) -> None:
        """Switch to a generation another process published; opening and verifying it happens here, off the
        request path, and questions are answered from the current one until the swap."""
        while not self._stop.wait(WATCH_SECONDS):
            marker = self._current_marker()
            if marker is None or marker == self._marker or self.rebuilding:
                continue
            try:
                self.reload()
            except Exception as exc:  # keep serving what we have; try again at the next publish
                log.error("切换到新索引失败，继续使用当前索引：%s", exc)
            self._marker = marker

    def _current_marker(self) -> object | None:
        """Return the marker of the published generation; None while the index folder (or the database) cannot
        be read (a file in its place, no permission, a restarting server), which must not end the loader or the
        watcher."""
        try:
            return serving_marker(self.settings)
        except (OSError, DatabaseUnavailable):
            return None

    def reload(self) -> None:
        """Open the generation CURRENT names (verified, with fallback) and switch to it if it is another."""
        with self._rebuild_lock:
            if (switched := self._open_serving()) is not None:
                log.info("已切换到索引 %s", switched)

    def _open_serving(self) -> str | None:
        """Open the generation that serves (verified, with fallback) and answer from it; return its name, or None
        (closing it again) when it is the one answered from already. The caller holds the rebuild lock."""
        current = self.assistant
        embeddings = current.embeddings if current else load_embeddings(self.settings.embedder_config)
        kb = open_knowledge_base(self.settings, embeddings)
        if current is not None and (kb.folder, kb.damaged) == (current.kb.folder, current.kb.damaged):
            kb.close()
            return None
        self.swap(Assistant(self.settings, kb, embeddings))
        return kb.folder.name

    def swap(self, fresh: Assistant) -> None:
        """Serve `fresh` from now on: one reference swap, so questions in flight finish on the old assistant.

        The old generation is released when it is garbage-collected, and at the latest RELEASE_AFTER_SECONDS
        later; until then no build deletes it."""
        old, self.assistant = self.assistant, fresh
        self.error, self.status = None, "就绪"
        if old is not None and old.kb is not fresh.kb:
            timer = threading.Timer(RELEASE_AFTER_SECONDS, old.kb.close)
            timer.daemon = True
            timer.start()

    def _switch(self, report: BuildReport) -> None:
        """Open the generation a build made serve and answer from it. Also when unchanged but serving another
        folder: a fallback, or a CLI build not yet picked up."""
        serving = self.assistant.kb.folder if self.assistant else None
        if not report.unchanged or serving != current_generation(self.settings.index_dir):
            # Nothing to open when it was switched to as it started serving and nothing was compacted since.
            self._open_serving()

    def _switch_early(self, report: BuildReport) -> None:
        """Switch to the generation a build child made serve while it goes on (compacting it); a generation that
        cannot open is logged, the current one serves on and the switch after the build tries again."""
        try:
            self._switch(report)
        except Exception as exc:
            log.error("切换到新索引失败，继续使用当前索引：%s", exc)

    def stop(self) -> None:
        """Stop watching for generations published by other processes, and end a build child that runs."""
        self._stop.set()
        if (build := self._build) is not None:
            build.kill()

    def _build_in_child(self, on_progress: Callable[[str, int, int], None] | None = None,
                        on_served: Callable[[BuildReport], None] | None = None) -> BuildReport:
        """Return the report of a build run in a child process; raise BuildFailed when it fails or dies."""
        if self._stop.is_set():
            raise BuildFailed("服务正在停止，未建立索引")
        self._build = BuildProcess(self.settings)
        try:
            return self._build.run(on_progress, on_served)
        finally:
            self._build = None

    def rebuild(self) -> BuildReport:
        """Build a new index generation from the corpus in a child process and switch to it; questions keep
        being answered from the current one until the new one is open. One rebuild at a time."""
        with self._rebuild_lock:
            self.rebuilding = True
            try:
                # The changed documents are answered from as soon as their generation serves, while the child
                # may still compact it (a copy of the records file: ~20 s at 1M).
                report = self._build_in_child(on_served=self._switch_early)
                self._switch(report)
                self._marker = self._current_marker()
                return report
            finally:
                self.rebuilding = False
