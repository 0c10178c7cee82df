"""The two retrieval legs over a generation's tables: exact BM25 as a sum of posting weights, and pgvector's HNSW.

Both take an optional Scope, applied inside the query (indexed region_no and doc_id columns), never after scoring."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from index.retrieval import DenseSearch, LexicalSearch

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

    from index.embedding import PolicyEmbeddings


@dataclass(frozen=True)
class Scope:
    """Which chunks a search may return: those of documents about these regions ('' for documents of no region)
    and of these documents; None places no limit."""

    regions: frozenset[str] | None = None
    doc_ids: frozenset[str] | None = None


class _Tables:
    """A generation's schema and the pool its queries run on, with the filter clauses a Scope becomes."""

    def __init__(self, pool: ConnectionPool, schema: str, regions: dict[str, int]) -> None:
        self.pool, self.schema, self.regions = pool, schema, regions

    def where(self, scope: Scope | None, table: str) -> tuple[str, dict[str, object]]:
        """Return the SQL conditions (each starting with AND) and parameters that restrict `table` to a scope."""
        if scope is None:
            return "", {}
        sql, params = "", dict[str, object]()
        if scope.regions is not None:
            sql += f" AND {table}.region_no = ANY(%(regions)s)"
            params["regions"] = [self.regions[r] for r in scope.regions if r in self.regions]
        if scope.doc_ids is not None:
            sql += (f" AND {table}.chunk_no IN (SELECT chunk_no FROM {self.schema}.chunks "
                    "WHERE doc_id = ANY(%(docs)s))")
            params["docs"] = list(scope.doc_ids)
        return sql, params


class PostgresLexical(LexicalSearch):
    """BM25 computed in SQL: each query term's postings, weight times how often the query counts the term, summed
    per chunk. The weights are bm25s's own, so scores and ranking equal LexicalIndex's (to float rounding)."""

    def __init__(self, tables: _Tables, size: int) -> None:
        self._tables = tables
        self.size = size
        # Coverage asks for the same few hundred query-token IDFs over and over; a generation never changes.
        self._idf: dict[str, float | None] = {}

    def vocabulary(self) -> Iterator[str]:
        """Return the tokens the corpus uses, streamed from the terms table."""
        with self._tables.pool.connection() as conn, conn.cursor(name="vocabulary") as cur:
            cur.execute(f"SELECT term FROM {self._tables.schema}.terms")
            for (term,) in cur:
                yield term

    def idf(self, token: str) -> float | None:
        """Return the inverse document frequency of a token, or None if the corpus never uses it."""
        if token not in self._idf:
            with self._tables.pool.connection() as conn:
                row = conn.execute(f"SELECT idf FROM {self._tables.schema}.terms WHERE term = %s",
                                   (token,)).fetchone()
            self._idf[token] = None if row is None or row[0] is None else float(row[0])
        return self._idf[token]

    def search(self, tokens: list[str], k: int, extra: list[str] | None = None, extra_weight: float = 0.5,
               scope: Scope | None = None) -> list[tuple[str, float]]:
        """Return up to k (chunk_id, score) pairs with a positive BM25 score, best first (ties by chunk order)."""
        # As LexicalIndex.search: a repeated query token counts each time; an extra token counts once, at
        # extra_weight, unless the question has it. Tokens the corpus lacks simply match no term row.
        weights: dict[str, float] = {t: float(n) for t, n in Counter(tokens).items()}
        for t in dict.fromkeys(extra or ()):
            weights.setdefault(t, extra_weight)
        if not weights or k <= 0:
            return []
        s = self._tables.schema
        where, params = self._tables.where(scope, "p")
        query = (f"SELECT c.chunk_id, h.score FROM ("
                 f" SELECT p.chunk_no, sum(p.weight * q.weight) AS score"
                 f" FROM unnest(%(terms)s::text[], %(weights)s::float8[]) AS q(term, weight)"
                 f" JOIN {s}.terms t ON t.term = q.term"
                 f" JOIN {s}.postings p ON p.term_id = t.term_id{where}"
                 f" GROUP BY p.chunk_no ORDER BY score DESC, p.chunk_no LIMIT %(k)s) h"
                 f" JOIN {s}.chunks c ON c.chunk_no = h.chunk_no ORDER BY h.score DESC, h.chunk_no")
        with self._tables.pool.connection() as conn:
            rows = conn.execute(query, {"terms": list(weights), "weights": list(weights.values()), "k": k,
                                        **params}).fetchall()
        return [(chunk_id, float(score)) for chunk_id, score in rows if score > 0]


class PostgresDense(DenseSearch):
    """Nearest chunks by cosine distance (pgvector's <=>) through the HNSW index."""

    def __init__(self, tables: _Tables, embeddings: PolicyEmbeddings, size: int) -> None:
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
