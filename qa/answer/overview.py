"""Questions about a whole section ("广东的保障措施有哪些？"): list its items, each cited."""

from __future__ import annotations

from typing import TYPE_CHECKING

from index.knowledge import KnowledgeBase
from index.lang.boilerplate import content
from index.lang.sentences import split_sentences_without
from index.records import Clause
from qa.answer.base import Answerer
from qa.records import Answer, Citation, Paragraph, Part, Quote, ScoredClause

if TYPE_CHECKING:
    from qa.plan import Plan

MAX_ITEMS = 12


def section_evidence(kb: KnowledgeBase, section: Clause) -> tuple[ScoredClause, ...]:
    """Return the clauses an answer about a section cites: the items it lists, or the one clause referred to."""
    items = [kb.clauses[c] for c in section.children[:MAX_ITEMS]] or [section]
    return tuple(ScoredClause(c, kb.docs[c.doc_id], 0.0) for c in items)


class OverviewAnswerer(Answerer):
    """Lists a whole section's items, or quotes the one clause a question refers to by number."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def answer(self, plan: Plan) -> Answer:
        """Return the section's items (its evidence), or the clause itself when it has none."""
        section = self.kb.clauses[plan.section or ""]
        return overview_answer(self.kb, section, plan.evidence) if section.children else clause_answer(self.kb, section)


def overview_answer(kb: KnowledgeBase, section: Clause, items: tuple[ScoredClause, ...]) -> Answer:
    """Return the section's items, each with its first sentence and citation."""
    doc = kb.docs[section.doc_id]
    parts: list[Part] = [Paragraph(f"《{doc.title}》“{section.title}”部分包括以下{len(section.children)}项：")]
    citations = []
    for i, item in enumerate(items, 1):
        child = item.clause
        if child.is_retrievable:
            # The item's opening sentence says what it is about; the question's words would not pick it.
            quote = next(iter(split_sentences_without(child.text, child.heading)), child.text)
        else:
            listed = [kb.clauses[g].title or kb.clauses[g].label for g in child.children]
            quote = "；".join(listed) + "。" if listed else child.heading
        citations.append(Citation.of(child, doc, quote))
        parts.append(Quote(quote, i, f"{i}. {child.title or child.label}："))
    return Answer(parts=tuple(parts), citations=tuple(citations))


def clause_answer(kb: KnowledgeBase, clause: Clause) -> Answer:
    """Return one clause the question points at by number ("第十四条"), quoted whole (its furniture left out)."""
    doc = kb.docs[clause.doc_id]
    quote = "".join(split_sentences_without(content(clause.text), clause.heading)) or clause.text
    name = f"{clause.label}“{clause.title}”" if clause.title else clause.label
    parts: list[Part] = [Paragraph(f"《{doc.title}》{name}的原文："), Quote(quote, 1)]
    return Answer(parts=tuple(parts), citations=(Citation.of(clause, doc, quote),))
