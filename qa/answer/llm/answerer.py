"""LLM answer mode: a fluent answer written from the retrieved clauses, then verified in code."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableLambda

from qa.answer.base import Answerer
from qa.answer.extractive import best_sentences
from qa.answer.llm.verify import UNVERIFIED, check
from qa.prompts import load_prompt
from qa.records import Answer, Citation, Notice, Paragraph, Part, ScoredClause, Sources

if TYPE_CHECKING:
    from qa.plan import Plan

log = logging.getLogger(__name__)
CANNOT_ANSWER = "无法回答"
SHORT_CONNECTIVE = 12


def format_clauses(evidence: Sequence[ScoredClause]) -> str:
    """Return the clauses as numbered, delimited data for the prompt."""
    blocks = []
    for i, item in enumerate(evidence, 1):
        doc, clause = item.doc, item.clause
        where = "，".join(x for x in (doc.region, doc.doc_number, doc.date_or_period) if x)
        blocks.append(f"[C{i}] 《{doc.title}》（{where}）{clause.label}\n{clause.text}")
    return "\n\n".join(blocks)


class LLMAnswerer(Answerer):
    """Writes the answer with a chat model; falls back to the extractive answer whenever it cannot verify it."""

    def __init__(self, model: BaseChatModel, fallback: Answerer) -> None:
        self.model = model
        self.fallback = fallback
        self.prompt = load_prompt("answer")
        # LCEL: clauses + question -> prompt messages -> chat model -> text.
        self.chain: Runnable = RunnableLambda(self._messages) | model | StrOutputParser()

    def _messages(self, inputs: dict) -> list[tuple[str, str]]:
        return self.prompt.messages(clauses=format_clauses(inputs["evidence"]), question=inputs["query"].text)

    def answer(self, plan: Plan) -> Answer:
        """Return the verified LLM answer, or the extractive one with a notice when the LLM fails."""
        try:
            raw = self.chain.invoke({"query": plan.query, "evidence": plan.evidence})
        except Exception as exc:  # timeouts, refused connections, 4xx/5xx, malformed responses
            return self._fall_back(plan, exc)
        return self.finish(raw, plan)

    def stream(self, plan: Plan) -> Iterator[str | Answer]:
        """Yield the model's text as it arrives, then the verified Answer that replaces it."""
        parts: list[str] = []
        try:
            for chunk in self.chain.stream({"query": plan.query, "evidence": plan.evidence}):
                parts.append(chunk)
                yield chunk
        except Exception as exc:
            yield self._fall_back(plan, exc)
            return
        yield self.finish("".join(parts), plan)

    def _fall_back(self, plan: Plan, reason: Exception | str) -> Answer:
        # The reason goes to the log only: an exception text can carry the endpoint or key.
        log.warning("大模型回答不可用，改用原文摘录：%s", reason if isinstance(reason, str) else type(reason).__name__)
        answer = self.fallback.answer(plan)
        return dataclasses.replace(answer, parts=(Notice("（智能回答暂不可用，以下为政策原文摘录。）"), *answer.parts))

    def finish(self, raw: object, plan: Plan) -> Answer:
        """Return the answer built from the verified sentences of the model's text."""
        if not isinstance(raw, str) or not raw.strip():
            return self._fall_back(plan, "空回答")
        evidence = plan.evidence
        sources = {i: item.clause.text for i, item in enumerate(evidence, 1)}
        verification = check(raw, sources)
        if not verification.verified:
            reason = "模型表示无法回答" if CANNOT_ANSWER in raw else "没有可核实的句子"
            return self._fall_back(plan, reason)
        parts: list[Part] = []
        unknown = len(verification.unknown_citations)
        if verification.dropped or unknown:
            extra = f"、{unknown} 个不存在的引用" if unknown else ""
            parts.append(Notice(f"已核对：删除了 {len(verification.dropped)} 句无法在引用条款中核实的内容{extra}。"))
        order: dict[int, int] = {}
        for sentence in verification.sentences:
            if sentence.status == "dropped":
                continue
            cites = tuple(order.setdefault(n, len(order) + 1) for n in sentence.cited)
            suffix = UNVERIFIED if sentence.status == "unverified" and len(sentence.text) > SHORT_CONNECTIVE else ""
            parts.append(Paragraph(sentence.text + suffix, cites))
        citations: list[Citation] = []
        for n in sorted(order, key=order.__getitem__):
            item = evidence[n - 1]
            excerpt = best_sentences(plan.query, item.evidence, item.clause.heading, clause=item.clause.text)
            citations.append(Citation.of(item.clause, item.doc, excerpt))
        return Answer(parts=(*parts, Sources()), citations=tuple(citations))
