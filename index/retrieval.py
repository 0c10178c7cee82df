"""What a knowledge base's two retrieval legs answer, whichever backend holds them: bm25s files and Chroma in a
generation folder (index/lexical.py, index/dense.py) or tables in PostgreSQL (index/postgres/)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

import numpy as np


class LexicalSearch(ABC):
    """BM25 over the chunks' jieba tokens: the same scores whichever backend computes them."""

    # How many chunks are indexed (the N of the IDF formula).
    size: int

    @abstractmethod
    def vocabulary(self) -> Iterable[str]:
        """Return the tokens the corpus uses."""

    @abstractmethod
    def idf(self, token: str) -> float | None:
        """Return the inverse document frequency of a token, or None if the corpus never uses it."""

    def unseen_idf(self) -> float:
        """Return the inverse document frequency the same formula gives a token no chunk uses."""
        return float(np.log(1 + (self.size + 0.5) / 0.5))

    @abstractmethod
    def search(self, tokens: list[str], k: int, extra: list[str] | None = None,
               extra_weight: float = 0.5) -> list[tuple[str, float]]:
        """Return up to k (chunk_id, score) pairs with a positive BM25 score, best first; each known token counts
        as often as it occurs, and `extra` tokens (other words for the same thing, each once, none of `tokens`)
        add their BM25 score times `extra_weight`."""


class DenseSearch(ABC):
    """Nearest chunks by cosine similarity of their vectors to the question's."""

    # How many vectors are stored.
    size: int

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Return up to k (chunk_id, cosine similarity) pairs nearest the query's text, best first."""
        return self.nearest(self.vector(query), k)

    @abstractmethod
    def vector(self, query: str) -> np.ndarray:
        """Return the query's vector."""

    @abstractmethod
    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Return up to k (chunk_id, cosine similarity) pairs nearest a query vector, best first."""

    @abstractmethod
    def similarities(self, vector: np.ndarray, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Return the cosine similarity of a query vector to each of these chunks (those the store holds)."""

    @abstractmethod
    def close(self) -> None:
        """Release what the store holds open (clients, connections)."""
