"""Dense retrieval over a generation's vectors: cosine distance (pgvector's <=>) through the HNSW index, a scope
applied inside the index scan (hnsw.iterative_scan, set on every connection by database.py); a generation as small
as the embedded backend searches exactly is searched exactly here too, so both give the same nearest chunks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from index.dense import EXACT_ALL
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
        query, params = self.statement(scope)
        with self._tables.pool.connection() as conn:
            rows = conn.execute(query, {"q": vector.astype(np.float32), "k": k, **params}).fetchall()
        return [(chunk_id, float(similarity)) for chunk_id, similarity in rows]

    def statement(self, scope: Scope | None = None) -> tuple[str, dict[str, object]]:
        """Return the nearest-chunks query (parameters q and k still to bind) and the scope's parameters."""
        where, params = self._tables.where(scope, "v")
        # An order the HNSW index cannot give (the distance plus zero, ties by id) is a scan of every vector: exact.
        order = "(v.embedding <=> %(q)s) + 0, v.chunk_id" if self.size <= EXACT_ALL else "v.embedding <=> %(q)s"
        return (f"SELECT v.chunk_id, 1 - (v.embedding <=> %(q)s) FROM {self._tables.schema}.vectors v"
                f" WHERE true{where} ORDER BY {order} LIMIT %(k)s"), params

    def similarities(self, vector: np.ndarray, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Return the cosine similarity of a query vector to each of these chunks (those the store holds)."""
        if not chunk_ids:
            return {}
        with self._tables.pool.connection() as conn:
            rows = conn.execute(f"SELECT chunk_id, 1 - (embedding <=> %s) FROM {self._tables.schema}.vectors"
                                " WHERE chunk_id = ANY(%s)", (vector.astype(np.float32), list(chunk_ids))).fetchall()
        return {chunk_id: float(similarity) for chunk_id, similarity in rows}
