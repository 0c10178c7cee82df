"""The assistant: question (+ history) -> rewrite -> hybrid retrieval -> relevance -> cited answer."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from index.build import build_index
from index.embedding import PolicyEmbeddings, load_embeddings
from index.store import KnowledgeBase, current_generation, open_index
from qa.answer.base import Answerer, refusal
from qa.answer.extractive import ExtractiveAnswerer
from qa.models import Answer
from qa.query import parse_query
from qa.relevance import select_evidence
from qa.retrieve import HybridRetriever
from qa.rewrite import rewrite
from qa.settings import Settings

log = logging.getLogger(__name__)


class Assistant:
    """Answers questions about the indexed policy documents, citing the clauses it relies on."""

    def __init__(self, settings: Settings, kb: KnowledgeBase, embeddings: PolicyEmbeddings | None,
                 answerer: Answerer | None = None) -> None:
        self.settings = settings
        self.kb = kb
        self.embeddings = embeddings
        self.retriever = HybridRetriever(kb=kb, k=settings.top_k)
        self.answerer = answerer or ExtractiveAnswerer()

    @classmethod
    def open(cls, settings: Settings, build_if_missing: bool = True, progress: bool = True) -> Assistant:
        """Return an assistant over the index, building it from the corpus first when there is none."""
        embeddings = load_embeddings(settings)
        if build_if_missing and current_generation(settings.index_dir) is None:
            log.info("首次启动：正在为 %s 建立索引", settings.corpus_dir)
            report = build_index(settings, embeddings, progress=progress)
            log.info(report.summary())
        return cls(settings, open_index(settings.index_dir, embeddings), embeddings)

    def ask(self, question: str, history: Sequence[str] = (), doc_ids: set[str] | None = None) -> Answer:
        """Return the cited answer to a question, resolving follow-ups against earlier questions."""
        query = parse_query(rewrite(question, list(history)))
        if not query.text:
            return refusal(query, question, list(self.kb.docs.values()), "请输入您想咨询的政策问题。")
        retrieved = self.retriever.search(query, doc_ids)
        evidence, reason = select_evidence(self.kb, query, retrieved, self.settings.max_answer_clauses)
        if reason is not None:
            return refusal(query, question, list(self.kb.docs.values()), reason, retrieved)
        answer = self.answerer.answer(query, question, evidence, retrieved)
        if query.truncated:
            notice = f"问题过长，仅按前 {len(query.text)} 个字回答。"
            answer = Answer(answer.question, answer.query, notice + "\n\n" + answer.text, answer.answerable,
                            answer.citations, answer.retrieved, (*answer.notices, notice))
        return answer
