"""An opened index generation as answering sees it: the records, the lexical and (optional) dense indexes, and
the groupings answering asks for on every request."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from index.recordfile import RecordFile, Sections
from index.records import Chunk, Clause, Manifest, Measure, MeasureQuery, PolicyDoc
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
    # Read on demand from the generation's records file; `docs`, `clauses` and `chunks` are read-only mappings by id.
    records: RecordFile
    lexical: LexicalSearch
    dense: DenseSearch | None
    # Counted, and read a batch at a time when iterated (an evaluation); answering asks `measures_where` instead.
    measures: Collection[Measure] = ()
    # What was wrong with the newer generation(s) when this older one is served instead ("" when none).
    damaged: str = ""
    lease: Claim | None = field(default=None, repr=False)

    docs: Mapping[str, PolicyDoc] = field(init=False, repr=False)
    clauses: Mapping[str, Clause] = field(init=False, repr=False)
    chunks: Mapping[str, Chunk] = field(init=False, repr=False)
    _mentions: dict[str, bool] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.docs, self.clauses, self.chunks = self.records.docs, self.records.clauses, self.records.chunks

    def close(self) -> None:
        """Release the generation: its vector store, its records file, and its lease (publish may delete it from
        now on)."""
        if self.dense is not None:
            self.dense.close()
        self.records.close()
        if self.lease is not None:
            self.lease.release()

    def clauses_of(self, doc_id: str) -> list[Clause]:
        """Return a document's clauses in reading order."""
        return self.records.clauses_of(doc_id)

    def chunks_of(self, clause_id: str) -> list[Chunk]:
        """Return a clause's chunks in reading order (by position)."""
        return self.records.chunks_of(clause_id)

    def docs_in_region(self, region: str) -> list[str]:
        """Return the ids of the documents about exactly this region (a province's own, not its cities'); ""
        gives the documents of no region, such as national ones."""
        return self.records.docs_in_region(region)

    def sections_by_title(self) -> Mapping[str, Sequence[tuple[int, Clause]]]:
        """Return the heading-only sections that have items, by title, each with its position in reading order;
        a title's sections are read when asked for."""
        return Sections(self.records)

    def clauses_labelled(self, endings: Sequence[str]) -> list[Clause]:
        """Return the clauses whose label ends with one of `endings` ("第十四条"), in reading order."""
        return self.records.labelled(endings)

    def mentions(self, word: str) -> bool:
        """Return True when some document's text contains the word; remembered, as a generation never changes."""
        if word not in self._mentions:
            self._mentions[word] = self.records.mentions(word)
        return self._mentions[word]

    def measures_where(self, query: MeasureQuery) -> Iterator[Measure]:
        """Yield the measures a query selects, in reading order, read as they are used."""
        return self.records.measures_where(query)

    def measure_of(self, clause_id: str) -> Measure | None:
        """Return the measure a clause states, or None."""
        return self.records.measure_of(clause_id)

    def measure_scores(self, query: MeasureQuery, weights: Mapping[tuple[str, str], int]) -> list[tuple[int, str, int]]:
        """Return (n, region or "", the sum of the weights of its tags) of each measure a query selects, in reading
        order, without reading the measures (`measures_at` reads them)."""
        return self.records.measure_scores(query, weights)

    def measures_at(self, ns: Sequence[int]) -> Iterator[Measure]:
        """Yield the measures `measure_scores` numbered so, in the order given, read as they are used."""
        return self.records.measures_at(ns)

    def measure_types(self) -> set[str]:
        """Return the measure types some measure has."""
        return self.records.measure_types()
