"""Dense retrieval: vectors in a persistent Chroma collection, cached by content hash across rebuilds."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from index.embedding import PolicyEmbeddings
from index.records import Chunk
from index.retrieval import DenseSearch, Scope, Scopes
from index.sqlite import CacheStore

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

COLLECTION = "clauses"
# A scope of at most this many chunks is searched exactly, its vectors read by id: Chroma's filtered HNSW search
# walks the graph until enough neighbours pass the filter, slow when few do.
EXACT_SCOPE = 2_000
KEPT_SCOPES = 8
# A collection of at most this many chunks is searched exactly, its vectors held in memory (46 MB at the limit;
# ~4 ms a query): Chroma's HNSW search at its default ef found 93 % of the exact top 50 on STARD's 10,613 chunks,
# and not the same 93 % in two processes, so answers near a threshold changed from one start to the next.
EXACT_ALL = 30_000
log = logging.getLogger(__name__)


class EmbeddingCache(CacheStore):
    """Vectors keyed by (model id, content hash) in SQLite, so unchanged clauses are never re-embedded."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "CREATE TABLE IF NOT EXISTS vectors "
                               "(model TEXT, hash TEXT, vector BLOB, PRIMARY KEY (model, hash))", "向量缓存")

    def get(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        """Return the cached vectors among the given hashes."""
        rows = self.read_in("SELECT hash, vector FROM vectors WHERE model=? AND hash IN ({})", hashes, model)
        return {h: np.frombuffer(v, dtype=np.float32) for h, v in rows}

    def put(self, model: str, items: dict[str, np.ndarray]) -> None:
        """Store vectors."""
        with self.write() as conn:
            conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                             [(model, h, v.astype(np.float32).tobytes()) for h, v in items.items()])


def embed_chunks(
    chunks: list[Chunk], embeddings: PolicyEmbeddings, cache: EmbeddingCache, batch: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Return one vector per chunk and how many were newly embedded (the rest come from the cache)."""
    model = embeddings.model_id
    cached = cache.get(model, [c.content_hash for c in chunks])
    todo = list({c.content_hash: c for c in chunks if c.content_hash not in cached}.values())
    for i in range(0, len(todo), batch):
        part = todo[i : i + batch]
        vectors = np.asarray(embeddings.embed_documents([c.indexed_text for c in part]), dtype=np.float32)
        new = {c.content_hash: v for c, v in zip(part, vectors, strict=True)}
        cache.put(model, new)
        cached.update(new)
        if progress:
            progress(len(part))
    dim = len(next(iter(cached.values()))) if cached else 0
    matrix = np.stack([cached[c.content_hash] for c in chunks]) if chunks else np.zeros((0, dim), np.float32)
    return matrix, len(todo)


def chroma_client(folder: Path, url: str = "") -> ClientAPI:
    """Return a client of the Chroma server at `url`, or of the embedded store in `folder` when no URL is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if not url:
        return chromadb.PersistentClient(path=str(folder), settings=settings)
    parts = urlsplit(url)
    https = parts.scheme == "https"
    return chromadb.HttpClient(host=parts.hostname or "127.0.0.1", port=parts.port or (443 if https else 8000),
                               ssl=https, settings=settings)


def _close(client: ClientAPI) -> None:
    """Close a client: Chroma keeps one system (SQLite, HNSW in memory) per store path until its last client
    closes. Older chromadb releases have no Client.close; there the system stays cached."""
    close = getattr(client, "close", None)
    if close is not None:
        close()


def write_collection(folder: Path, chunks: list[Chunk], vectors: np.ndarray, model_id: str, url: str = "",
                     name: str = COLLECTION, previous: Path | None = None) -> int:
    """Write chunks and their vectors into a Chroma collection: embedded in `folder`, or on the server at `url`.

    With `previous` (the embedded store of the last generation, same model), that store is copied and only the
    chunks that differ are written. Returns how many chunks were written."""
    from chromadb.errors import NotFoundError

    if previous is not None and not url:
        shutil.copytree(previous, folder)
        client = chroma_client(folder)
        try:
            written = _apply_changes(client.get_collection(name), chunks, vectors)
        except Exception as exc:  # a damaged store cannot be copied: write every vector instead
            log.warning("上一版本的向量库无法复用（%s），重新写入全部向量", exc)
            written = None
        finally:
            _close(client)
        if written is not None:
            return written
        shutil.rmtree(folder)
    client = chroma_client(folder, url)
    try:
        if url:
            # A collection left by a build that died before publishing is rebuilt, never appended to.
            with suppress(ValueError, NotFoundError):
                client.delete_collection(name)
        collection = client.get_or_create_collection(name, metadata={"hnsw:space": "cosine", "model": model_id})
        _add(collection, chunks, vectors)
    finally:
        _close(client)  # the last client of a store stops Chroma's cached system for it
    return len(chunks)


def _add(collection: Collection, chunks: list[Chunk], vectors: np.ndarray) -> None:
    # Vectors and ids only, no texts: the records hold them, and Chroma's full-text index of stored texts made
    # writes 2.6x slower and the store 3.5x larger (measured on 7,251 chunks).
    step = 1000
    for i in range(0, len(chunks), step):
        part = chunks[i : i + step]
        collection.add(
            ids=[c.chunk_id for c in part],
            embeddings=vectors[i : i + step].tolist(),
            metadatas=[{"clause_id": c.clause_id, "doc_id": c.doc_id, "label": c.label, "hash": c.content_hash}
                       for c in part],
        )


def _apply_changes(collection: Collection, chunks: list[Chunk], vectors: np.ndarray) -> int | None:
    """Make a copied collection hold exactly these chunks, writing only the differences; None when the copy
    predates content hashes in its metadata and cannot be compared."""
    old: dict[str, object] = {}
    # Chroma turns a page into one SQL statement with a variable per id: SQLite allows 32,766 of them.
    step = 5_000
    for offset in range(0, collection.count(), step):
        page = collection.get(include=["metadatas"], limit=step, offset=offset)
        old.update((i, (m or {}).get("hash")) for i, m in zip(page["ids"], page["metadatas"] or [], strict=True))
    if None in old.values():
        return None
    new = {c.chunk_id: c.content_hash for c in chunks}
    stale = [i for i, h in old.items() if new.get(i) != h]
    for i in range(0, len(stale), 1000):
        collection.delete(ids=stale[i : i + 1000])
    changed = [n for n, c in enumerate(chunks) if old.get(c.chunk_id) != c.content_hash]
    _add(collection, [chunks[n] for n in changed], vectors[changed] if changed else vectors[:0])
    return len(changed)


def drop_collections(url: str, names: list[str]) -> None:
    """Delete the named collections from the Chroma server, ignoring those already gone."""
    from chromadb.errors import NotFoundError

    client = chroma_client(Path(), url)
    try:
        for name in names:
            with suppress(ValueError, NotFoundError):
                client.delete_collection(name)
    finally:
        _close(client)


class DenseIndex(DenseSearch):
    """Nearest-neighbour search over chunk vectors in a Chroma collection."""

    def __init__(self, folder: Path, embeddings: PolicyEmbeddings, url: str = "", name: str = COLLECTION,
                 scopes: Scopes | None = None) -> None:
        self.embeddings = embeddings
        # Which chunks a scope allows (the generation's records file); a build checking the store needs none.
        self._scopes = scopes
        # The vectors of the last few small scopes asked for, oldest first (at most 2,000 x 384 floats each).
        self._scoped_vectors: dict[Scope, tuple[list[str], np.ndarray]] = {}
        self._lock = threading.Lock()
        # Every chunk id, its unit vector and its row, read at the first search of a small collection.
        self._all: tuple[list[str], np.ndarray, dict[str, int]] | None = None
        self._client = chroma_client(folder, url)
        try:
            # get, not get_or_create: a generation without its collection is damaged, not empty.
            self.collection = self._client.get_collection(name)
            self.size = self.collection.count()  # a generation's collection never changes after it is published
        except BaseException:
            _close(self._client)
            raise

    def _held(self) -> tuple[list[str], np.ndarray, dict[str, int]]:
        """Return every stored chunk id, its unit vector (a row) and each id's row, read once."""
        with self._lock:
            if self._all is None:
                self._all = self._read_all()
            return self._all

    def _read_all(self) -> tuple[list[str], np.ndarray, dict[str, int]]:
        """Read every stored chunk id and its unit vector."""
        ids: list[str] = []
        parts = []
        for page_ids, vectors in self.stored():
            ids += page_ids
            parts.append(vectors)
        matrix = np.vstack(parts) if parts else np.zeros((0, 1), dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return ids, matrix / np.where(norms > 0, norms, 1.0), {chunk_id: n for n, chunk_id in enumerate(ids)}

    def close(self) -> None:
        """Release the store: Chroma keeps one system per store path until its last client closes."""
        _close(self._client)

    def stored(self, step: int = 5_000) -> Iterator[tuple[list[str], np.ndarray]]:
        """Yield the stored (chunk ids, vectors) a page at a time, for copying them to another store."""
        for offset in range(0, self.size, step):
            page = self.collection.get(include=["embeddings"], limit=step, offset=offset)
            yield list(page["ids"]), np.asarray(page["embeddings"], dtype=np.float32)

    def vector(self, query: str) -> np.ndarray:
        """Return the query's vector."""
        return np.asarray(self.embeddings.embed_query(query), dtype=np.float32)

    def nearest(self, vector: np.ndarray, k: int, scope: Scope | None = None) -> list[tuple[str, float]]:
        """Return up to k (chunk_id, cosine similarity) pairs nearest a query vector among the chunks the scope
        allows, best first."""
        if not self.size or k <= 0:
            return []
        where = None
        scoped = None
        if scope is not None and (scope.regions is not None or scope.doc_ids is not None):
            if self._scopes is None:
                raise ValueError("a vector store opened without its records cannot resolve a scope")
            scoped = self._scopes.scoped(scope)
        if self.size <= EXACT_ALL:
            return self._exact(vector, k, scoped.chunk_ids if scoped is not None else None)
        if scope is not None and scoped is not None:
            if len(scoped.chunk_ids) <= EXACT_SCOPE:
                ids, stored = self._scope_vectors(scope)
                near = zip(ids, _cosines(stored, vector).tolist(), strict=True)
                return sorted(near, key=lambda x: (-x[1], x[0]))[:k]
            # Inside the query: Chroma filters on the metadata while it searches.
            where = {"doc_id": {"$in": scoped.doc_ids}}
        # Ids and distances only: fetching the stored texts and metadata would double the cost of a search.
        hits = self.collection.query(query_embeddings=vector[None, :], n_results=min(k, self.size),
                                     include=["distances"], where=where)  # type: ignore[arg-type]
        distances = hits["distances"][0] if hits["distances"] else []
        # Chroma's cosine space returns distance = 1 - cosine similarity.
        return [(chunk_id, 1.0 - float(d)) for chunk_id, d in zip(hits["ids"][0], distances, strict=True)]

    def _exact(self, vector: np.ndarray, k: int, allowed: Sequence[str] | None) -> list[tuple[str, float]]:
        """Return the k held chunks (of those allowed) nearest the vector, best first, ties by chunk id."""
        ids, matrix, rows = self._held()
        unit = _unit(vector)
        if allowed is None:
            cosines = matrix @ unit
            keep = np.argsort(-cosines, kind="stable")[: k + 64]  # ties at the k-th are broken by id below
            near = [(ids[n], float(cosines[n])) for n in keep]
        else:
            found = [rows[c] for c in allowed if c in rows]
            cosines = matrix[found] @ unit
            near = [(ids[n], float(c)) for n, c in zip(found, cosines.tolist(), strict=True)]
        return sorted(near, key=lambda x: (-x[1], x[0]))[:k]

    def similarities(self, vector: np.ndarray, chunk_ids: Sequence[str]) -> dict[str, float]:
        """Return the cosine similarity of a query vector to each of these chunks (those the store holds)."""
        if self.size <= EXACT_ALL:  # the vectors are in memory: no read from Chroma
            _, matrix, rows = self._held()
            held = [c for c in chunk_ids if c in rows]
            return dict(zip(held, (matrix[[rows[c] for c in held]] @ _unit(vector)).tolist(), strict=True))
        ids, stored = self._stored(chunk_ids)
        return {chunk_id: float(c) for chunk_id, c in zip(ids, _cosines(stored, vector), strict=True)}

    def _stored(self, chunk_ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """Return the ids and vectors of these chunks that the store holds."""
        if not chunk_ids:
            return [], np.zeros((0, 1), dtype=np.float32)
        found = self.collection.get(ids=list(chunk_ids), include=["embeddings"])
        if not len(found["ids"]):
            return [], np.zeros((0, 1), dtype=np.float32)
        return list(found["ids"]), np.asarray(found["embeddings"], dtype=np.float32)

    def _scope_vectors(self, scope: Scope) -> tuple[list[str], np.ndarray]:
        """Return the ids and vectors of a small scope's chunks, kept for the next questions in the same scope
        (reading them from Chroma by id costs more than comparing them)."""
        found = self._scoped_vectors.get(scope)
        if found is None:
            assert self._scopes is not None
            found = self._stored(self._scopes.scoped(scope).chunk_ids)
            with self._lock:
                self._scoped_vectors[scope] = found
                while len(self._scoped_vectors) > KEPT_SCOPES:
                    self._scoped_vectors.pop(next(iter(self._scoped_vectors)))
        return found


def _unit(vector: np.ndarray) -> np.ndarray:
    """Return the vector scaled to length 1 (a zero vector as it is)."""
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _cosines(stored: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Return the cosine similarity of each stored vector (a row) to the query vector."""
    if not len(stored):
        return np.zeros(0, dtype=np.float32)
    norms = np.linalg.norm(stored, axis=1) * float(np.linalg.norm(vector))
    return stored @ vector / np.where(norms > 0, norms, 1.0)  # type: ignore[no-any-return]
