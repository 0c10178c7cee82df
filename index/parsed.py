"""Everything one document yields (record, clauses, chunks, measures, search tokens): made on every core,
cached by content so a rebuild re-parses only the files that changed."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import multiprocessing
import os
import pickle
import threading
import zlib
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from index import records
from index.attachments import split_attachments
from index.chunking import chunk_document
from index.cleaning import clean_text
from index.deadline import time_limit
from index.errors import DocumentError
from index.lang.tokens import tokenize
from index.measures import extract_measures
from index.metadata import extract_metadata, notice_title
from index.records import Chunk, Clause, Measure, PolicyDoc, SourceText, TextTable
from index.sqlite import CacheStore
from index.structure import parse_clauses, with_tables

log = logging.getLogger(__name__)
# Bump when parsing or chunking code changes, so neither the cache nor an "unchanged" corpus keeps old results.
PIPELINE_VERSION = "12"
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


@dataclass(frozen=True)
class ParsedFile:
    """Everything one file yields: its document, then one document per attachment split from it."""

    parts: tuple[ParsedDocument, ...]


def _with_file_facts(doc: PolicyDoc, source: SourceText) -> PolicyDoc:
    """Return the record with what the file itself tells: address, format, hash, scanned pages, bundle place."""
    url = source.meta.get("url")
    return dataclasses.replace(doc, url=str(url) if url else None, fmt=source.fmt, file_hash=source.file_hash,
                               member=source.member, ocr_pages=source.ocr_pages, part_of=source.part_of or None,
                               part_label=source.part_label,
                               part_of_title=Path(source.part_of).stem if source.part_of else "")


def parse_documents(doc_id: str, source: SourceText) -> list[tuple[PolicyDoc, list[Clause]]]:
    """Return the records of a loaded source: the document and its clauses, then each attachment printed after it
    as a document of its own (its id `<doc_id>!附件1`), sharing the notice's issuer, number, date and region."""
    text = clean_text(source.text)
    own, attachments = split_attachments(text)
    clauses = with_tables(parse_clauses(doc_id, own), source.tables)
    doc = _with_file_facts(extract_metadata(doc_id, source, own, clauses), source)
    if attachments and len(attachments) == 1 and attachments[0].title == doc.title:
        # The notice only covers one attachment and is already cited by its title (印发《X》的通知 -> X):
        # kept whole, as 附件 clauses of one document.
        clauses = with_tables(parse_clauses(doc_id, text), source.tables)
        return [(_with_file_facts(extract_metadata(doc_id, source, text, clauses), source), clauses)]
    if attachments and "title" not in source.meta:
        doc = dataclasses.replace(doc, title=notice_title(own) or doc.title)
    out = [(doc, clauses)]
    for part in attachments:
        part_id = f"{doc_id}!{part.label}"
        part_clauses = with_tables(parse_clauses(part_id, part.text), source.tables)
        found = extract_metadata(part_id, dataclasses.replace(source, meta={}), part.text, part_clauses)
        out.append((dataclasses.replace(
            _with_file_facts(found, source), title=part.title, issuer=doc.issuer or found.issuer,
            doc_number=doc.doc_number or found.doc_number, issue_date=doc.issue_date or found.issue_date,
            region=doc.region or found.region, province=doc.province or found.province,
            part_of=doc_id, part_label=part.label, part_of_title=doc.title), part_clauses))
    return out


def parse_document(doc_id: str, source: SourceText) -> tuple[PolicyDoc, list[Clause]]:
    """Return a document record and its clauses from a loaded source (attachments split from it left out)."""
    return parse_documents(doc_id, source)[0]


def parse(doc_id: str, source: SourceText, chunk_chars: int, known: Mapping[str, str] | None = None) -> ParsedFile:
    """Return everything the index keeps of one file; the tokens of a chunk whose text is in `known` (an earlier
    version of the file's chunks) are taken from there: tokenizing is most of a parse, and an edited file keeps
    most of its chunks."""
    known = known or {}
    parts = []
    for doc, clauses in parse_documents(doc_id, source):
        chunks = chunk_document(doc, clauses, chunk_chars)
        # jieba never returns a token containing whitespace, so a space joins them losslessly.
        tokens = tuple(known[c.indexed_text] if c.indexed_text in known else " ".join(tokenize(c.indexed_text))
                       for c in chunks)
        parts.append(ParsedDocument(doc, tuple(clauses), tuple(chunks), tuple(extract_measures(doc, clauses)),
                                    tokens))
    return ParsedFile(tuple(parts))


@cache
def fingerprint() -> str:
    """Return a hash of what decides parsing besides the file: pipeline version, dictionaries, record fields."""
    h = hashlib.sha256(PIPELINE_VERSION.encode())
    for folder in DATA_DIRS:
        for path in sorted(folder.glob("*")):
            h.update(path.name.encode() + path.read_bytes())
    for record in (PolicyDoc, Clause, Chunk, Measure, records.Target, TextTable):
        h.update(" ".join(f.name for f in dataclasses.fields(record)).encode())
    return h.hexdigest()[:16]


def cache_key(doc_id: str, source: SourceText, chunk_chars: int) -> str:
    """Return the key of a document's parse: same file, same id, same settings and code give the same parse."""
    return hashlib.sha256(f"{fingerprint()}|{chunk_chars}|{doc_id}|{source.content_hash}".encode()).hexdigest()


def pack(parsed: ParsedFile) -> bytes:
    """Return a parse as compressed bytes, for the cache and for the trip from a worker process."""
    return zlib.compress(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL), 1)


def unpack(blob: bytes) -> ParsedFile:
    """Return the parse packed into bytes by `pack` (only ever bytes this index wrote itself)."""
    parsed = pickle.loads(zlib.decompress(blob))
    assert isinstance(parsed, ParsedFile)
    return parsed


class ParseCache(CacheStore):
    """Packed parses by key in SQLite, pruned after each build to the documents that build used."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA, "解析缓存")

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

    def keep_parses(self, keys: Iterable[str]) -> None:
        """Delete every parse but the given ones, so the cache holds one corpus, not every version of it."""
        self.keep_only("parses", "key", keys)


SCHEMA = "CREATE TABLE IF NOT EXISTS parses (key TEXT PRIMARY KEY, blob BLOB)"


def _known_tokens(blob: bytes) -> dict[str, str]:
    """Return the tokens of each chunk text of a packed earlier parse, none when it cannot be read back."""
    try:
        parsed = unpack(blob)
    except Exception:
        return {}
    return {c.indexed_text: t for part in parsed.parts for c, t in zip(part.chunks, part.tokens, strict=True)}


def _work(job: tuple[str, str, SourceText, int, float, bytes]) -> bytes | str:
    """Return a packed parse, or the reason it failed: one file's parser bug or run-away time must not stop the
    rest. The job's last part is the file's earlier parse (packed; empty when there is none), whose chunks'
    tokens are taken where their text is unchanged."""
    rel, doc_id, source, chunk_chars, seconds, earlier = job
    try:
        with time_limit(seconds, f"解析超过 {seconds:g} 秒仍未完成，已跳过（上限 QA_PARSE_MAX_SECONDS）"):
            return pack(parse(doc_id, source, chunk_chars, _known_tokens(earlier) if earlier else None))
    except DocumentError as exc:
        log.warning("%s：%s", rel, exc)
        return str(exc)
    except Exception as exc:
        log.exception("解析失败：%s", rel)
        return f"解析失败（{exc.__class__.__name__}: {exc}）"


@dataclass(frozen=True)
class Reused:
    """A file whose parse the previous generation already holds (the same cache key): its rows are taken from
    there, its parse is not read."""


REUSED = Reused()


def parse_all(jobs: list[tuple[str, str, SourceText]], chunk_chars: int, cache: ParseCache,
              done: Callable[[], None] = lambda: None, seconds: float = 0.0, reuse: Container[str] = (),
              earlier: Mapping[str, str] | None = None) -> Iterator[tuple[str, str, ParsedFile | Reused | str, bool]]:
    """Yield (path, cache key, parse or failure reason, whether it came from the cache) per document in order: REUSED
    for a key in `reuse`, cached ones unpacked, the rest parsed on every core when there is enough text to repay the
    start-up, and cached; a file whose parse takes over `seconds` (0: no limit) is given up with the reason.
    `earlier` names the cache key of a document's earlier parse (by document id): a changed file takes the tokens
    of its unchanged chunks from it."""
    keys = [cache_key(doc_id, source, chunk_chars) for _, doc_id, source in jobs]
    # The cache is asked only about the files not reused: in a rebuild, the few that changed.
    cached = cache.present([key for key in keys if key not in reuse])
    todo_jobs = [(rel, doc_id, source) for (rel, doc_id, source), key in zip(jobs, keys, strict=True)
                 if key not in cached and key not in reuse]
    earlier = {doc_id: earlier[doc_id] for _, doc_id, _ in todo_jobs if doc_id in earlier} if earlier else {}
    before = cache.present(list(earlier.values()))

    def earlier_parse(doc_id: str) -> bytes:
        key = earlier.get(doc_id, "")
        return cache.get(key) if key in before else b""

    todo = [(rel, doc_id, source, chunk_chars, seconds, earlier_parse(doc_id)) for rel, doc_id, source in todo_jobs]
    fresh = iter(_parse_jobs(todo))
    pending: list[tuple[str, bytes]] = []
    for (rel, doc_id, source), key in zip(jobs, keys, strict=True):
        if key in reuse:
            yield rel, key, REUSED, True
            done()
            continue
        parsed = _cached(cache, key) if key in cached else None
        if parsed is not None:
            yield rel, key, parsed, True
        else:
            # A cache entry that could not be read back is parsed here; the rest come from the workers, in order.
            blob = next(fresh) if key not in cached else _work((rel, doc_id, source, chunk_chars, seconds, b""))
            if isinstance(blob, str):
                yield rel, key, blob, False
            else:
                pending.append((key, blob))
                yield rel, key, unpack(blob), False
        if len(pending) >= 200:
            cache.put(pending)
            pending = []
        done()
    cache.put(pending)
    cache.keep_parses(keys)


def _cached(cache: ParseCache, key: str) -> ParsedFile | None:
    """Return a cached parse, or None when its entry cannot be read back (then the file is parsed again)."""
    try:
        return unpack(cache.get(key))
    except Exception as exc:
        log.warning("解析缓存中的条目 %s 无法读取（%s），重新解析该文件", key[:12], exc.__class__.__name__)
        return None


def _parse_jobs(todo: list[tuple[str, str, SourceText, int, float, bytes]]) -> Iterator[bytes | str]:
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
