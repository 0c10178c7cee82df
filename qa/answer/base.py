"""The answerer interface: a strategy that writes the answer from the clauses judged relevant."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence

from qa.records import Answer, ScoredClause
from qa.understand.query import Query


class Answerer(ABC):
    """Writes the answer to a query from the clauses judged relevant."""

    @abstractmethod
    def answer(self, query: Query, question: str, evidence: Sequence[ScoredClause],
               retrieved: Sequence[ScoredClause]) -> Answer:
        """Return an answer citing only clauses from `evidence`."""

    def stream(self, query: Query, question: str, evidence: Sequence[ScoredClause],
               retrieved: Sequence[ScoredClause]) -> Iterator[str | Answer]:
        """Yield text as it is produced, then the final Answer (by default: just the Answer)."""
        yield self.answer(query, question, evidence, retrieved)
