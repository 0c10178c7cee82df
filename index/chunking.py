"""Retrieval units: one chunk per clause, long clauses split at sentence ends keeping their label."""

from __future__ import annotations

import hashlib
import re

from index.records import Chunk, Clause, PolicyDoc
from index.structure import is_prose
from index.text import AGENCY_NOTE, HALF_WIDTH_BRACKETS

# The most a passage of unnumbered text holds: two or three sentences of a notice.
PASSAGE_CHARS = 160
# The longest run kept as one sentence: text without sentence ends (a scan's OCR, a pasted table, junk) is cut
# at a comma or space, else at this length, so no chunk, embedding input or quote grows with the file. A real
# sentence is rarely a tenth of it: a list of 96 items in one sentence (700 characters) is still quoted whole.
MAX_SENTENCE = 2000
SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
SOFT_BREAK = re.compile(r"[，,、：:\s]")
WHOLE_AGENCY_NOTE = re.compile(AGENCY_NOTE)
# A table row as the readers write it ("播出平台：省级卫视；奖励标准：每分钟1500元。"): one sentence, since a
# cell quoted without the row's other cells loses what its figure is about.
TABLE_ROW = re.compile(r"^(?:[^：；。\n]{1,40}：[^；\n]*；)+[^：；。\n]{1,40}：[^；\n]*。$")


def split_sentences(text: str) -> list[str]:
    """Return the sentences of a text, each keeping its closing punctuation; a table row is one sentence; none is
    longer than MAX_SENTENCE."""
    return [piece for line in text.split("\n")
            for s in ([line] if TABLE_ROW.match(line) else SENTENCE_END.split(line)) if s.strip()
            for piece in _cut(s.strip())]


def _cut(sentence: str) -> list[str]:
    """Return a sentence in pieces of at most MAX_SENTENCE characters, each ending after its last comma or space
    past the middle when it has one (text without any punctuation is cut at the limit)."""
    if len(sentence) <= MAX_SENTENCE:
        return [sentence]
    pieces, start = [], 0
    while len(sentence) - start > MAX_SENTENCE:
        window = sentence[start : start + MAX_SENTENCE]
        breaks = [m.end() for m in SOFT_BREAK.finditer(window, MAX_SENTENCE // 2)]
        end = start + (breaks[-1] if breaks else MAX_SENTENCE)
        pieces.append(sentence[start:end])
        start = end
    return [*pieces, sentence[start:]]


def _bare(text: str) -> str:
    return re.sub(r"[\s。.：:]", "", text).translate(HALF_WIDTH_BRACKETS)


def split_sentences_without(text: str, heading: str) -> list[str]:
    """Return a clause's sentences without its heading line and its closing agency note."""
    bare = _bare(heading)
    return [s for s in split_sentences(text) if not WHOLE_AGENCY_NOTE.fullmatch(s) and _bare(s) != bare]


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
            indexed_text=indexed, content_hash=hashlib.sha1(indexed.encode()).hexdigest(),
        ))
    return chunks


def chunk_document(doc: PolicyDoc, clauses: list[Clause], limit: int) -> list[Chunk]:
    """Return the chunks of every retrievable clause of a document."""
    return [chunk for clause in clauses if clause.is_retrievable for chunk in chunk_clause(doc, clause, limit)]
