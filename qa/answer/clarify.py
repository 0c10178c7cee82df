"""A question too vague to answer ("有钱拿吗"): ask which region and which kind of support, with examples."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from index.knowledge import KnowledgeBase
from index.lang.terms import OTHER, grants, tag, values
from index.records import MeasureQuery
from qa.answer.base import Answerer
from qa.answer.suggest import suggest
from qa.records import Answer, Item, Paragraph, Part, ScoredClause
from qa.understand.query import Query
from qa.understand.scopes import groups_of

if TYPE_CHECKING:
    from qa.plan import Plan

MAX_REGIONS = 12
# "有钱拿吗" asks for money in words no document uses; the documents say 资金/补贴.
MONEY_WORDS = ("钱",)
MONEY = "资金/补贴"


def example_clauses(kb: KnowledgeBase, query: Query) -> Iterator[ScoredClause]:
    """Yield the clauses to draw the examples from: measures that grant support of the kind the question names
    (资金/补贴 for "有钱拿吗"), or of any kind; those whose heading names that kind first, else in document order.
    Read as `suggest` takes them, which stops at its third example: a large corpus's every clause is never read."""
    kinds = set(tag("type", query.focus))
    if any(w in query.focus for w in MONEY_WORDS):
        kinds.add(MONEY)
    named = kinds or set(values("type"))
    wanted = MeasureQuery(having=(("type", tuple(sorted(kinds))),) if kinds else (), without=(("type", OTHER),))
    # Two passes in document order, those whose heading names the kind, then the rest (a measure's title is its
    # clause's): the order a stable sort on that gave.
    for heading_names_it in (True, False):
        for m in kb.measures_where(wanted):
            if bool(named & set(tag("type", m.title))) is heading_names_it and m.clause_id in kb.clauses \
                    and m.doc_id in kb.docs and grants(clause := kb.clauses[m.clause_id]):
                yield ScoredClause(clause, kb.docs[m.doc_id], 0.0)


class ClarifyAnswerer(Answerer):
    """Asks a question too vague to search which region and which kind of support it means."""

    def __init__(self, kb: KnowledgeBase, answerable: Callable[[str], bool]) -> None:
        self.kb = kb
        self.answerable = answerable  # vets the example questions

    def answer(self, plan: Plan) -> Answer:
        """Return the question back, with examples the knowledge base answers."""
        examples = suggest(self.kb, example_clauses(self.kb, plan.query), self.answerable)
        return clarify_answer(self.kb, examples)


def clarify_answer(kb: KnowledgeBase, examples: list[str]) -> Answer:
    """Return a short question back: what the knowledge base can answer, and example questions."""
    regions = groups_of(kb).regions
    kinds = [k for k in values("type") if k != OTHER and k in kb.measure_types()]
    parts: list[Part] = [Paragraph("您的问题比较宽泛，请说明想了解哪个地区、哪一类政策，我再为您查找原文。")]
    if regions:
        shown = "、".join(regions[:MAX_REGIONS]) + (f"等 {len(regions)} 个地区" if len(regions) > MAX_REGIONS else "")
        parts.append(Item(f"地区：{shown}"))
    if kinds:
        parts.append(Item(f"支持类型：{'、'.join(kinds)}"))
    parts += [Paragraph("例如："), *(Item(e) for e in examples)]
    return Answer(parts=tuple(parts), suggestions=tuple(examples))
