"""Opening the serving generation of the database as a KnowledgeBase: records read from their tables, the lexical
and dense legs answered by SQL, so retrieval runs unchanged on either backend."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
import weakref
from collections.abc import Generator
from contextlib import ExitStack, closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from index.embedding import PolicyEmbeddings
from index.errors import DatabaseUnavailable, IndexMissingError
from index.knowledge import KnowledgeBase
from index.postgres.database import LEASE_BEAT_SECONDS, LEASE_EXPIRY_SECONDS, connect, install_schema, pool, serving
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
NOTHING_PUBLISHED = "QA_DATABASE_URL 指向的数据库中还没有索引；请先运行 `python -m qa build`"


class DatabaseClaim:
    """What a knowledge base opened from the database holds open (KnowledgeBase.lease): a lease on its generation in
    policyqa.leases, so publish keeps the generation, and its connection pool once opened.

    A daemon thread per claim refreshes the lease, rather than the server's watcher: every process that opens a
    generation (a server, the CLI, an evaluation) is covered, a generation swapped out but still answering keeps
    its lease until released, and the heartbeat has its own connection, so busy request threads holding the pool
    cannot starve it."""

    def __init__(self, url: str, holder: str, generation: str) -> None:
        self._url = url
        self.holder = holder
        self.generation = generation
        self.pool: ConnectionPool | None = None
        self._stopped = threading.Event()
        threading.Thread(target=self._beat, name=f"lease-{generation}", daemon=True).start()

    @classmethod
    def take(cls, url: str, conn: psycopg.Connection) -> DatabaseClaim:
        """Return a lease on the generation the database serves; raise IndexMissingError when nothing was published."""
        import psycopg

        if serving(conn) is None:
            raise IndexMissingError(NOTHING_PUBLISHED)
        if conn.execute("SELECT to_regclass('policyqa.leases')").fetchone() == (None,):
            install_schema(conn)  # published before leases existed
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        tries = 3
        while True:
            try:
                row = conn.execute("INSERT INTO policyqa.leases (holder, generation) SELECT %s, generation "
                                   "FROM policyqa.serving RETURNING generation", (holder,)).fetchone()
                break
            except psycopg.errors.ForeignKeyViolation:
                # A publish dropped the generation this statement read as serving; a newer one serves now.
                conn.rollback()
                tries -= 1
                if not tries:
                    raise
        conn.commit()
        if row is None:
            raise IndexMissingError(NOTHING_PUBLISHED)
        return cls(url, holder, row[0])

    def _beat(self) -> None:
        """Refresh the lease every LEASE_BEAT_SECONDS until released; one warning per outage when it cannot."""
        import psycopg

        failing = False
        while not self._stopped.wait(LEASE_BEAT_SECONDS):
            try:
                with connect(self._url, vectors=False) as conn:
                    conn.execute("UPDATE policyqa.leases SET heartbeat = now() WHERE holder = %s", (self.holder,))
            except (DatabaseUnavailable, psycopg.Error) as exc:
                if not failing:
                    log.warning("无法刷新数据库中索引 %s 的租约（%s）；超过 %d 秒未刷新，发布新索引时它可能被删除",
                                self.generation, exc, LEASE_EXPIRY_SECONDS)
                failing = True
            else:
                failing = False

    def release(self) -> None:
        """Close the pool, stop the heartbeat and give the lease up (publish may drop the generation from now on);
        safe to call twice."""
        import psycopg

        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        try:
            with connect(self._url, vectors=False) as conn:
                conn.execute("DELETE FROM policyqa.leases WHERE holder = %s", (self.holder,))
        except (DatabaseUnavailable, psycopg.Error) as exc:
            log.warning("无法交还数据库中索引 %s 的租约（%s）；它将在 %d 秒后过期",
                        self.generation, exc, LEASE_EXPIRY_SECONDS)


# Rows per batch when the records are copied at open.
STREAM_ROWS = 500


def _records(conn: psycopg.Connection, schema: str, table: str, order: str) -> Generator[dict[str, Any], None, None]:
    """Yield a table's records in reading order, parsed by orjson (the stored JSON is read as text), streamed a batch
    at a time: a plain execute has libpq hold the whole result first, so a whole table's JSON (the documents
    with their texts, every clause) was in the app process at once while it opened."""
    with conn.cursor() as cur:
        yield from (orjson.loads(text) for (text,) in cur.stream(
            f"SELECT record::text FROM {schema}.{table} ORDER BY {order}", size=STREAM_ROWS))


def open_database(url: str, embeddings: PolicyEmbeddings | None) -> KnowledgeBase:
    """Return the generation the database serves, verified like a generation folder; dense search is on when its
    vectors are of the embedder's model. Raise IndexMissingError when nothing was published yet."""
    with connect(url, vectors=False) as conn:
        claim = DatabaseClaim.take(url, conn)
        try:
            kb = _open(url, conn, claim, embeddings)
        except BaseException:
            claim.release()
            raise
    # Released when the last reference goes (a server swapped generations), or earlier with close().
    weakref.finalize(kb, claim.release)
    return kb


def _open(url: str, conn: psycopg.Connection, claim: DatabaseClaim,
          embeddings: PolicyEmbeddings | None) -> KnowledgeBase:
    """Return the knowledge base of the generation the claim leases, verified; the pool goes on the claim."""
    schema = claim.generation
    row = conn.execute("SELECT chunks, dimensions, manifest FROM policyqa.generations WHERE name = %s",
                       (schema,)).fetchone()
    if row is None:
        raise IndexMissingError(f"数据库中正在使用的索引 {schema} 已不存在；请重新运行 `python -m qa build`")
    chunks_n, dimensions, manifest_json = row
    manifest = Manifest.from_json(manifest_json)
    # Kept in a local records file, as a generation folder keeps them: read on demand, off the heap. Each stream is
    # closed when the copy fails (a full disk): one left open holds the connection's lock, and closing the
    # connection then waited for it forever.
    with ExitStack() as streams:
        docs, clauses, chunks, measures = (streams.enter_context(closing(_records(conn, schema, table, order)))
                                           for table, order in (("documents", "position"), ("clauses", "position"),
                                                                ("chunks", "chunk_no"), ("measures", "position")))
        records = temporary_records(schema, (PolicyDoc.from_json(d) for d in docs),
                                    (Clause.from_json(c) for c in clauses), (Chunk(**c) for c in chunks),
                                    (Measure.from_json(m) for m in measures))
    regions: dict[str, int] = dict(conn.execute(f"SELECT name, region_no FROM {schema}.regions").fetchall())
    counted = conn.execute(f"SELECT count(*) FROM {schema}.vectors").fetchone() if dimensions else None
    vectors = int(counted[0]) if counted else 0
    dense_on = bool(dimensions) and embeddings is not None and manifest.embedding_model == embeddings.model_id
    if embeddings is not None and not dense_on:
        log.warning("数据库中索引的向量模型（%s）与当前模型（%s）不同，本次仅使用关键词检索",
                    manifest.embedding_model, embeddings.model_id)
    claim.pool = connections = pool(url, vectors=dense_on)
    tables = Tables(connections, schema, regions)
    by_weight = conn.execute("SELECT to_regclass(%s)", (f"{schema}.chunk_weights",)).fetchone() != (None,)
    dense = PostgresDense(tables, embeddings, vectors) if dense_on and embeddings is not None else None
    # The folder names the generation for logs and /healthz; nothing is read from it.
    lexical = PostgresLexical(tables, chunks_n, by_weight)
    kb = KnowledgeBase(Path(schema), manifest, records, lexical, dense, records.measures())
    kb.lease = claim
    verify(kb)
    return kb
