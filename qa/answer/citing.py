"""Citing measures in an answer of fixed form (a checklist, a comparison): each clause cited once, quoting the
sentence that fits the question."""

from __future__ import annotations

from index.knowledge import KnowledgeBase
from index.records import Measure
from qa.answer.extractive import best_sentences, within
from qa.records import Citation
from qa.understand.query import Query


def cite_once(citations: list[Citation], citation: Citation) -> int:
    """Return the number of a clause's citation in the list, adding it when the clause is not cited yet."""
    known = next((i for i, c in enumerate(citations, 1) if c.clause_id == citation.clause_id), None)
    if known is None:
        citations.append(citation)
    return known or len(citations)


def measure_citation(kb: KnowledgeBase, measure: Measure, query: Query, sentence: str = "") -> Citation:
    """Return the citation of a measure quoting the given sentence, or its sentence that best matches the question."""
    clause, doc = kb.clauses[measure.clause_id], kb.docs[measure.doc_id]
    if sentence:
        return Citation.of(clause, doc, sentence)
    excerpt = best_sentences(within(query, doc), clause.text, clause.heading, limit=1)
    return Citation.of(clause, doc, excerpt if excerpt.text else measure.summary)
