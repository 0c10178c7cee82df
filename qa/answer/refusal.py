"""The refusal: nothing relevant was found, what the knowledge base covers, what to ask instead."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from itertools import chain
from typing import TYPE_CHECKING

from index.knowledge import KnowledgeBase
from index.lang.script import to_simplified
from index.records import PolicyDoc
from qa.answer.base import Answerer
from qa.answer.suggest import suggest
from qa.prompts import load_prompt
from qa.records import Answer, Paragraph, ScoredClause
from qa.understand.query import Query, normalise, strip_injection

if TYPE_CHECKING:
    from qa.plan import Plan

# A refusal lists at most this many documents: all of a small knowledge base, a sample of a large one.
MAX_LISTED_DOCS = 8


def coverage_list(docs: Collection[PolicyDoc], nearest: Iterable[PolicyDoc] = ()) -> str:
    """Return a bullet list of the documents covered: all, or a few (nearest first) and the total."""
    # Reads at most MAX_LISTED_DOCS documents: a refusal's cost must not grow with the knowledge base.
    if len(docs) <= MAX_LISTED_DOCS:
        shown = list(docs)
    else:
        picked: dict[str, PolicyDoc] = {}
        for doc in chain(nearest, docs):
            picked.setdefault(doc.doc_id, doc)
            if len(picked) >= MAX_LISTED_DOCS:
                break
        shown = list(picked.values())
    lines = []
    for doc in shown:
        facts = "，".join(x for x in (doc.region, doc.doc_number, doc.date_or_period) if x)
        lines.append(f"- 《{doc.title}》" + (f"（{facts}）" if facts else ""))
    if len(docs) > len(shown):
        lines.append(f"等共 {len(docs)} 个文件")
    return "\n".join(lines)


def as_typed(query: Query, question: str) -> str | None:
    """Return the question as the user typed it (tidied, in their own script) when the query is that question,
    None when the query was rewritten (a follow-up) or cut."""
    typed = normalise(strip_injection(question)[0])[0]
    return typed if typed and not query.truncated and to_simplified(typed) == query.asked else None


class RefusalAnswerer(Answerer):
    """Says that nothing relevant was found, what the knowledge base covers, and what to ask instead."""

    def __init__(self, kb: KnowledgeBase, answerable: Callable[[str], bool]) -> None:
        self.kb = kb
        self.answerable = answerable  # vets the suggested questions

    def answer(self, plan: Plan) -> Answer:
        """Return the refusal, with questions near this one that the knowledge base answers."""
        ideas = suggest(self.kb, plan.retrieved, self.answerable)
        return refusal(plan.query, plan.question, self.kb.docs.values(), plan.reason, plan.retrieved, ideas)


def refusal(query: Query, question: str, docs: Collection[PolicyDoc], reason: str,
            retrieved: Sequence[ScoredClause] = (), suggestions: Sequence[str] = ()) -> Answer:
    """Return the plain refusal: nothing relevant was found, what the knowledge base covers, what to ask."""
    ideas = "".join(f"\n- {s}" for s in suggestions)
    tail = f"您可以试试这样问：{ideas}" if ideas else "您可以换个问法，或询问以上文件涉及的内容。"
    documents = coverage_list(docs, (s.doc for s in retrieved))
    # The reason quotes the question as asked (simplified, before spelling correction); the user reads back their
    # own words, which no script conversion may change ("個人所得稅" must not come back as "個人所得税").
    typed = as_typed(query, question)
    literal: tuple[str, ...] = ()
    if typed is not None and f"“{query.asked}”" in reason:
        reason, literal = reason.replace(f"“{query.asked}”", f"“{typed}”"), (typed,)
    text = load_prompt("refusal").render(reason=reason, documents=documents, next_step=tail)["text"]
    return Answer(parts=(Paragraph(text, literal=literal),), suggestions=tuple(suggestions))
