"""The one front door of the answering layer: what the CLI, HTTP, WeChat and the page ask, and nothing else.

It opens the knowledge base (in the background for a server, building it on first start; at once for the command
line), answers and logs each answer, and looks up documents, clauses, original files, measures and scopes."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from index.build import BuildReport
from index.knowledge import KnowledgeBase
from index.lang.terms import values
from index.loading import SUPPORTED, discover, original_file
from index.records import Clause, Manifest, PolicyDoc
from index.store import read_manifest
from qa.answer.checklist import contact
from qa.assistant import Assistant
from qa.finder import PROFILE, MeasureRow, check_filter, find_measures, measure_rows
from qa.records import Answer
from qa.service.errors import NotReady
from qa.service.loader import AssistantLoader, BuildProgress, build, open_assistant, open_knowledge
from qa.settings import Settings
from qa.stores.base import Questions
from qa.stores.factory import open_questions, where
from qa.stores.outage import OUTAGES, WriteOutage
from qa.understand.scopes import docs_in_place, filtered_doc_ids, groups_of

log = logging.getLogger(__name__)
# What the profile checklist answers when no profile is typed.
DEFAULT_PROFILE = "我是一家文化科技企业"


@dataclass(frozen=True)
class Serving:
    """What a ready service answers from: its generation (and why an older one serves, if it does), its size,
    and whether dense search and the LLM are on."""

    folder: Path
    damaged: str
    documents: int
    clauses: int
    dense: bool
    llm: bool


@dataclass(frozen=True)
class FinderRow:
    """A measure as the finder lists it, with whom to ask about it (lead agencies, else the issuer)."""

    row: MeasureRow
    contact: str


class Service:
    """Answers and look-ups over the knowledge base being served; a rebuild or a newer generation published by
    another process replaces it between two requests, never during one answer."""

    # The document formats the corpus takes (an upload of another is refused).
    formats = SUPPORTED

    def __init__(self, settings: Settings, questions: Questions | None = None) -> None:
        self.settings = settings
        self.loader = AssistantLoader(settings)
        # Every answer is logged for quality review when the question log is on (QA_LOG_QUESTIONS).
        if questions is None and settings.log_questions:
            questions = open_questions(settings)
        self.questions = questions
        self._knowledge: KnowledgeBase | None = None  # look-ups alone, without an assistant (Service.open)
        self._log_outage = WriteOutage(f"问题日志 {where(settings, settings.log_db)} ", "暂不记录问题，回答照常")

    @classmethod
    def open(cls, settings: Settings, progress: bool = True, answers: bool = True) -> Service:
        """Return a service ready at once: the index opened in this process (built first, with a progress bar, when
        there is none); the command line's, which logs no questions. answers=False: look-ups only (the measure
        finder), with no embedder loaded and no assistant made."""
        service = cls(settings.model_copy(update={"log_questions": False}))
        if answers:
            service.loader.swap(open_assistant(settings, progress=progress))
        else:
            service._knowledge = open_knowledge(settings, progress)
        return service

    @staticmethod
    def build(settings: Settings, progress: bool = True) -> BuildReport:
        """Return the report of building (or updating) the index of the corpus in this process."""
        return build(settings, progress)

    @staticmethod
    def check_filter(field: str, value: str | None) -> None:
        """Raise FilterError listing the valid values when a measure filter's value is unknown."""
        check_filter(field, value)

    @staticmethod
    def vocabulary(field: str) -> list[str]:
        """Return the measure vocabulary's values of a field (type, industry, beneficiary)."""
        return list(values(field))

    # --- opening in the background ------------------------------------------------------------------------------

    def start(self) -> Service:
        """Start opening the knowledge base in the background (building it on first start) and return self."""
        self.loader.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until opening ends (or the timeout passes) and return whether questions can be answered."""
        self.loader.wait(timeout)
        return self.ready

    def stop(self) -> None:
        """Stop following generations other processes publish, and end a build child that runs."""
        self.loader.stop()

    def rebuild(self) -> BuildReport:
        """Build a new generation in a child process and serve it once open; one rebuild at a time."""
        return self.loader.rebuild()

    @property
    def ready(self) -> bool:
        """Return True once questions can be answered (or, opened for look-ups only, looked up)."""
        return self.loader.ready or self._knowledge is not None

    @property
    def error(self) -> str | None:
        """Return why the knowledge base failed to open (redacted), or None."""
        return self.loader.error

    @property
    def status(self) -> str:
        """Return what the service is doing, in a sentence: loading, building (stage and count), ready, failed."""
        return self.loader.status

    @property
    def progress(self) -> BuildProgress | None:
        """Return where the first start's build is, or None."""
        return self.loader.progress

    @property
    def rebuilding(self) -> bool:
        """Return True while a rebuild runs."""
        return self.loader.rebuilding

    def _assistant(self) -> Assistant:
        """Return the serving assistant; NotReady while the knowledge base is opening or failed to open."""
        assistant = self.loader.assistant
        if assistant is None:
            raise NotReady(self.status)
        return assistant

    def _opened(self) -> KnowledgeBase | None:
        """Return the knowledge base being served, or None before it is open."""
        if self._knowledge is not None:
            return self._knowledge
        assistant = self.loader.assistant
        return None if assistant is None else assistant.kb

    def _kb(self) -> KnowledgeBase:
        """Return the knowledge base being served; NotReady while it is opening or failed to open."""
        kb = self._opened()
        if kb is None:
            raise NotReady(self.status)
        return kb

    # --- answers ------------------------------------------------------------------------------------------------

    def ask(self, channel: str, user: str, question: str, history: Sequence[str] = (),
            doc_ids: set[str] | None = None) -> Answer:
        """Return the answer to a question (within the documents `doc_ids`, when given), logged for review."""
        started = time.monotonic()
        answer = self._assistant().ask(question, history, doc_ids)
        self._log(channel, user, answer, time.monotonic() - started)
        return answer

    def stream(self, channel: str, user: str, question: str, history: Sequence[str] = (),
               doc_ids: set[str] | None = None) -> Iterator[str | Answer]:
        """Yield an LLM's draft as it is written, then the answer (logged for review before it is yielded)."""
        started = time.monotonic()
        for part in self._assistant().stream(question, history, doc_ids):
            if isinstance(part, Answer):
                self._log(channel, user, part, time.monotonic() - started)
            yield part

    def checklist(self, profile: str) -> Answer:
        """Return the measures that apply to a self-description ("深圳的一家动漫企业" reads as "我是…")."""
        text = profile.strip() or DEFAULT_PROFILE
        return self._assistant().ask(text if PROFILE.search(text) else f"我是{text}")

    def _log(self, channel: str, user: str, answer: Answer, seconds: float) -> None:
        """Record a question in the question log, if it is on; a logging failure never fails the answer."""
        if self.questions is None:
            return
        try:
            self.questions.record(channel, user, answer, seconds)
        except OUTAGES as exc:  # a full disk, a lost database: one line now and then, not a traceback per question
            self._log_outage.failed(exc)
        except Exception:
            log.exception("问题日志写入失败")

    # --- look-ups -----------------------------------------------------------------------------------------------

    def serving(self) -> Serving:
        """Return what the service answers from."""
        assistant = self._assistant()
        kb = assistant.kb
        return Serving(kb.folder, kb.damaged, len(kb.docs), len(kb.clauses), kb.dense is not None,
                       assistant.model is not None)

    def documents(self, region: str | None = None) -> list[PolicyDoc]:
        """Return the documents (of a region or province, its cities included), in the knowledge base's order."""
        kb = self._kb()
        return list(kb.docs.values()) if not region else [kb.docs[d] for d in docs_in_place(kb, region)]

    def document(self, doc_id: str) -> PolicyDoc | None:
        """Return a document by id, or None."""
        return self._kb().docs.get(doc_id)

    def clause(self, clause_id: str) -> Clause | None:
        """Return a clause by id, or None (e.g. one cited before a rebuild)."""
        return self._kb().clauses.get(clause_id)

    def clause_count(self, doc_id: str) -> int:
        """Return how many clauses a document has."""
        return len(self._kb().clauses_of(doc_id))

    def original_file(self, doc_id: str) -> tuple[str, bytes] | None:
        """Return the file name and bytes of a document's original file (an attachment's: the file it came in),
        None for an unknown document; DocumentError when the file has gone or changed since it was indexed."""
        doc = self.document(doc_id)
        if doc is None:
            return None
        data = original_file(doc.source, doc.member, doc.file_hash, self.settings.max_document_bytes,
                             self.settings.max_bundle_bytes)
        return PurePosixPath(doc.member or doc.source).name, data

    def scope(self, doc_ids: Sequence[str] | None, region: str | None) -> set[str] | None:
        """Return the documents an API filter allows: the listed ids (all when none), of the region; None: all."""
        return filtered_doc_ids(self._kb(), doc_ids, region)

    def scopes(self) -> dict[str, set[str]]:
        """Return the named scopes a question can be limited to (each region, each document of a small corpus);
        none before the knowledge base is open."""
        kb = self._opened()
        return {} if kb is None else groups_of(kb).scopes

    def regions(self) -> list[str]:
        """Return the regions the documents cover; none before the knowledge base is open."""
        kb = self._opened()
        return [] if kb is None else list(groups_of(kb).regions)

    def measures(self, region: str | None = None, kind: str | None = None, industry: str | None = None,
                 beneficiary: str | None = None) -> list[MeasureRow]:
        """Return the measures matching the filters (FilterError for an unknown value), each summarised by its
        sentence about the filter."""
        return measure_rows(self._kb(), region, kind, industry, beneficiary)

    def finder(self, region: str | None = None, kind: str | None = None, industry: str | None = None,
               beneficiary: str | None = None) -> list[FinderRow]:
        """Return the measures the finder lists for the filters, each with whom to ask."""
        kb = self._kb()
        focus = {"type": kind, "industry": industry, "beneficiary": beneficiary}
        # Measures with no type (其他) are not something to apply for; list them only when asked.
        return [FinderRow(MeasureRow.of(kb, m, region, focus), contact(kb, m))
                for m in find_measures(kb, region, kind, industry, beneficiary)
                if kind == "其他" or m.types != ("其他",)]

    def corpus_files(self) -> list[tuple[str, int]]:
        """Return the document files of the corpus folder (path inside it, size in bytes), sorted."""
        corpus = self.settings.corpus_dir
        return [(str(p.relative_to(corpus)), p.stat().st_size) for p in discover(corpus)]

    def manifest(self) -> Manifest | None:
        """Return the manifest of the published generation (what the last build skipped, when it ran), or None."""
        return read_manifest(self.settings.index_dir)
