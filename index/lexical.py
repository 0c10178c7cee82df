"""Lexical retrieval: jieba tokens with a policy-term dictionary, BM25 over a sparse matrix (bm25s)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from index.retrieval import LexicalSearch, Scope, Scopes


def _bm25s() -> Any:
    """Return the bm25s module, its logger quieted: it sets itself to DEBUG, which the app's console shows."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class TokenIds:
    """Chunks' tokens as ids into one vocabulary: a million chunks' worth of separate token strings would not
    fit in memory."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.chunks: list[list[int]] = []

    def add(self, tokens: str) -> None:
        """Add a chunk's space-separated tokens; a chunk without any gets a placeholder, as BM25 needs one."""
        vocab = self.vocab
        words = tokens.split(" ") if tokens else ["∅"]
        ids = list(map(vocab.get, words))
        # Nearly every token is known after the first documents: look them all up in C, name only the new ones.
        if None in ids:
            ids = [vocab.setdefault(w, len(vocab)) for w in words]
        self.chunks.append(ids)  # type: ignore[arg-type]


class LexicalIndex(LexicalSearch):
    """BM25 over chunk tokens; scores come from sparse-matrix lookups, not a Python loop over documents."""

    def __init__(self, retriever: object, chunk_ids: list[str], scopes: Scopes | None = None) -> None:
        self._bm25 = retriever
        self.chunk_ids = chunk_ids
        # Which rows a scope allows (the generation's records file); an index only being built has none.
        self._scopes = scopes
        # Coverage asks for the same few hundred query-token IDFs over and over; the index never changes.
        self._idf: dict[str, float | None] = {}

    @property
    def size(self) -> int:  # type: ignore[override]
        """Return how many chunks are indexed."""
        return len(self.chunk_ids)

    @classmethod
    def build(cls, chunk_ids: list[str], tokens: TokenIds) -> LexicalIndex:
        """Return an index over the chunks' tokens, in chunk order."""
        retriever = _bm25s().BM25()
        retriever.index((tokens.chunks, tokens.vocab), show_progress=False)
        return cls(retriever, chunk_ids)

    def save(self, folder: Path) -> None:
        """Write the index to a folder."""
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder), show_progress=False)  # type: ignore[attr-defined]
        (folder / "chunk_ids.json").write_text(json.dumps(self.chunk_ids), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, scopes: Scopes) -> LexicalIndex:
        """Return an index read from a folder, its matrix memory-mapped; `scopes` says which rows a scope allows."""
        retriever = _bm25s().BM25.load(str(folder), mmap=True, show_progress=False)
        ids = json.loads((folder / "chunk_ids.json").read_text(encoding="utf-8"))
        return cls(retriever, ids, scopes)

    def vocabulary(self) -> Iterable[str]:
        """Return the tokens the corpus uses."""
        return self._bm25.vocab_dict.keys()  # type: ignore[attr-defined, no-any-return]

    def idf(self, token: str) -> float | None:
        """Return the inverse document frequency of a token, or None if the corpus never uses it."""
        if token not in self._idf:
            vocab = self._bm25.vocab_dict  # type: ignore[attr-defined]
            df = self._document_frequency(vocab[token]) if token in vocab else None
            n = len(self.chunk_ids)
            self._idf[token] = None if df is None else float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
        return self._idf[token]

    def matrix(self) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray]:
        """Return bm25s's vocabulary (token -> column) and its weight matrix by column: column pointers, chunk
        positions, float32 BM25 weights; what another store needs to score exactly as this index does."""
        scores = self._bm25.scores  # type: ignore[attr-defined]
        return self._bm25.vocab_dict, scores["indptr"], scores["indices"], scores["data"]  # type: ignore[attr-defined]

    def _document_frequency(self, token_id: int) -> int:
        indptr = self._bm25.scores["indptr"]  # type: ignore[attr-defined]
        return int(indptr[token_id + 1] - indptr[token_id])

    def search(self, tokens: list[str], k: int, extra: list[str] | None = None, extra_weight: float = 0.5,
               scope: Scope | None = None) -> list[tuple[str, float]]:
        """Return up to k (chunk_id, score) pairs with a positive BM25 score among the chunks the scope allows, best
        first; `extra` tokens (other words for the same thing) add their BM25 score times `extra_weight`."""
        vocab = self._bm25.vocab_dict  # type: ignore[attr-defined]
        known = [t for t in tokens if t in vocab]
        added = [t for t in dict.fromkeys(extra or ()) if t in vocab and t not in known]
        if not (known or added) or not self.chunk_ids:
            return []
        scores = np.zeros(len(self.chunk_ids), dtype=np.float32)
        if known:
            scores += self._bm25.get_scores(known)  # type: ignore[attr-defined]
        if added:
            scores += extra_weight * self._bm25.get_scores(added)  # type: ignore[attr-defined]
        # Scoring every row is a sum of the query tokens' sparse columns either way; a scope picks the rows the top
        # k is taken from.
        rows = self._rows(scope)
        if rows is not None:
            scores = scores[rows]
        k = min(k, len(scores))
        if not k:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        ids = self.chunk_ids
        return [(ids[i] if rows is None else ids[rows[i]], float(scores[i])) for i in top if scores[i] > 0]

    def _rows(self, scope: Scope | None) -> np.ndarray | None:
        """Return the matrix rows a scope allows, None for every row."""
        if scope is None or (scope.regions is None and scope.doc_ids is None):
            return None
        if self._scopes is None:
            raise ValueError("an index being built has no records to resolve a scope")
        return self._scopes.scoped(scope).rows
