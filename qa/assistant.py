"""The assistant: question (+ history) -> rewrite -> hybrid retrieval -> relevance -> cited answer."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

from index.build import build_index
from index.embedding import PolicyEmbeddings, load_embeddings
from index.store import KnowledgeBase, current_generation, open_index
from qa.answer.base import Answerer, refusal
from qa.answer.extractive import ExtractiveAnswerer
from qa.models import Answer
from qa.overview import find_section, overview_answer
from qa.query import Query, parse_query
from qa.relevance import select_evidence
from qa.retrieve import HybridRetriever
from qa.rewrite import rewrite
from qa.script import is_traditional, to_simplified, to_traditional
from qa.settings import Settings
from qa.suggest import suggest

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
    def open(cls, settings: Settings, build_if_missing: bool = True, progress: bool = True,
             on_progress: Callable[[str, int, int], None] | None = None) -> Assistant:
        """Return an assistant over the index, building it from the corpus first when there is none."""
        embeddings = load_embeddings(settings)
        if build_if_missing and current_generation(settings.index_dir) is None:
            log.info("首次启动：正在为 %s 建立索引", settings.corpus_dir)
            report = build_index(settings, embeddings, progress=progress, on_progress=on_progress)
            log.info(report.summary())
        return cls(settings, open_index(settings.index_dir, embeddings), embeddings)

    def _answerable(self, question: str) -> bool:
        """Return True when a question would be answered (used to vet suggestions)."""
        query = parse_query(question)
        evidence, _ = select_evidence(self.kb, query, self.retriever.search(query), 1)
        return bool(evidence)

    def _refuse(self, query: Query, question: str, reason: str, retrieved: Sequence = ()) -> Answer:
        ideas = suggest(self.kb, retrieved, self._answerable)
        return refusal(query, question, list(self.kb.docs.values()), reason, retrieved, ideas)

    def ask(self, question: str, history: Sequence[str] = (), doc_ids: set[str] | None = None) -> Answer:
        """Return the cited answer to a question, resolving follow-ups against earlier questions."""
        traditional = is_traditional(question)
        simplified = to_simplified(question)
        query = parse_query(rewrite(simplified, [to_simplified(h) for h in history]))
        answer = self._answer(query, question, doc_ids)
        if query.truncated:
            notice = f"问题过长，仅按前 {len(query.text)} 个字回答。"
            answer = dataclasses.replace(answer, text=notice + "\n\n" + answer.text,
                                         notices=(*answer.notices, notice))
        if traditional:
            answer = dataclasses.replace(
                answer, text=to_traditional(answer.text), traditional=True,
                suggestions=tuple(to_traditional(s) for s in answer.suggestions),
                notices=tuple(to_traditional(n) for n in answer.notices),
            )
        return answer

    def _answer(self, query: Query, question: str, doc_ids: set[str] | None) -> Answer:
        if not query.text:
            return self._refuse(query, question, "请输入您想咨询的政策问题。")
        retrieved = self.retriever.search(query, doc_ids)
        section = find_section(self.kb, query, doc_ids)
        if section is not None:
            return overview_answer(self.kb, query, question, section, retrieved)
        evidence, reason = select_evidence(self.kb, query, retrieved, self.settings.max_answer_clauses)
        if reason is not None:
            return self._refuse(query, question, reason, retrieved)
        answer = self.answerer.answer(query, question, evidence, retrieved)
        cited_regions = {s.doc.region for s in evidence}
        broader = [r for r in query.regions if r.name not in cited_regions and r.province in cited_regions]
        if broader:
            # Say so when a city's question is answered from its province's policy.
            notice = "；".join(f"已收录的{r.name}文件中没有直接规定，以下为{r.province}的相关规定"
                              for r in broader) + "。"
            answer = dataclasses.replace(answer, text=notice + "\n\n" + answer.text, notices=(notice,))
        return answer
