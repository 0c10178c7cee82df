"""The reranker interface, and what a reranker reads of a clause."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from index.errors import PolicyQAError
from qa.records import ScoredClause
from qa.understand.query import Query


class RerankerUnavailable(PolicyQAError):
    """Seen once in the log: the configured reranker cannot load, so the fused order is kept."""


class Reranker(ABC):
    """Orders retrieved clauses by how well each answers the question."""

    @abstractmethod
    def scores(self, query: Query, candidates: Sequence[ScoredClause]) -> list[float]:
        """Return one relevance score per candidate, higher is better."""

    def rerank(self, query: Query, candidates: Sequence[ScoredClause]) -> list[ScoredClause]:
        """Return the candidates best first by this reranker's scores (ties keep the retrieval order)."""
        if not candidates:
            return []
        scores = self.scores(query, candidates)
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        return [candidates[i] for i in order]


def passage(item: ScoredClause) -> str:
    """Return what a reranker reads of a clause: where it sits in its document, then the text that matched."""
    return f"{item.doc.title} {' '.join(item.clause.path)}\n{item.evidence}"
