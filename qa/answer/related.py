"""No clear provision, but plausible evidence: the closest clauses, cited as related, never as the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa.answer.base import Answerer
from qa.answer.extractive import best_sentences, within
from qa.decide.relevance import TOPIC_PRESENT
from qa.records import Answer, Citation, Paragraph, Part, Quote

if TYPE_CHECKING:
    from qa.plan import Plan

LEAD_IN = "没有找到明确规定，以下条款可能相关，请以原文为准："
# The best clause holds the question's topic (in its words or the documents' words for them) but the signals fall
# short of an answer ("深圳给钱吗" and 专项资金): saying nothing was found would be untrue.
ON_TOPIC_LEAD_IN = "以下条款与您问的内容有关，但不能确定是否直接回答了您的问题，请以原文为准："


class RelatedAnswerer(Answerer):
    """Shows the clauses closest to a question no clause clearly answers, cited as related."""

    def answer(self, plan: Plan) -> Answer:
        """Return the related clauses, each with the sentence nearest the question and its citation."""
        query = plan.query
        citations: list[Citation] = []
        on_topic = bool(plan.evidence) and plan.evidence[0].coverage >= TOPIC_PRESENT
        parts: list[Part] = [Paragraph(ON_TOPIC_LEAD_IN if on_topic else LEAD_IN)]
        for n, item in enumerate(plan.evidence, 1):
            clause = item.clause
            # A figure quoted from a clause that may not be the answer would read as the answer: for a question
            # asking how many or how much, a sentence without figures is quoted where the clause has one.
            excerpt = best_sentences(within(query, item.doc), item.evidence, clause.heading.split("\n")[0], limit=1,
                                     without_figures=query.wants_quantity, source=clause.text)
            # With every sentence holding a figure nothing is quoted: the clause is named by its title.
            quote = excerpt.text or clause.title or clause.label
            citations.append(Citation.of(clause, item.doc, excerpt if excerpt.text else quote))
            parts.append(Quote(quote, n, f"{n}. {clause.title}：" if clause.title else f"{n}. "))
        return Answer(parts=tuple(parts), citations=tuple(citations))
