"""Everything one document yields (record, clauses, chunks, measures, search tokens): made on every core,
cached by content so a rebuild re-parses only the files that changed."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import multiprocessing
import os
import pickle
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from index import records
from index.chunking import chunk_document
from index.cleaning import clean_text
from index.errors import DocumentError
from index.lexical import tokenize
from index.measures import extract_measures
from index.metadata import extract_metadata
from index.records import Chunk, Clause, Measure, PolicyDoc, SourceText
from index.sqlite import SqliteStore
from index.structure import parse_clauses

log = logging.getLogger(__name__)
# Bump when parsing or chunking code changes, so neither the cache nor an "unchanged" corpus keeps old results.
PIPELINE_VERSION = "3"
DATA_DIRS = (Path(__file__).parent / "data",)
# Below this much text, starting worker processes costs more than it saves (forking paid off from ~200k
# characters, 1,000 clauses: 0.5 s instead of 0.85 s; the bundled 15k characters took 0.11 s instead of 0.07 s).
PARALLEL_MIN_CHARS = 50_000


@dataclass(frozen=True)
class ParsedDocument:
    """A document's records and the search tokens of each chunk (space-separated, in chunk order)."""

    doc: PolicyDoc
    clauses: tuple[Clause, ...]
    chunks: tuple[Chunk, ...]
    measures: tuple[Measure, ...]
    tokens: tuple[str, ...]


def parse_document(doc_id: str, source: SourceText) -> tuple[PolicyDoc, list[Clause]]:
    """Return a document record and its clauses from a loaded source."""
    text = clean_text(source.text)
    clauses = parse_clauses(doc_id, text)
    return extract_metadata(doc_id, source, text, clauses), clauses


def parse(doc_id: str, source: SourceText, chunk_chars: int) -> ParsedDocument:
    """Return everything the index keeps of one document."""
    doc, clauses = parse_document(doc_id, source)
    chunks = chunk_document(doc, clauses, chunk_chars)
    # jieba never returns a token containing whitespace, so a space joins them losslessly.
    tokens = tuple(" ".join(tokenize(c.indexed_text)) for c in chunks)
    return ParsedDocument(doc, tuple(clauses), tuple(chunks), tuple(extract_measures(doc, clauses)), tokens)


@cache
def fingerprint() -> str:
    """Return a hash of what decides parsing besides the file: pipeline version, dictionaries, record fields."""
    h = hashlib.sha256(PIPELINE_VERSION.encode())
    for folder in DATA_DIRS:
        for path in sorted(folder.glob("*")):
            h.update(path.name.encode() + path.read_bytes())
    for record in (PolicyDoc, Clause, Chunk, Measure, records.Target):
        h.update(" ".join(f.name for f in dataclasses.fields(record)).encode())
    return h.hexdigest()[:16]


def cache_key(doc_id: str, source: SourceText, chunk_chars: int) -> str:
    """Return the key of a document's parse: same file, same id, same settings and code give the same parse."""
    return hashlib.sha256(f"{fingerprint()}|{chunk_chars}|{doc_id}|{source.content_hash}".encode()).hexdigest()


def pack(parsed: ParsedDocument) -> bytes:
    """Return a parse as compressed bytes, for the cache and for the trip from a worker process."""
    return zlib.compress(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL), 1)


def unpack(blob: bytes) -> ParsedDocument:
    """Return the parse packed into bytes by `pack` (only ever bytes this index wrote itself)."""
    parsed = pickle.loads(zlib.decompress(blob))
    assert isinstance(parsed, ParsedDocument)
    return parsed


class ParseCache(SqliteStore):
    """Packed parses by key in SQLite, pruned after each build to the documents that build used."""

    def __init__(self, path: Path) -> None:
        try:
            super().__init__(path, SCHEMA, _cache_error)
        except DocumentError as exc:
            # Only a cache: a damaged file costs one full parse, never the build.
            log.warning("解析缓存 %s 已损坏（%s），将重新解析全部文件", path, exc.__cause__)
            for damaged in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                damaged.unlink(missing_ok=True)
            super().__init__(path, SCHEMA, _cache_error)

    def present(self, keys: list[str]) -> set[str]:
        """Return which of the keys have a cached parse."""
        return {key for (key,) in self.read_in("SELECT key FROM parses WHERE key IN ({})", keys)}

    def get(self, key: str) -> bytes:
        """Return one cached parse (read one at a time: a whole corpus of them would not fit in memory)."""
        rows = self.read("SELECT blob FROM parses WHERE key=?", (key,))
        if not rows:
            raise KeyError(key)
        return bytes(rows[0][0])

    def put(self, items: list[tuple[str, bytes]]) -> None:
        """Store parses."""
        with self.write() as conn:
            conn.executemany("INSERT OR REPLACE INTO parses VALUES (?, ?)", items)

    def keep_only(self, keys: Iterable[str]) -> None:
        """Delete every parse but the given ones, so the cache holds one corpus, not every version of it."""
        with self.write() as conn:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS used (key TEXT PRIMARY KEY)")
            conn.execute("DELETE FROM used")
            conn.executemany("INSERT OR IGNORE INTO used VALUES (?)", ((k,) for k in keys))
            conn.execute("DELETE FROM parses WHERE key NOT IN (SELECT key FROM used)")


SCHEMA = "CREATE TABLE IF NOT EXISTS parses (key TEXT PRIMARY KEY, blob BLOB)"


def _cache_error(path: Path, exc: sqlite3.Error) -> DocumentError:
    return DocumentError(f"无法打开解析缓存 {path}：{exc}")


def _work(job: tuple[str, str, SourceText, int]) -> bytes | str:
    """Return a packed parse, or the reason it failed: one file's parser bug must not stop the rest."""
    rel, doc_id, source, chunk_chars = job
    try:
        return pack(parse(doc_id, source, chunk_chars))
    except Exception as exc:
        log.exception("解析失败：%s", rel)
        return f"解析失败（{exc.__class__.__name__}: {exc}）"


def parse_all(jobs: list[tuple[str, str, SourceText]], chunk_chars: int, cache: ParseCache,
              done: Callable[[], None] = lambda: None) -> Iterator[tuple[str, ParsedDocument | str, bool]]:
    """Yield (path, parse or failure reason, whether it came from the cache) per document in order: cached ones
    unpacked, the rest parsed on every core when there is enough text to repay the start-up, and cached."""
    keys = [cache_key(doc_id, source, chunk_chars) for _, doc_id, source in jobs]
    cached = cache.present(keys)
    todo = [(rel, doc_id, source, chunk_chars) for (rel, doc_id, source), key in zip(jobs, keys, strict=True)
            if key not in cached]
    fresh = iter(_parse_jobs(todo))
    pending: list[tuple[str, bytes]] = []
    for (rel, doc_id, source), key in zip(jobs, keys, strict=True):
        parsed = _cached(cache, key) if key in cached else None
        if parsed is not None:
            yield rel, parsed, True
        else:
            # A cache entry that could not be read back is parsed here; the rest come from the workers, in order.
            blob = next(fresh) if key not in cached else _work((rel, doc_id, source, chunk_chars))
            if isinstance(blob, str):
                yield rel, blob, False
            else:
                pending.append((key, blob))
                yield rel, unpack(blob), False
        if len(pending) >= 200:
            cache.put(pending)
            pending = []
        done()
    cache.put(pending)
    cache.keep_only(keys)


def _cached(cache: ParseCache, key: str) -> ParsedDocument | None:
    """Return a cached parse, or None when its entry cannot be read back (then the file is parsed again)."""
    try:
        return unpack(cache.get(key))
    except Exception as exc:
        log.warning("解析缓存中的条目 %s 无法读取（%s），重新解析该文件", key[:12], exc.__class__.__name__)
        return None


def _parse_jobs(todo: list[tuple[str, str, SourceText, int]]) -> Iterator[bytes | str]:
    workers = os.cpu_count() or 1
    # Forked workers inherit the loaded dictionaries. A build in a server's loader thread stays on one core: the
    # server's other threads could hold a lock at the fork. (Daemon helpers such as tqdm's monitor only sleep.)
    if (workers < 2 or len(todo) < 2 or sum(len(job[2].text) for job in todo) < PARALLEL_MIN_CHARS
            or threading.current_thread() is not threading.main_thread()):
        yield from map(_work, todo)
        return
    tokenize("预热")
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        yield from pool.map(_work, todo, chunksize=4)
