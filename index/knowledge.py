"""An opened index generation as answering sees it: the records, the lexical and (optional) dense indexes, and
the groupings answering asks for on every request."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from index.records import Chunk, Clause, Manifest, Measure, PolicyDoc
from index.retrieval import DenseSearch, LexicalSearch


class Claim(Protocol):
    """What an opened generation holds until it is closed: a Lease on its folder, or a database's connections."""

    def release(self) -> None:
        """Give it up; safe to call twice."""


@dataclass
class KnowledgeBase:
    """An opened index generation: records plus the lexical and (optional) dense indexes."""

    folder: Path
    manifest: Manifest
    docs: dict[str, PolicyDoc]
    clauses: dict[str, Clause]
    chunks: dict[str, Chunk]
    lexical: LexicalSearch
    dense: DenseSearch | None
    measures: list[Measure] = field(default_factory=list)
    # What was wrong with the newer generation(s) when this older one is served instead ("" when none).
    damaged: str = ""
    lease: Claim | None = field(default=None, repr=False)

    _by_doc: dict[str, list[Clause]] = field(init=False, repr=False, default_factory=dict)
    _sections: dict[str, list[tuple[int, Clause]]] = field(init=False, repr=False, default_factory=dict)
    _mentions: dict[str, bool] = field(init=False, repr=False, default_factory=dict)
    _by_region: dict[str, list[str]] = field(init=False, repr=False, default_factory=dict)
    _by_clause: dict[str, list[Chunk]] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        # Grouped once at open: a per-request scan of every clause or document would grow with the corpus.
        for doc in self.docs.values():
            # Documents without a region (national ones) are grouped under "".
            self._by_region.setdefault(doc.region or "", []).append(doc.doc_id)
        for position, clause in enumerate(self.clauses.values()):
            self._by_doc.setdefault(clause.doc_id, []).append(clause)
            if clause.children and clause.title and not clause.is_retrievable:
                self._sections.setdefault(clause.title, []).append((position, clause))

    def close(self) -> None:
        """Release the generation: its vector store, and its lease (publish may delete it from now on)."""
        if self.dense is not None:
            self.dense.close()
        if self.lease is not None:
            self.lease.release()

    def clauses_of(self, doc_id: str) -> list[Clause]:
        """Return a document's clauses in reading order."""
        return self._by_doc.get(doc_id, [])

    def chunks_of(self, clause_id: str) -> list[Chunk]:
        """Return a clause's chunks in reading order (by position)."""
        if self._by_clause is None:
            # Grouped at first use, not at open: only a passage of a long clause asks for its neighbours.
            grouped: dict[str, list[Chunk]] = {}
            for chunk in self.chunks.values():
                grouped.setdefault(chunk.clause_id, []).append(chunk)
            for pieces in grouped.values():
                pieces.sort(key=lambda c: c.position)
            self._by_clause = grouped
        return self._by_clause.get(clause_id, [])

    def docs_in_region(self, region: str) -> list[str]:
        """Return the ids of the documents about exactly this region (a province's own, not its cities'); ""
        gives the documents of no region, such as national ones."""
        return self._by_region.get(region, [])

    def sections_by_title(self) -> dict[str, list[tuple[int, Clause]]]:
        """Return the heading-only sections that have items, by title, each with its position in reading order."""
        return self._sections

    def mentions(self, word: str) -> bool:
        """Return True when some document's text contains the word; remembered, as a generation never changes."""
        if word not in self._mentions:
            self._mentions[word] = any(word in d.text for d in self.docs.values())
        return self._mentions[word]
