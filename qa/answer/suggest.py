"""Questions the knowledge base can answer, offered when a question cannot be answered."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice

from index.knowledge import KnowledgeBase
from index.records import Clause, PolicyDoc
from qa.records import ScoredClause

MAX_SUGGESTIONS = 3
# The fallback looks at most this many documents: in a corpus without usable headings (e.g. untitled 第X条
# articles) walking every document would make each refusal linear in the corpus size.
MAX_FALLBACK_DOCS = 20
# Headings that are sentences about the document itself, not topics a citizen asks about.
NOT_A_TOPIC = re.compile(r"^本|之日|起施行|起实施|负责解释|附则|总则")


def _question(doc: PolicyDoc, clause: Clause) -> str:
    """Return a natural question about a clause's heading: 江苏在“强化政策引导”方面有哪些规定？"""
    where = (doc.region or "").removesuffix("省").removesuffix("市") or "该文件"
    return f"{where}在“{clause.title.rstrip('。')}”方面有哪些规定？"


def suggest(kb: KnowledgeBase, retrieved: Iterable[ScoredClause], answerable: Callable[[str], bool]) -> list[str]:
    """Return up to three questions about headed clauses near the question, each checked to be answerable."""
    # Fall back to each document's headed clauses so a question with no near match still gets ideas;
    # lazily and only the first documents, so a large corpus is not walked.
    first = islice(kb.docs.values(), MAX_FALLBACK_DOCS)
    fallback = ((doc, c) for doc in first for c in kb.clauses_of(doc.doc_id)[:12])
    candidates: Iterator[tuple[PolicyDoc, Clause]] = chain(((s.doc, s.clause) for s in retrieved), fallback)
    out: list[str] = []
    seen_docs: dict[str, int] = {}
    for doc, clause in candidates:
        if not clause.title or not 2 <= len(clause.title) <= 20 or not clause.is_retrievable:
            continue
        if NOT_A_TOPIC.search(clause.title):
            continue
        question = _question(doc, clause)
        # Spread suggestions over documents before taking a second one from the same document.
        if question in out or (seen_docs.get(doc.doc_id, 0) >= 1 and len(kb.docs) > 1):
            continue
        if answerable(question):
            out.append(question)
            seen_docs[doc.doc_id] = seen_docs.get(doc.doc_id, 0) + 1
        if len(out) >= MAX_SUGGESTIONS:
            break
    return out
