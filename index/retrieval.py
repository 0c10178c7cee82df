"""What a knowledge base's two retrieval legs answer, whichever backend holds them: bm25s files and Chroma in a
generation folder (index/lexical.py, index/dense.py) or tables in PostgreSQL (index/postgres/)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Scope:
    """Which chunks a search may return: those of documents about these regions ('' for documents of no region)
    and of these documents; None places no limit. A leg takes its top k among them, never filtering after scoring
    (a filter after scoring leaves fewer than k, or none, when other documents score higher)."""

    regions: frozenset[str] | None = None
    doc_ids: frozenset[str] | None = None


@dataclass(frozen=True)
class ScopedChunks:
    """The chunks a scope allows, as the embedded legs look them up: their rows in the bm25 matrix (the records
    file's reading order), their ids and their documents' ids."""

    rows: np.ndarray
    chunk_ids: list[str]
    doc_ids: list[str]


class Scopes(Protocol):
    """What resolves a scope into chunks for the embedded legs: the generation's records file."""

    def scoped(self, scope: Scope) -> ScopedChunks:
        """Return the chunks a scope allows."""


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
    def search(self, tokens: list[str], k: int, extra: list[str] | None = None, extra_weight: float = 0.5,
               scope: Scope | None = None) -> list[tuple[str, float]]:
        """Return up to k (chunk_id, score) pairs with a positive BM25 score among the chunks the scope allows, best
        first; each known token counts as often as it occurs, and `extra` tokens (other words for the same thing,
        each once, none of `tokens`) add their BM25 score times `extra_weight`."""


class DenseSearch(ABC):
    """Nearest chunks by cosine similarity of their vectors to the question's."""

    # How many vectors are stored.
    size: int

    def search(self, query: str, k: int, scope: Scope | None = None) -> list[tuple[str, float]]:
        """Return up to k (chunk_id, cosine similarity) pairs nearest the query's text among the chunks the scope
        allows, best first."""
        return self.nearest(self.vector(query), k, scope)

    @abstractmethod
    def vector(self, query: str) -> np.ndarray:
        """Return the query's vector."""

    @abstractmethod
    def nearest(self, vector: np.ndarray, k: int, scope: Scope | None = None) -> list[tuple[str, float]]:
        """Return up to k (chunk_id, cosine similarity) pairs nearest a query vector among the chunks the scope
        allows, best first."""

    @abstractmethod
    def similarities(self, vector: np.ndarray, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Return the cosine similarity of a query vector to each of these chunks (those the store holds)."""

    @abstractmethod
    def close(self) -> None:
        """Release what the store holds open (clients, connections)."""
