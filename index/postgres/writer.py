"""Writing a generation into PostgreSQL: the records, the BM25 postings and the vectors of a generation the
embedded build made, under a new generation name; then switching every host to it in one UPDATE.

The postings are bm25s's own float32 weights (LexicalIndex.matrix), so the SQL sum over a query's terms ranks
exactly as bm25s does; nothing is tokenised or scored twice."""

from __future__ import annotations

import logging
import struct
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from index.dense import DenseIndex
from index.embedding import PolicyEmbeddings
from index.knowledge import KnowledgeBase
from index.lexical import LexicalIndex
from index.postgres.database import GENERATION, LEASE_EXPIRY_SECONDS, connect, install_schema, serving, sql_file
from index.store import open_index, read_manifest

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)
# Rows per COPY buffer of postings (binary, built by numpy: a Python call per row would dominate at millions).
BLOCK = 1_000_000
# PostgreSQL's binary COPY header: signature, flags, header extension length.
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") * 2
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
# Bytes of COPY rows built before they are sent.
COPY_BUFFER = 1 << 23


def _name() -> str:
    """Return a fresh generation (schema) name; sortable by when it was written."""
    return f"gen_{time.strftime('%Y%m%d_%H%M%S')}_{uuid.uuid4().hex[:6]}"


def _binary_rows(dtype: list[tuple[str, str]], columns: dict[str, np.ndarray]) -> bytes:
    """Return COPY BINARY tuples of fixed-width columns: per row the field count, then length and value of each."""
    fields = [name for name, _ in dtype]
    layout = [("count", ">i2")]
    for name, kind in dtype:
        layout += [(f"{name}_len", ">i4"), (name, kind)]
    rows = np.empty(len(next(iter(columns.values()))), dtype=layout)
    rows["count"] = len(fields)
    for name, kind in dtype:
        rows[f"{name}_len"] = np.dtype(kind).itemsize
        rows[name] = columns[name]
    return rows.tobytes()


def _copy_rows(conn: psycopg.Connection, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _json(record: object) -> str:
    return orjson.dumps(record).decode()


def _write_records(conn: psycopg.Connection, kb: KnowledgeBase, chunk_ids: list[str]) -> dict[str, int]:
    """Copy documents, clauses, chunks and measures in; return the region number of each document."""
    regions = {name: n for n, name in enumerate(sorted({d.region or "" for d in kb.docs.values()}))}
    region_of = {d.doc_id: regions[d.region or ""] for d in kb.docs.values()}
    _copy_rows(conn, "regions", ("region_no", "name"), ((n, name) for name, n in regions.items()))
    _copy_rows(conn, "documents", ("position", "doc_id", "region_no", "record"),
               ((i, d.doc_id, region_of[d.doc_id], _json(d)) for i, d in enumerate(kb.docs.values())))
    _copy_rows(conn, "clauses", ("position", "clause_id", "doc_id", "record"),
               ((i, c.clause_id, c.doc_id, _json(c)) for i, c in enumerate(kb.clauses.values())))
    _copy_rows(conn, "chunks", ("chunk_no", "chunk_id", "doc_id", "region_no", "record"),
               ((n, cid, kb.chunks[cid].doc_id, region_of[kb.chunks[cid].doc_id], _json(kb.chunks[cid]))
                for n, cid in enumerate(chunk_ids)))
    _copy_rows(conn, "measures", ("position", "record"), ((i, _json(m)) for i, m in enumerate(kb.measures)))
    return region_of


def _write_lexical(conn: psycopg.Connection, lexical: LexicalIndex, chunk_regions: np.ndarray) -> None:
    """Copy the terms (with df and the IDF LexicalIndex.idf gives) and every posting with its bm25s weight."""
    vocab, indptr, indices, data = lexical.matrix()
    columns = len(indptr) - 1
    n = lexical.size
    counts = np.diff(indptr)
    rows = []
    for term, term_id in vocab.items():
        # bm25s adds an empty placeholder token past the matrix's last column: no chunk has it.
        df = int(counts[term_id]) if term_id < columns else 0
        # The same expression as LexicalIndex.idf, so coverage weights match to the last bit.
        idf = float(np.log(1 + (n - df + 0.5) / (df + 0.5))) if df else None
        rows.append((term, term_id, df, idf))
    _copy_rows(conn, "terms", ("term", "term_id", "df", "idf"), rows)
    term_of = np.repeat(np.arange(columns, dtype=np.int32), np.diff(indptr).astype(np.int64))
    layout = [("term_id", ">i4"), ("region_no", ">i2"), ("chunk_no", ">i4"), ("weight", ">f4")]
    with conn.cursor().copy("COPY postings (term_id, region_no, chunk_no, weight) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(COPY_HEADER)
        for start in range(0, len(indices), BLOCK):
            part = slice(start, start + BLOCK)
            chunk_no = np.asarray(indices[part], dtype=np.int32)
            copy.write(_binary_rows(layout, {"term_id": term_of[part], "region_no": chunk_regions[chunk_no],
                                             "chunk_no": chunk_no, "weight": np.asarray(data[part], np.float32)}))
        copy.write(COPY_TRAILER)
    _write_chunk_weights(conn, indptr, indices, data, len(vocab), n)


def _write_chunk_weights(conn: psycopg.Connection, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                         dimensions: int, chunks: int) -> None:
    """Copy each chunk's weights as one sparsevec over the term ids (pgvector's binary form: dimensions, count,
    a zero, then the ascending term ids and their float32 weights); a chunk without tokens gets no row."""
    from scipy.sparse import csc_matrix

    columns = len(indptr) - 1
    rows = csc_matrix((np.asarray(data, np.float32), np.asarray(indices), np.asarray(indptr)),
                      shape=(chunks, columns)).tocsr()
    rows.sort_indices()
    terms, weights = rows.indices.astype(">i4"), rows.data.astype(">f4")
    starts = rows.indptr
    with conn.cursor().copy("COPY chunk_weights (chunk_no, weights) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(COPY_HEADER)
        buffer = bytearray()
        for chunk_no in range(len(starts) - 1):
            start, end = int(starts[chunk_no]), int(starts[chunk_no + 1])
            if end > start:
                count = end - start
                buffer += struct.pack(">hiiiiii", 2, 4, chunk_no, 12 + 8 * count, dimensions, count, 0)
                buffer += terms[start:end].tobytes()
                buffer += weights[start:end].tobytes()
            if len(buffer) > COPY_BUFFER:
                copy.write(buffer)
                buffer = bytearray()
        copy.write(bytes(buffer) + COPY_TRAILER)


def _write_vectors(conn: psycopg.Connection, dense: DenseIndex, number: dict[str, int], docs: list[str],
                   chunk_regions: np.ndarray) -> int:
    """Create the vectors table and copy every stored vector in; return their dimension."""
    dimensions = 0
    for ids, vectors in dense.stored():
        if not dimensions:
            dimensions = int(vectors.shape[1])
            conn.execute(sql_file("vectors.sql").format(dimensions=dimensions))
        rows = ((number[i], i, docs[number[i]], int(chunk_regions[number[i]]), v) for i, v in zip(ids, vectors,
                                                                                                strict=True))
        _copy_rows(conn, "vectors", ("chunk_no", "chunk_id", "doc_id", "region_no", "embedding"), rows)
    return dimensions


def _vacuum(conn: psycopg.Connection, table: str, tries: int = 5) -> None:
    """Freeze a table, set its visibility map (index-only scans need every page all-visible) and gather the
    planner's statistics; again while another session's older snapshot kept pages from being marked."""
    for _ in range(tries):
        conn.execute(f"VACUUM (FREEZE, ANALYZE) {table}")
        pages, visible = conn.execute("SELECT relpages, relallvisible FROM pg_class WHERE oid = %s::regclass",
                                      (table,)).fetchone() or (0, 0)
        if visible >= pages:
            return
        time.sleep(1)
    log.warning("表 %s 仍有页面未标记为全部可见，查询会慢一些", table)


def write_generation(url: str, kb: KnowledgeBase) -> str:
    """Write an opened embedded generation (LexicalIndex, and DenseIndex when it has vectors) into the database as
    a new generation, not yet serving; return its name."""
    if not isinstance(kb.lexical, LexicalIndex):
        raise TypeError("write_generation copies a generation of the embedded backend")
    name = _name()
    chunk_ids = kb.lexical.chunk_ids
    with connect(url, vectors=False) as conn:
        install_schema(conn)
    with connect(url) as conn:
        conn.execute("INSERT INTO policyqa.generations (name, chunks, manifest) VALUES (%s, %s, %s)",
                     (name, len(chunk_ids), _json(kb.manifest.to_json())))
        conn.execute(f"CREATE SCHEMA {name}")
        conn.execute(f"SET LOCAL search_path TO {name}, public")
        conn.execute(sql_file("generation.sql"))
        region_of = _write_records(conn, kb, chunk_ids)
        docs = [kb.chunks[cid].doc_id for cid in chunk_ids]
        chunk_regions = np.fromiter((region_of[d] for d in docs), dtype=np.int16, count=len(docs))
        _write_lexical(conn, kb.lexical, chunk_regions)
        conn.execute(sql_file("indexes.sql"))
        dimensions = None
        if isinstance(kb.dense, DenseIndex) and kb.dense.size:
            number = {cid: n for n, cid in enumerate(chunk_ids)}
            dimensions = _write_vectors(conn, kb.dense, number, docs, chunk_regions)
            conn.execute(sql_file("vector_indexes.sql"))
        conn.execute("UPDATE policyqa.generations SET dimensions = %s WHERE name = %s",
                     (dimensions, name))
        conn.commit()
        conn.autocommit = True
        for table in ("regions", "documents", "clauses", "chunks", "measures", "terms", "chunk_weights",
                      *(("vectors",) if dimensions else ())):
            conn.execute(f"VACUUM (FREEZE, ANALYZE) {name}.{table}")
        _vacuum(conn, f"{name}.postings")
    log.info("已把索引写入 PostgreSQL，版本 %s（%d 个检索单元）", name, len(chunk_ids))
    return name


def publish(url: str, name: str) -> None:
    """Make a written generation the serving one for every host in one transaction; keep the one it replaces as a
    fallback and any older one a fresh lease names (a host still reads it), and drop the rest with their tables; a
    later publish drops a kept one once its leases are released or expired. A generation being written is invisible
    here until its builder commits, and one whose builder died was rolled back whole, tables included."""
    if not GENERATION.fullmatch(name):
        raise ValueError(f"not a generation name: {name!r}")
    with connect(url) as conn:
        install_schema(conn)  # a database written before leases existed gets their table
        current = serving(conn)
        previous = current[0] if current else None
        conn.execute("INSERT INTO policyqa.serving (generation, previous) VALUES (%s, %s) ON CONFLICT (one) DO "
                     "UPDATE SET generation = excluded.generation, previous = excluded.previous", (name, previous))
        # Locked first: a host leasing one of them now waits for this transaction, so every lease taken before is
        # counted below and none taken after names a dropped generation.
        older = [r[0] for r in conn.execute("SELECT name FROM policyqa.generations WHERE name <> ALL(%s) "
                                            "FOR UPDATE", ([name, previous],)).fetchall()]
        held = {r[0] for r in conn.execute(
            "SELECT DISTINCT generation FROM policyqa.leases WHERE generation = ANY(%s) "
            "AND heartbeat > now() - make_interval(secs => %s)", (older, LEASE_EXPIRY_SECONDS)).fetchall()}
        stale = [old for old in older if old not in held]
        conn.execute("DELETE FROM policyqa.leases WHERE generation = ANY(%s)", (stale,))
        conn.execute("DELETE FROM policyqa.generations WHERE name = ANY(%s)", (stale,))
        for old in stale:
            if GENERATION.fullmatch(old):
                conn.execute(f"DROP SCHEMA IF EXISTS {old} CASCADE")
        conn.commit()
    for old in sorted(held):
        log.info("索引 %s 仍有主机在使用，暂不删除", old)


def serving_signature(url: str) -> str | None:
    """Return the manifest signature (corpus, embedder, chunking) of the generation the database serves, or None
    when it serves none."""
    with connect(url, vectors=False) as conn:
        current = serving(conn)
        if current is None:
            return None
        row = conn.execute("SELECT manifest->>'signature' FROM policyqa.generations WHERE name = %s",
                           (current[0],)).fetchone()
    return row[0] if row else None


def export(url: str, index_dir: Path, embeddings: PolicyEmbeddings | None, chroma_url: str = "") -> str | None:
    """Write the serving generation of an index folder into the database and switch every host to it, unless the
    database serves a generation of the same signature already; return the new generation's name, or None."""
    manifest = read_manifest(index_dir)
    if manifest is not None and manifest.signature == serving_signature(url):
        return None
    kb = open_index(index_dir, embeddings, chroma_url)
    try:
        name = write_generation(url, kb)
    finally:
        kb.close()
    publish(url, name)
    return name
