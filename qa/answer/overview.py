"""Questions about a whole section ("广东的保障措施有哪些？"): list its items, each cited."""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.knowledge import KnowledgeBase
from index.lang.boilerplate import content
from index.lang.sentences import split_sentences_without
from index.lang.tokens import tokenize
from index.records import Clause
from qa.records import Answer, Citation, Paragraph, Part, Quote, ScoredClause
from qa.retrieve.hybrid import content_tokens, region_boosts
from qa.understand.query import Query

LISTING = re.compile(r"有哪些|有什么|包括|包含|哪几|哪些方面|主要内容|都有")
MAX_ITEMS = 12


def find_section(kb: KnowledgeBase, query: Query, doc_ids: set[str] | None = None) -> Clause | None:
    """Return the heading-only section whose title the question names, when it asks for a listing."""
    if not LISTING.search(query.text):
        return None
    topic = content_tokens(query, tokenize(query.text))
    allowed = region_boosts(kb, query)
    best: tuple[tuple[float, int, int], Clause] | None = None
    sections = kb.sections_by_title()
    # By title first: a title's sections are read from the records file only when the title fits.
    for title in sections:
        # Every topic word of the question must be in the section title ("保障措施" in "四、保障措施").
        if not (topic and all(t in title for t in topic) and tokenize(title)):
            continue
        for position, clause in sections[title]:
            if (allowed and clause.doc_id not in allowed) or (doc_ids is not None and clause.doc_id not in doc_ids):
                continue
            # The named region's own document first, then the most specific (shortest) title, then reading order.
            rank = (-allowed.get(clause.doc_id, 1.0), len(title), position)
            if best is None or rank < best[0]:
                best = (rank, clause)
    return best[1] if best else None


def overview_answer(kb: KnowledgeBase, query: Query, question: str, section: Clause,
                    retrieved: Sequence[ScoredClause]) -> Answer:
    """Return the section's items, each with its first sentence and citation."""
    doc = kb.docs[section.doc_id]
    parts: list[Part] = [Paragraph(f"《{doc.title}》“{section.title}”部分包括以下{len(section.children)}项：")]
    citations = []
    for i, child_id in enumerate(section.children[:MAX_ITEMS], 1):
        child = kb.clauses[child_id]
        if child.is_retrievable:
            # The item's opening sentence says what it is about; the question's words would not pick it.
            quote = next(iter(split_sentences_without(child.text, child.heading)), child.text)
        else:
            items = [kb.clauses[g].title or kb.clauses[g].label for g in child.children]
            quote = "；".join(items) + "。" if items else child.heading
        citations.append(Citation.of(child, doc, quote))
        parts.append(Quote(quote, i, f"{i}. {child.title or child.label}："))
    return Answer(question=question, query=query.text, parts=tuple(parts), answerable=True,
                  citations=tuple(citations), retrieved=tuple(retrieved))


def clause_answer(kb: KnowledgeBase, query: Query, question: str, clause: Clause,
                  retrieved: Sequence[ScoredClause]) -> Answer:
    """Return one clause the question points at by number ("第十四条"), quoted whole (its furniture left out)."""
    doc = kb.docs[clause.doc_id]
    quote = "".join(split_sentences_without(content(clause.text), clause.heading)) or clause.text
    name = f"{clause.label}“{clause.title}”" if clause.title else clause.label
    parts: list[Part] = [Paragraph(f"《{doc.title}》{name}的原文："), Quote(quote, 1)]
    return Answer(question=question, query=query.text, parts=tuple(parts), answerable=True,
                  citations=(Citation.of(clause, doc, quote),), retrieved=tuple(retrieved))
