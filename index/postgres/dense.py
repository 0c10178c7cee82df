"""Dense retrieval over a generation's vectors: cosine distance (pgvector's <=>) through the HNSW index, a scope
applied inside the index scan (hnsw.iterative_scan, set on every connection by database.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from index.postgres.tables import Tables
from index.retrieval import DenseSearch, Scope

if TYPE_CHECKING:
    from index.embedding import PolicyEmbeddings


class PostgresDense(DenseSearch):
    """Nearest chunks by cosine distance (pgvector's <=>) through the HNSW index."""

    def __init__(self, tables: Tables, embeddings: PolicyEmbeddings, size: int) -> None:
        self._tables = tables
        self.embeddings = embeddings
        self.size = size

    def close(self) -> None:
        """Nothing of its own to release: the knowledge base's database claim closes the pool."""

    def vector(self, query: str) -> np.ndarray:
        """Return the query's vector."""
        return np.asarray(self.embeddings.embed_query(query), dtype=np.float32)

    def nearest(self, vector: np.ndarray, k: int, scope: Scope | None = None) -> list[tuple[str, float]]:
        """Return up to k (chunk_id, cosine similarity) pairs nearest a query vector, best first."""
        if not self.size or k <= 0:
            return []
        where, params = self._tables.where(scope, "v")
        query = (f"SELECT v.chunk_id, 1 - (v.embedding <=> %(q)s) FROM {self._tables.schema}.vectors v"
                 f" WHERE true{where} ORDER BY v.embedding <=> %(q)s LIMIT %(k)s")
        with self._tables.pool.connection() as conn:
            rows = conn.execute(query, {"q": vector.astype(np.float32), "k": k, **params}).fetchall()
        return [(chunk_id, float(similarity)) for chunk_id, similarity in rows]

    def similarities(self, vector: np.ndarray, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Return the cosine similarity of a query vector to each of these chunks (those the store holds)."""
        if not chunk_ids:
            return {}
        with self._tables.pool.connection() as conn:
            rows = conn.execute(f"SELECT chunk_id, 1 - (embedding <=> %s) FROM {self._tables.schema}.vectors"
                                " WHERE chunk_id = ANY(%s)", (vector.astype(np.float32), list(chunk_ids))).fetchall()
        return {chunk_id: float(similarity) for chunk_id, similarity in rows}
