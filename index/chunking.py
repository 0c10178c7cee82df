"""Retrieval units: one chunk per clause, long clauses split at sentence ends keeping their label."""

from __future__ import annotations

import hashlib

from index.lang.numbering import is_prose
from index.lang.sentences import split_sentences
from index.records import Chunk, Clause, PolicyDoc

# The most a passage of unnumbered text holds: two or three sentences of a notice.
PASSAGE_CHARS = 160
def _pieces(text: str, limit: int) -> list[str]:
    """Return the text packed into pieces of at most `limit` characters, breaking only at sentence ends."""
    pieces: list[str] = []
    for sentence in split_sentences(text):
        if pieces and len(pieces[-1]) + len(sentence) <= limit:
            pieces[-1] += sentence
        else:
            pieces.append(sentence)
    return pieces or [text]


def chunk_clause(doc: PolicyDoc, clause: Clause, limit: int) -> list[Chunk]:
    """Return the chunks of a clause; each indexed text carries the document title and heading path."""
    header = f"{doc.title}\n{' > '.join(clause.path)}\n"
    body = clause.text
    # Text outside any numbering (a notice written as one paragraph) has no provisions to cut it at: it is
    # searched, and cited, by its sentences a few at a time (retrieval reports a passage with its neighbours).
    if is_prose(clause):
        limit = min(limit, PASSAGE_CHARS)
    parts = [body] if len(body) <= limit else _pieces(body, limit)
    chunks = []
    for i, part in enumerate(parts):
        indexed = header + part
        chunks.append(Chunk(
            chunk_id=clause.clause_id if len(parts) == 1 else f"{clause.clause_id}-{i}",
            clause_id=clause.clause_id, doc_id=doc.doc_id, label=clause.label, text=part,
            indexed_text=indexed, content_hash=hashlib.sha1(indexed.encode()).hexdigest(), position=i,
        ))
    return chunks


def chunk_document(doc: PolicyDoc, clauses: list[Clause], limit: int) -> list[Chunk]:
    """Return the chunks of every retrievable clause of a document."""
    return [chunk for clause in clauses if clause.is_retrievable for chunk in chunk_clause(doc, clause, limit)]
