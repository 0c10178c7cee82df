"""Opening the serving generation of the database as a KnowledgeBase: records read from their tables, the lexical
and dense legs answered by SQL, so retrieval runs unchanged on either backend."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from index.embedding import PolicyEmbeddings
from index.errors import IndexMissingError
from index.knowledge import KnowledgeBase
from index.postgres.database import connect, pool, serving
from index.postgres.dense import PostgresDense
from index.postgres.lexical import PostgresLexical
from index.postgres.tables import Tables
from index.recordfile import temporary_records
from index.records import Chunk, Clause, Manifest, Measure, PolicyDoc
from index.store import verify

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)


class DatabaseClaim:
    """What a knowledge base opened from the database holds open: its connection pool (KnowledgeBase.lease)."""

    def __init__(self, connections: ConnectionPool) -> None:
        self._pool: ConnectionPool | None = connections

    def release(self) -> None:
        """Close the pool; safe to call twice."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def _records(conn: psycopg.Connection, schema: str, table: str, order: str) -> Iterator[dict[str, Any]]:
    """Yield a table's records in reading order, parsed by orjson (the stored JSON is read as text)."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT record::text FROM {schema}.{table} ORDER BY {order}")
        yield from (orjson.loads(text) for (text,) in cur)


def open_database(url: str, embeddings: PolicyEmbeddings | None) -> KnowledgeBase:
    """Return the generation the database serves, verified like a generation folder; dense search is on when its
    vectors are of the embedder's model. Raise IndexMissingError when nothing was published yet."""
    with connect(url, vectors=False) as conn:
        named = serving(conn)
        if named is None:
            raise IndexMissingError("QA_DATABASE_URL 指向的数据库中还没有索引；请先运行 `python -m qa build`")
        schema = named[0]
        row = conn.execute("SELECT chunks, dimensions, manifest FROM policyqa.generations WHERE name = %s",
                           (schema,)).fetchone()
        if row is None:
            raise IndexMissingError(f"数据库中正在使用的索引 {schema} 已不存在；请重新运行 `python -m qa build`")
        chunks_n, dimensions, manifest_json = row
        manifest = Manifest.from_json(manifest_json)
        # Kept in a local records file, as a generation folder keeps them: read on demand, off the heap.
        records = temporary_records(
            schema, (PolicyDoc.from_json(d) for d in _records(conn, schema, "documents", "position")),
            (Clause.from_json(c) for c in _records(conn, schema, "clauses", "position")),
            (Chunk(**c) for c in _records(conn, schema, "chunks", "chunk_no")),
            (Measure.from_json(m) for m in _records(conn, schema, "measures", "position")))
        regions: dict[str, int] = dict(conn.execute(f"SELECT name, region_no FROM {schema}.regions").fetchall())
        counted = conn.execute(f"SELECT count(*) FROM {schema}.vectors").fetchone() if dimensions else None
        vectors = int(counted[0]) if counted else 0
    dense_on = bool(dimensions) and embeddings is not None and manifest.embedding_model == embeddings.model_id
    if embeddings is not None and not dense_on:
        log.warning("数据库中索引的向量模型（%s）与当前模型（%s）不同，本次仅使用关键词检索",
                    manifest.embedding_model, embeddings.model_id)
    connections = pool(url, vectors=dense_on)
    claim = DatabaseClaim(connections)
    tables = Tables(connections, schema, regions)
    dense = PostgresDense(tables, embeddings, vectors) if dense_on and embeddings is not None else None
    # The folder names the generation for logs and /healthz; nothing is read from it.
    kb = KnowledgeBase(Path(schema), manifest, records, PostgresLexical(tables, chunks_n), dense, records.measures())
    kb.lease = claim
    try:
        verify(kb)
    except BaseException:
        claim.release()
        raise
    # Released when the last reference goes (a server swapped generations), or earlier with close().
    weakref.finalize(kb, claim.release)
    return kb
