"""A sentence-transformers CrossEncoder from local disk (e.g. a downloaded bge-reranker) reads question and clause
together."""

from __future__ import annotations

from collections.abc import Sequence

from index.embedding.sentence_transformers import load_local
from qa.records import ScoredClause
from qa.retrieve.rerank.base import Reranker, RerankerUnavailable, passage
from qa.understand.query import Query


class CrossEncoderReranker(Reranker):
    """Scores each (question, clause) pair with a cross-encoder on the CPU."""

    def __init__(self, name_or_path: str, batch_size: int = 16) -> None:
        self._model = load_local("CrossEncoder", name_or_path, RerankerUnavailable, "重排序模型")
        self._batch = batch_size

    def scores(self, query: Query, candidates: Sequence[ScoredClause]) -> list[float]:
        """Return the cross-encoder's score of each (question, clause) pair."""
        pairs = [(query.focus or query.text, passage(c)) for c in candidates]
        return [float(s) for s in self._model.predict(pairs, batch_size=self._batch, show_progress_bar=False)]
