"""A generation's records file: its documents, clauses, chunks and measures in one read-only SQLite file, read by
id when answering asks for them, with the groupings answering uses (a document's clauses, a region's documents,
sections by title, clauses by label, the measures by region and tag) as indexed queries instead of Python lists
built at open.

SQLite, not memory-mapped arrays: it is already a dependency (index/sqlite.py), answering reads a few dozen records
by id per question (a B-tree point read with an index), and the groupings are secondary indexes SQLite keeps, where
arrays would need an offset table and a hand-made index per grouping. The rows are the records' orjson form, decoded
into the same frozen records on every read; a small LRU keeps the hot rows."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Collection, ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import orjson

from index.errors import GenerationDamaged
from index.records import TAG_KINDS, Chunk, Clause, FileDigest, Measure, MeasureQuery, PolicyDoc
from index.retrieval import Scope, ScopedChunks

RECORDS_FILE = "records.sqlite"
# A generation a rebuild made from the previous one's records without copying them: its RECORDS_FILE is the previous
# one's, hard-linked (the base, never written again), and this file holds the rows of the files changed since the
# base was written, with the base's slots they hide (`gone`). Read through views over both (`connect`).
DELTA_FILE = "records-delta.sqlite"
# The records as JSON lines, as generations were written before the records file (still opened: `legacy_records`).
JSONL = ("docs.jsonl", "clauses.jsonl", "chunks.jsonl", "measures.jsonl")
# Rows per query when a whole table is walked: the connection's lock is never held across a caller's loop.
FIRST_BATCH, BATCH = 16, 1000
# Ids and `n` (the position in reading order: iteration and "reading order" are the order the build wrote) are
# separate so that a table is read in reading order and by id. The big JSON column comes last in each row.
# A build numbers each corpus file's rows in a block of its own: n = the file's slot << SHIFT + the row's place among
# the file's rows, slots spread over (0, TOP) in reading order with gaps between them. A rebuild then replaces a
# changed file's rows in a copy of the previous file (`RecordWriter.patch`) without moving any other row or
# rebuilding an index: a changed file keeps its slot, a new one takes a slot in the gap where it reads. Records
# written without files (temporary records, files written before slots) are numbered 0, 1, 2, ….
SCHEMA = """
CREATE TABLE docs (n INTEGER PRIMARY KEY, id TEXT NOT NULL, region TEXT NOT NULL, text TEXT NOT NULL,
                   data BLOB NOT NULL);
CREATE TABLE clauses (n INTEGER PRIMARY KEY, id TEXT NOT NULL, doc_id TEXT NOT NULL, section TEXT,
                      label_rev TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE chunks (n INTEGER PRIMARY KEY, id TEXT NOT NULL, clause_id TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE measures (n INTEGER PRIMARY KEY, clause_id TEXT NOT NULL, region TEXT, grants INTEGER NOT NULL,
                       data BLOB NOT NULL);
CREATE TABLE measure_tags (n INTEGER NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
                           PRIMARY KEY (n, kind, value)) WITHOUT ROWID;
CREATE TABLE files (n INTEGER PRIMARY KEY, key TEXT NOT NULL, docs INTEGER NOT NULL, clauses INTEGER NOT NULL,
                    chunks INTEGER NOT NULL, measures INTEGER NOT NULL)
"""
# A delta's own table: the base's slots whose rows it hides (files changed or deleted since the base was written).
GONE = "CREATE TABLE gone (slot INTEGER PRIMARY KEY)"
# Made after the rows are in: one sort per index is faster than keeping them sorted row by row.
INDEXES = """
CREATE UNIQUE INDEX docs_id ON docs (id);
CREATE INDEX docs_region ON docs (region, n);
CREATE UNIQUE INDEX clauses_id ON clauses (id);
CREATE INDEX clauses_doc ON clauses (doc_id, n);
CREATE INDEX clauses_section ON clauses (section, n) WHERE section IS NOT NULL;
CREATE INDEX clauses_label ON clauses (label_rev, n);
CREATE UNIQUE INDEX chunks_id ON chunks (id);
CREATE INDEX chunks_clause ON chunks (clause_id, n);
CREATE INDEX measures_clause ON measures (clause_id);
CREATE INDEX measures_region ON measures (region, grants, n);
CREATE INDEX measures_grants ON measures (grants, n);
CREATE INDEX measure_tags_value ON measure_tags (kind, value, n)
"""
TABLES = ("docs", "clauses", "chunks", "measures")
COLUMNS = {"docs": 5, "clauses": 6, "chunks": 4, "measures": 5, "files": 6}
# `files`: one row per corpus file, in reading order, with how many rows of each table it added (its parse cache
# key names it): a file's rows are consecutive in every table, so a rebuild copies an unchanged file's rows as a
# range. Files written before it have no such table and are written whole.
FILE_TABLES = (*TABLES, "files")
# A measure's tags, a row each (kind, value: "type", "税收"), numbered by the measure's `n`: the filters answering
# asks for (a type, an industry, a beneficiary) are index searches. Not counted in `files`: its rows go and come
# with their measures'.
TAGS = "measure_tags"
ROW_TABLES = (*FILE_TABLES, TAGS)
NAMES = {"docs": "id, region, text, data", "clauses": "id, doc_id, section, label_rev, data",
         "chunks": "id, clause_id, data", "measures": "clause_id, region, grants, data",
         "files": "key, docs, clauses, chunks, measures", TAGS: "kind, value"}
# The measures' columns in records files written before their columns and tags (user_version 2 and older).
UNINDEXED_MEASURES = "data"
# 2**28 rows of one table per file (a file is at most QA_MAX_DOCUMENT_BYTES, 20 MB by default) and 2**35 slots: n
# stays below SQLite's largest integer, 2**63.
SHIFT, TOP = 28, 1 << 35
# PRAGMA user_version of a records file whose rows are numbered by file slots: 2, as written before the measures had
# columns and tags (still read, the measures filtered in Python; a rebuild writes it afresh, see index/reuse.py);
# 3, with them. Records written without files (temporary ones) keep 0 and have the columns and tags too.
SLOTTED, MEASURES_INDEXED = 2, 3
# A delta is merged into a new base once it is more than a tenth of the base's size (`merge_due`): after the rebuild
# that grew it so is published, as a second generation of the same contents (index/build.py, `_compact`).
MERGE_AT = 10
# The index folder's note of the records files whose SHA-256 a build computed, each with the stat the file had while
# it was read: a rebuild trusts a shared base whose stat is still that one, instead of reading it whole (`trusted`).
CHECKS_FILE = "records-checks.json"
# A base trusted by its stat is read and checked again once its last check is older than this: damage that leaves the
# stat as it was (a failing disk) shows only to a read. A merge reads and checks the base too.
RECHECK_NS = 24 * 3600 * 10**9
# A check is noted only for a file last written more than this before the check began, as for corpus files
# (index/readcache.py, git's "racy" rule): a write within the file system's time granularity of the check could
# leave the modification time as it was.
RACY_NS = 2 * 10**9
# Checks noted, newest first: a base and the one a merge is replacing.
CHECKS_KEPT = 4
# KiB of SQLite page cache when records are copied into a temporary file inside an app process.
TEMPORARY_CACHE_KIB = 4096
# Above every character: `label_rev < ending + LAST` bounds the labels that start with `ending`.
LAST = "\U0010ffff"
# Ids per IN (...) list: SQLite allows 32,766 variables in a statement.
IN_BATCH = 30_000
T = TypeVar("T")


def section_title(clause: Clause) -> str | None:
    """Return the title a heading-only section with items is found by ("保障措施"), None for any other clause."""
    return clause.title if clause.children and clause.title and not clause.is_retrievable else None


def spread(files: int) -> list[int]:
    """Return the slots of a build's files in reading order, evenly spaced in (0, TOP): a rebuild's changed file gets
    its old slot back (the middle of its neighbours'), a new one a slot between its neighbours'."""
    step = TOP // (files + 1)
    return [(i + 1) * step for i in range(files)]


def fit_slots(keys: Sequence[str], kept: Mapping[str, int]) -> list[int] | None:
    """Return the slot of each file of a rebuild in reading order (`keys`): a file the previous records file holds
    keeps its slot (`kept`), the others are spread over the gap between their kept neighbours. None when a gap has
    no room left or the kept files are out of order: then the file is written afresh."""
    slots = [0] * len(keys)
    waiting: list[int] = []
    low = 0

    def fill(high: int) -> bool:
        if high - low <= len(waiting):
            return False
        for j, i in enumerate(waiting, 1):
            slots[i] = low + (high - low) * j // (len(waiting) + 1)
        waiting.clear()
        return True

    for i, key in enumerate(keys):
        slot = kept.get(key)
        if slot is None:
            waiting.append(i)
            continue
        if slot <= low or not fill(slot):
            return None
        slots[i] = low = slot
    return slots if fill(TOP) else None


@dataclass(frozen=True)
class Source:
    """A previous generation's records a rebuild starts from: its records file and, when it has one, the delta
    beside it, each with the SHA-256 its manifest records."""

    base: Path
    digest: str
    delta: Path | None = None
    delta_digest: str = ""
    # The index folder's note of checked files (CHECKS_FILE); None: the base is always read and checked.
    checks: Path | None = None


def merge_due(folder: Path) -> bool:
    """Return True when a generation's delta has grown past a tenth of its base: its records are then written again
    as one base, the delta merged into a copy (a delta grows with every rebuild, each copying it, and reads through
    it cost a second lookup)."""
    delta = folder / DELTA_FILE
    return delta.exists() and delta.stat().st_size * MERGE_AT > (folder / RECORDS_FILE).stat().st_size


class RecordWriter:
    """Writes a records file, one document's records at a time, or patches a previous generation's (`source`);
    `finish` checks and indexes it.

    A patch either shares the previous base (hard-linked, never written: the changed files' rows go into a delta
    beside it, which also names the base's slots they hide) or, when told not to `share` (a compaction: the delta
    has grown past a tenth of the base) or the folder cannot hold a hard link, copies the base and merges the delta
    into it."""

    def __init__(self, path: Path, source: Source | None = None, cache_kib: int = 65536, share: bool = True) -> None:
        self.path = path
        self._patching = source is not None
        # The digests of files this writer did not write, being checked in a thread: a shared base's.
        self.checked: dict[str, Future[FileDigest]] = {}
        self.shared = source is not None and share and hard_link(source.base, path)
        target = path.with_name(DELTA_FILE) if self.shared else path
        if source is not None and self.shared:
            # The base's rows are read by every later generation and never again by a build: its bytes are checked
            # against the digest recorded when it was written, in a thread while the build parses (the check a copy
            # made before, without the copy); or not read at all, when a build noted them as that digest and the
            # file's stat is still the one it had then (`trusted`): at 1M the base is 4 GB, read from disk when
            # its pages are not in memory.
            if source.checks is not None and trusted(source.base, source.digest, source.checks):
                done: Future[FileDigest] = Future()
                done.set_result(FileDigest(RECORDS_FILE, source.base.stat().st_size, source.digest))
                self.checked[RECORDS_FILE] = done
            else:
                checking = ThreadPoolExecutor(1)
                self.checked[RECORDS_FILE] = checking.submit(_checked, source.base, source.digest, source.checks)
                checking.shutdown(wait=False)
            if source.delta is not None:
                _copy_checked(source.delta, target, source.delta_digest)
        elif source is not None:
            # Copied whole and checked against its digest: the rows kept are never read, so a damaged page would
            # otherwise pass into the new generation unnoticed.
            _copy_checked(source.base, path, source.digest)
        fresh = source is None or (self.shared and source.delta is None)
        self._conn = sqlite3.connect(target.resolve().as_uri(), isolation_level=None, uri=True)
        # No journal and no syncs while writing: an unfinished generation has no manifest and is deleted whole
        # (store.remove_incomplete), so there is nothing a journal would have to roll back.
        self._conn.execute("PRAGMA journal_mode = OFF")
        self._conn.execute("PRAGMA synchronous = OFF")
        self._conn.execute(f"PRAGMA cache_size = -{cache_kib}")
        if fresh:
            # 16 KiB pages: a document's text (20 KB on average) spans fewer overflow pages; at 100k clauses the file
            # is 13 % smaller and its rows are written ~40 % faster than with the default 4 KiB. A larger page cache
            # for the index sorts.
            self._conn.execute("PRAGMA page_size = 16384")
            self._conn.executescript(SCHEMA)
            if self.shared:  # a delta is small: indexed from the start, as a patch finds a copied file
                self._conn.executescript(f"{GONE};{INDEXES}")
        if self.shared:
            self._conn.execute("ATTACH ? AS base", (f"{path.resolve().as_uri()}?mode=ro&immutable=1",))
        self._conn.execute("BEGIN")
        if source is not None and not self.shared and source.delta is not None:
            self._merge(source.delta, source.delta_digest)
        self._next = dict.fromkeys(TABLES, 0)
        self._mark = dict(self._next)
        self._slot: int | None = None
        self._added: list[int] = []  # slots written by a patch, whose links `finish` checks

    def _merge(self, delta: Path, digest: str) -> None:
        """Apply a previous generation's delta to the copy of its base: the slots it hides dropped, its rows in."""
        _verify(delta, _sha256(delta), digest)
        self._conn.execute("ATTACH ? AS delta", (f"{delta.resolve().as_uri()}?mode=ro&immutable=1",))
        for slot, in self._conn.execute("SELECT slot FROM delta.gone").fetchall():
            self.drop(slot)
        for table in ROW_TABLES:
            self._conn.execute(f"INSERT INTO main.{table} SELECT n, {NAMES[table]} FROM delta.{table}")
        self._conn.execute("COMMIT")  # DETACH is refused inside a transaction
        self._conn.execute("DETACH delta")
        self._conn.execute("BEGIN")

    def _insert(self, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
        def numbered() -> Iterator[tuple[Any, ...]]:
            for row in rows:
                yield self._next[table], *row
                self._next[table] += 1

        marks = ",".join("?" * COLUMNS[table])
        try:
            self._conn.executemany(f"INSERT INTO {table} VALUES ({marks})", numbered())
        except sqlite3.IntegrityError as exc:  # a patch's indexes are in place while it adds rows
            raise GenerationDamaged(f"记录中有重复的编号（{exc}）") from exc

    def add_docs(self, docs: Iterable[PolicyDoc]) -> None:
        """Append documents; the text has its own column, so that `mentions` searches it and nothing else."""
        def row(doc: PolicyDoc) -> tuple[Any, ...]:
            data = orjson.loads(orjson.dumps(doc))
            return doc.doc_id, doc.region or "", data.pop("text"), orjson.dumps(data)

        self._insert("docs", map(row, docs))

    def add_clauses(self, clauses: Iterable[Clause]) -> None:
        """Append clauses in reading order."""
        self._insert("clauses", ((c.clause_id, c.doc_id, section_title(c), c.label[::-1], orjson.dumps(c))
                                 for c in clauses))

    def add_chunks(self, chunks: Iterable[Chunk]) -> None:
        """Append chunks."""
        self._insert("chunks", ((c.chunk_id, c.clause_id, orjson.dumps(c)) for c in chunks))

    def add_measures(self, measures: Iterable[Measure]) -> None:
        """Append measures, each with its tags; a batch at a time, as an app process copies a generation's
        measures into a temporary file from a stream."""
        for batch in _batches(measures, BATCH):
            first = self._next["measures"]
            self._insert("measures", ((m.clause_id, m.region, int(m.grants), orjson.dumps(m)) for m in batch))
            self._conn.executemany(f"INSERT INTO {TAGS} VALUES (?, ?, ?)",
                                   ((n, kind, value) for n, m in enumerate(batch, first)
                                    for kind, field in TAG_KINDS.items()
                                    for value in dict.fromkeys(getattr(m, field))))

    def add(self, doc: PolicyDoc, clauses: Iterable[Clause], chunks: Iterable[Chunk],
            measures: Iterable[Measure]) -> None:
        """Append one document's records."""
        self.add_docs([doc])
        self.add_clauses(clauses)
        self.add_chunks(chunks)
        self.add_measures(measures)

    def begin_file(self, slot: int) -> None:
        """Number the rows added next as the file of this slot's."""
        self._slot = slot
        self._next = dict.fromkeys(TABLES, slot << SHIFT)
        self._mark = dict(self._next)

    def end_file(self, key: str) -> None:
        """Record the rows added since `begin_file` as one file's, named by its parse cache key."""
        if self._slot is None:
            raise ValueError("end_file without begin_file")
        counts = [self._next[t] - self._mark[t] for t in TABLES]
        if max(counts) >= 1 << SHIFT:
            raise GenerationDamaged(f"一个文件有 {max(counts)} 行记录，超过上限 {(1 << SHIFT) - 1}")
        self._conn.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)", (self._slot, key, *counts))
        if self._patching:
            self._added.append(self._slot)
        self._slot = None

    def drop(self, slot: int) -> None:
        """Delete the rows of a file of the patched records file (changed, deleted or no longer indexed); when the
        base is shared, hide its rows there."""
        for table in (*TABLES, TAGS):
            self._conn.execute(f"DELETE FROM main.{table} WHERE n >= ? AND n < ?",
                               (slot << SHIFT, (slot + 1) << SHIFT))
        self._conn.execute("DELETE FROM main.files WHERE n = ?", (slot,))
        if self.shared:
            self._conn.execute("INSERT OR IGNORE INTO gone SELECT n FROM base.files WHERE n = ?", (slot,))

    def finish(self) -> None:
        """Index and commit the file, or raise GenerationDamaged when its ids clash or its links point nowhere.

        The whole-corpus checks are made here, by the build, once: opening checks only counts (`RecordFile.open`).
        A patch checks the links of the rows it added: kept rows were checked by the build that wrote them, and a
        file's clauses and chunks link only to its own documents and clauses, which go and come with it."""
        try:
            if not self._patching:
                for statement in INDEXES.split(";"):  # not executescript: it would commit first
                    self._conn.execute(statement)
        except sqlite3.IntegrityError as exc:
            raise GenerationDamaged(f"记录中有重复的编号（{exc}）") from exc
        checks = (
            ("有条款指向不存在的文件",
             "SELECT 1 FROM clauses c WHERE {} NOT EXISTS (SELECT 1 FROM docs WHERE id = c.doc_id) LIMIT 1"),
            ("有检索单元指向不存在的条款",
             "SELECT 1 FROM chunks h WHERE {} NOT EXISTS (SELECT 1 FROM clauses WHERE id = h.clause_id) LIMIT 1"),
        )
        spans = [(s << SHIFT, (s + 1) << SHIFT) for s in self._added] if self._patching else [None]
        for problem, sql in checks:
            for span in spans:
                found = self._conn.execute(sql.format("n >= ? AND n < ? AND" if span else ""), span or ()).fetchone()
                if found:
                    raise GenerationDamaged(problem)
        if self._conn.execute("SELECT 1 FROM files LIMIT 1").fetchone():
            self._conn.execute(f"PRAGMA user_version = {MEASURES_INDEXED}")
        self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the file (uncommitted rows are dropped); safe to call twice."""
        self._conn.close()


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            sha.update(block)
    return sha.hexdigest()


def hard_link(source: Path, target: Path) -> bool:
    """Hard-link a file into another folder; return False when the file system cannot."""
    try:
        os.link(source, target)
    except OSError:
        return False
    return True


def _checked(base: Path, digest: str, checks: Path | None) -> FileDigest:
    """Return a shared base's size and digest, or raise GenerationDamaged when its SHA-256 is not `digest`; a match
    is noted in `checks`."""
    found, identity = _steady_sha256(base)
    _verify(base, found, digest)
    if checks is not None and identity is not None:
        _note(checks, identity, digest)
    return FileDigest(RECORDS_FILE, identity[2] if identity else base.stat().st_size, digest)


def written_digest(path: Path, checks: Path) -> FileDigest:
    """Return the size and SHA-256 of a records file a build just wrote (its generation's base), noted in `checks`
    for the rebuilds that will share it. Its modification time is first set back by twice RACY_NS: any later write
    sets it to the present, so a write the hash did not see always changes the stat the note holds."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, time.time_ns() - 2 * RACY_NS))
    found, identity = _steady_sha256(path)
    if identity is not None:
        _note(checks, identity, found)
    return FileDigest(path.name, identity[2] if identity else path.stat().st_size, found)


def _identity(path: Path) -> list[int]:
    """Return what the note of a check keeps of a file's stat: device, inode, size and modification time. Not the
    change time: a rebuild's hard link and a deleted generation's unlink change it."""
    st = os.stat(path)
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def _steady_sha256(path: Path) -> tuple[str, list[int] | None]:
    """Return a file's SHA-256 and its stat identity; the identity is None when the stat changed while the file was
    read, or when the file was last written less than RACY_NS before the read began."""
    began = time.time_ns()
    before = _identity(path)
    found = _sha256(path)
    steady = before == _identity(path) and before[3] < began - RACY_NS
    return found, before if steady else None


def _notes(checks: Path) -> list[dict[str, Any]]:
    """Return the checks noted in an index folder, newest first; none when the note is missing or unreadable."""
    try:
        notes = json.loads(checks.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [n for n in notes if isinstance(n, dict)] if isinstance(notes, list) else []


def _note(checks: Path, identity: list[int], digest: str) -> None:
    """Note a file's SHA-256 with its stat identity and the time it was read (written whole, then renamed). A note
    that cannot be written costs the next rebuild a read of the base, not this build."""
    _keep_notes(checks, [{"identity": identity, "sha256": digest, "at": time.time_ns()},
                         *(n for n in _notes(checks) if n.get("identity") != identity)][:CHECKS_KEPT])


def _keep_notes(checks: Path, notes: list[dict[str, Any]]) -> None:
    """Write the notes of checks whole (a reader never sees half of them); one that cannot be written is dropped."""
    with contextlib.suppress(OSError):
        write_atomically(checks, json.dumps(notes))


def write_atomically(path: Path, text: str) -> None:
    """Replace a small file's text so that a reader sees the old text or the new, never a part: written beside it
    under a name of its own, then renamed over it."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def trusted(path: Path, digest: str, checks: Path) -> bool:
    """Return True when a build found the file's SHA-256 to be `digest` less than RECHECK_NS ago and its device,
    inode, size and modification time are still those it had then: no write through the file system since."""
    try:
        identity = _identity(path)
    except OSError:
        return False
    now = time.time_ns()
    return any(n.get("identity") == identity and n.get("sha256") == digest and
               isinstance(n.get("at"), int) and now - n["at"] < RECHECK_NS for n in _notes(checks))


def distrust(path: Path, checks: Path) -> None:
    """Forget the notes of a file's checks (one found damaged since, its stat kept): the next rebuild that shares it
    reads and checks it, finds the damage and writes every file from its parse."""
    try:
        identity = _identity(path)
    except OSError:
        return
    notes = _notes(checks)
    kept = [n for n in notes if n.get("identity") != identity]
    if len(kept) < len(notes):
        _keep_notes(checks, kept)


def _copy_checked(source: Path, target: Path, digest: str) -> None:
    """Copy a file, or raise GenerationDamaged when its SHA-256 is not `digest`: the kernel copies (sendfile) while
    a thread hashes the same pages (hashlib releases the GIL), so the check costs about the copy's time, not more."""
    with ThreadPoolExecutor(1) as pool:
        hashed = pool.submit(_sha256, source)
        shutil.copyfile(source, target)
        _verify(source, hashed.result(), digest)


def _verify(path: Path, found: str, digest: str) -> None:
    """Raise GenerationDamaged when a file's SHA-256 is not the one its manifest records."""
    if found != digest:
        raise GenerationDamaged(f"{path.parent.name}/{path.name} 的内容与 manifest 记录的不符（SHA-256）")


def connect(path: Path, check_same_thread: bool = True) -> sqlite3.Connection:
    """Return a read-only connection to a records file. When it is a generation's and a delta lies beside it, each
    table is a view over both: the base's rows but those of the slots the delta hides, then the delta's. SQLite
    pushes a query's conditions into both halves of such a view, so a read by id or a grouping is an index search
    in each file, and a walk in reading order merges the two."""
    # immutable: a published generation never changes, so SQLite takes no locks and checks no journal.
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                           check_same_thread=check_same_thread)
    delta = path.with_name(DELTA_FILE)
    if path.name != RECORDS_FILE or not delta.exists():
        return conn
    try:
        conn.execute("ATTACH ? AS delta", (f"{delta.resolve().as_uri()}?mode=ro&immutable=1",))
        # A base written before the measures' columns and tags has a delta of its kind: a rebuild shares only a
        # base of the current kind (index/reuse.py).
        indexed = measures_indexed(conn)
        for table in ROW_TABLES if indexed else FILE_TABLES:
            names = NAMES[table] if indexed or table != "measures" else UNINDEXED_MEASURES
            slot, columns = ("n" if table == "files" else f"n >> {SHIFT}"), f"n, {names}"
            conn.execute(f"CREATE TEMP VIEW {table} AS SELECT {columns} FROM main.{table} WHERE {slot} NOT IN "
                         f"(SELECT slot FROM delta.gone) UNION ALL SELECT {columns} FROM delta.{table}")
    except BaseException:
        conn.close()
        raise
    return conn


def is_current(path: Path) -> bool:
    """Return True when a generation's records file exists and is of the current format (rows in file slots, the
    measures with their columns and tags): a build writes any other afresh, even when nothing changed."""
    if not path.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)) as conn:
            return bool(conn.execute("PRAGMA user_version").fetchone()[0] == MEASURES_INDEXED)
    except sqlite3.Error:
        return False


def measures_indexed(conn: sqlite3.Connection) -> bool:
    """Return True when a records file's measures have their columns and tags, False for one written before."""
    return conn.execute("SELECT 1 FROM main.sqlite_master WHERE name = ?", (TAGS,)).fetchone() is not None


def _count(conn: sqlite3.Connection, table: str) -> int:
    """Return how many rows a table (or a view over a base and its delta) has, without a scan of the base: its
    count (SQLite counts a table from its smallest index) less the rows of the hidden slots, as the base's `files`
    table records them (counting them in the table read ~1.5 s more of a cold 1M base), plus the delta's."""
    if not conn.execute("SELECT 1 FROM pragma_database_list WHERE name = 'delta'").fetchone():
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    found = conn.execute(
        f"SELECT (SELECT count(*) FROM main.{table}) - (SELECT coalesce(sum({table}), 0) FROM main.files "
        f"WHERE n IN (SELECT slot FROM delta.gone)) + (SELECT count(*) FROM delta.{table})")
    return int(found.fetchone()[0])


def _count_measures(conn: sqlite3.Connection) -> int:
    """Return how many measures a records file has: from its `files` table when its rows are numbered by file slots
    (the measures table has no index to count from: scanning it took 3.6 s of opening a 1M generation whose pages
    were not in memory), else counted."""
    if conn.execute("PRAGMA user_version").fetchone()[0] in (SLOTTED, MEASURES_INDEXED):
        return int(conn.execute("SELECT coalesce(sum(measures), 0) FROM files").fetchone()[0])
    return _count(conn, "measures")


class RecordFile:
    """An open records file: point reads by id, the groupings as indexed queries, rows decoded on demand.

    One connection behind a lock serves every thread: a read is a few microseconds of SQLite, not worth a
    connection (and a page cache) per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._conn = connect(path, check_same_thread=False)
        except sqlite3.Error as exc:
            raise GenerationDamaged(f"{path.name} 无法读取（{exc}）") from exc
        self._lock = threading.Lock()
        try:
            self.counts = {t: _count(self._conn, t) for t in TABLES if t != "measures"}
            self.counts["measures"] = _count_measures(self._conn)
            self._measures_indexed = measures_indexed(self._conn)
        except sqlite3.Error as exc:
            self._conn.close()
            raise GenerationDamaged(f"{path.name} 无法读取（{exc}）") from exc
        self.docs = Rows(self, "docs", "text, data", _doc, self.counts["docs"], hot=1024)
        self.clauses = Rows(self, "clauses", "data", _clause, self.counts["clauses"], hot=4096)
        self.chunks = Rows(self, "chunks", "data", _chunk, self.counts["chunks"], hot=4096)
        self.clauses_of = lru_cache(maxsize=256)(self._clauses_of)
        self.docs_in_region = lru_cache(maxsize=1024)(self._docs_in_region)
        self.chunks_of = lru_cache(maxsize=1024)(self._chunks_of)
        # The same few scopes (a page's 查询范围, an API client's region) come back question after question.
        self.scoped = lru_cache(maxsize=32)(self._scoped)
        self._titles: list[str] | None = None
        self._types: set[str] | None = None
        self._files: tuple[np.ndarray, np.ndarray] | None = None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Return the rows of a query."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """Return the first row of a query, or None."""
        with self._lock:
            row: tuple[Any, ...] | None = self._conn.execute(sql, params).fetchone()
            return row

    def walk(self, table: str, columns: str) -> Iterator[tuple[Any, ...]]:
        """Yield (n, *columns) of every row in reading order, a batch per query; the first batches are small, since
        callers often take a few (a refusal lists 8 documents, each with its whole text)."""
        last, size = -1, FIRST_BATCH
        while batch := self.rows(f"SELECT n, {columns} FROM {table} WHERE n > ? ORDER BY n LIMIT ?", (last, size)):
            yield from batch
            last, size = batch[-1][0], min(size * 4, BATCH)

    def _clauses_of(self, doc_id: str) -> list[Clause]:
        return [_clause(d) for d, in self.rows("SELECT data FROM clauses WHERE doc_id = ? ORDER BY n", (doc_id,))]

    def _chunks_of(self, clause_id: str) -> list[Chunk]:
        chunks = [_chunk(d) for d, in self.rows("SELECT data FROM chunks WHERE clause_id = ? ORDER BY n", (clause_id,))]
        return sorted(chunks, key=lambda c: c.position)

    def _docs_in_region(self, region: str) -> list[str]:
        return [i for i, in self.rows("SELECT id FROM docs WHERE region = ? ORDER BY n", (region,))]

    def _in(self, sql: str, values: Sequence[str]) -> list[tuple[Any, ...]]:
        """Return the rows of a query with one `IN ({})` list, run a batch of values at a time."""
        rows: list[tuple[Any, ...]] = []
        for i in range(0, len(values), IN_BATCH):
            part = values[i : i + IN_BATCH]
            rows += self.rows(sql.format(",".join("?" * len(part))), part)
        return rows

    def _scoped(self, scope: Scope) -> ScopedChunks:
        """Return the chunks a scope allows, in reading order: a chunk's `n` is its row in the bm25 matrix, as the
        build writes both from one list of chunks."""
        docs: list[str] | None = None
        if scope.regions is not None:
            docs = [i for i, in self._in("SELECT id FROM docs WHERE region IN ({})", sorted(scope.regions))]
        if scope.doc_ids is not None:
            docs = [i for i in docs if i in scope.doc_ids] if docs is not None else sorted(scope.doc_ids)
        if docs is None:
            docs = list(self.docs)
        found = sorted(self._in("SELECT ch.n, ch.id, c.doc_id FROM clauses c JOIN chunks ch ON ch.clause_id = c.id "
                                "WHERE c.doc_id IN ({})", docs))
        return ScopedChunks(self.places("chunks", np.array([n for n, _, _ in found], dtype=np.int64)),
                            [i for _, i, _ in found], list(dict.fromkeys(d for _, _, d in found)))

    def places(self, table: str, ns: np.ndarray) -> np.ndarray:
        """Return the places in reading order (0, 1, 2, …) of a table's rows given by `n`, counted from the files'
        row counts when rows are numbered by file slots: a chunk's place is its row in the bm25 matrix."""
        if self._files is None:
            numbered = self.one("PRAGMA user_version")
            files = self.rows(f"SELECT n, {', '.join(TABLES)} FROM files ORDER BY n") \
                if numbered and numbered[0] in (SLOTTED, MEASURES_INDEXED) else []
            counts = np.array([row[1:] for row in files], dtype=np.int64).reshape(len(files), len(TABLES))
            starts = np.cumsum(counts, axis=0) - counts
            self._files = np.array([row[0] for row in files], dtype=np.int64), starts
        slots, starts = self._files
        if not len(slots):
            return ns
        slot = ns >> SHIFT
        return starts[np.searchsorted(slots, slot), TABLES.index(table)] + (ns - (slot << SHIFT))

    def section_titles(self) -> list[str]:
        """Return the titles of heading-only sections, in the order they first appear (read once: a few per
        document, read from the index alone)."""
        if self._titles is None:
            self._titles = [t for t, _ in self.rows(
                "SELECT section, min(n) FROM clauses WHERE section IS NOT NULL GROUP BY section ORDER BY 2")]
        return self._titles

    def sections(self, title: str) -> list[tuple[int, Clause]]:
        """Return the heading-only sections with this title, each with its position in reading order."""
        rows = self.rows("SELECT n, data FROM clauses WHERE section = ? ORDER BY n", (title,))
        places = self.places("clauses", np.array([n for n, _ in rows], dtype=np.int64)).tolist()
        return [(place, _clause(d)) for place, (_, d) in zip(places, rows, strict=True)]

    def labelled(self, endings: Sequence[str]) -> list[Clause]:
        """Return the clauses whose label ends with one of `endings`, in reading order (a label is kept reversed,
        so an ending is an index range)."""
        found: dict[int, bytes] = {}
        for ending in dict.fromkeys(endings):
            rev = ending[::-1]
            found.update(self.rows("SELECT n, data FROM clauses WHERE label_rev >= ? AND label_rev < ?",
                                   (rev, rev + LAST)))
        return [_clause(found[n]) for n in sorted(found)]

    def mentions(self, word: str) -> bool:
        """Return True when some document's text contains the word (a scan of the texts: callers remember it)."""
        return self.one("SELECT 1 FROM docs WHERE instr(text, ?) > 0 LIMIT 1", (word,)) is not None

    def measures(self) -> MeasureRows:
        """Return the measures, read when iterated."""
        return MeasureRows(self)

    def measures_where(self, query: MeasureQuery) -> Iterator[Measure]:
        """Yield the measures a query selects, in reading order: picked by one indexed query, then read a batch at
        a time. A file written before the measures' columns and tags is walked whole and filtered in Python."""
        if not self._measures_indexed:
            yield from (m for m in self.measures() if query.admits(m))
            return
        where, params = _where(query)
        yield from self.measures_at([n for n, in self.rows(f"SELECT n FROM measures WHERE {where} ORDER BY n", params)])

    def measure_scores(self, query: MeasureQuery, weights: Mapping[tuple[str, str], int]) -> list[tuple[int, str, int]]:
        """Return (n, region or "", score) of the measures a query selects, in reading order, without reading them: a
        measure's score is the sum of the weights of its tags ((kind, value) -> weight)."""
        if not self._measures_indexed:
            return [(n, m.region or "", sum(weights.get((kind, v), 0) for kind, field in TAG_KINDS.items()
                                            for v in dict.fromkeys(getattr(m, field))))
                    for n, m in enumerate(self.measures()) if query.admits(m)]
        where, params = _where(query)
        picked = self.rows(f"SELECT n, coalesce(region, '') FROM measures WHERE {where} ORDER BY n", params)
        scores: dict[int, int] = {}
        pairs = sorted(weights)
        if pairs:
            tags = " OR ".join(["(kind = ? AND value = ?)"] * len(pairs))
            for n, kind, value in self.rows(f"SELECT n, kind, value FROM {TAGS} WHERE ({tags}) AND n IN "
                                            f"(SELECT n FROM measures WHERE {where})",
                                            [x for pair in pairs for x in pair] + params):
                scores[n] = scores.get(n, 0) + weights[kind, value]
        return [(n, region, scores.get(n, 0)) for n, region in picked]

    def measures_at(self, ns: Sequence[int]) -> Iterator[Measure]:
        """Yield the measures of these `n` (as `measure_scores` gives them; in a file of the older format, their
        places in reading order), in the order given, read a batch at a time."""
        if not self._measures_indexed:
            wanted = set(ns)
            walked = {n: m for n, m in enumerate(self.measures()) if n in wanted}
            yield from (walked[n] for n in ns)
            return
        for part in _batches(ns, BATCH):
            found = dict(self.rows(f"SELECT n, data FROM measures WHERE n IN ({','.join('?' * len(part))})", part))
            yield from (_measure(found[n]) for n in part)

    def measure_of(self, clause_id: str) -> Measure | None:
        """Return the measure a clause states, or None."""
        if not self._measures_indexed:
            return next((m for m in self.measures() if m.clause_id == clause_id), None)
        row = self.one("SELECT data FROM measures WHERE clause_id = ? ORDER BY n LIMIT 1", (clause_id,))
        return None if row is None else _measure(row[0])

    def measure_types(self) -> set[str]:
        """Return the measure types some measure has (read once)."""
        if self._types is None:
            if self._measures_indexed:
                self._types = {v for v, in self.rows(f"SELECT DISTINCT value FROM {TAGS} WHERE kind = 'type'")}
            else:
                self._types = {t for m in self.measures() for t in m.types}
        return self._types

    def close(self) -> None:
        """Close the file; safe to call twice."""
        with self._lock:
            self._conn.close()


class Rows(Mapping[str, T]):
    """A table of a records file as a read-only mapping id -> record: a row is read and decoded when asked for, the
    `hot` most recent ones are kept; iteration walks the table in reading order."""

    def __init__(self, file: RecordFile, table: str, columns: str, decode: Callable[..., T], count: int,
                 hot: int) -> None:
        self._file, self._table, self._columns, self._decode, self._count = file, table, columns, decode, count
        self._get = lru_cache(maxsize=hot)(self._read)

    def _read(self, key: str) -> T | None:
        row = self._file.one(f"SELECT {self._columns} FROM {self._table} WHERE id = ?", (key,))
        return None if row is None else self._decode(*row)

    def __getitem__(self, key: str) -> T:
        found = self._get(key) if isinstance(key, str) else None
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._get(key) is not None

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        return (key for _, key in self._file.walk(self._table, "id"))

    def values(self) -> _Values[T]:
        """Return the records, iterated in reading order a batch at a time."""
        return _Values(self)

    def items(self) -> _Items[T]:
        """Return (id, record) pairs, iterated in reading order a batch at a time."""
        return _Items(self)

    def walk(self) -> Iterator[tuple[str, T]]:
        """Yield (id, record) of every row in reading order."""
        return ((key, self._decode(*row)) for _, key, *row in self._file.walk(self._table, f"id, {self._columns}"))


# Mapping's own views would read the rows one query each.
class _Values(ValuesView[T]):
    def __init__(self, rows: Rows[T]) -> None:
        super().__init__(rows)
        self._rows = rows

    def __iter__(self) -> Iterator[T]:
        return (record for _, record in self._rows.walk())


class _Items(ItemsView[str, T]):
    def __init__(self, rows: Rows[T]) -> None:
        super().__init__(rows)
        self._rows = rows

    def __iter__(self) -> Iterator[tuple[str, T]]:
        return self._rows.walk()


class MeasureRows(Collection[Measure]):
    """The measures of a records file in reading order: counted without a read, read a batch at a time when iterated,
    never kept. Only a walk over them all (an evaluation, a copy into PostgreSQL) iterates them; answering asks
    `RecordFile.measures_where` for the ones a question needs, so they stay off the heap (held whole, a million
    clauses' measures were ~465 MB of an app process)."""

    def __init__(self, file: RecordFile) -> None:
        self._file = file

    def __len__(self) -> int:
        return self._file.counts["measures"]

    def __iter__(self) -> Iterator[Measure]:
        return (_measure(d) for _, d in self._file.walk("measures", "data"))

    def __contains__(self, item: object) -> bool:
        return isinstance(item, Measure) and self._file.measure_of(item.clause_id) == item


class Sections(Mapping[str, Sequence[tuple[int, Clause]]]):
    """The heading-only sections with items by title: titles listed once, a title's sections read when asked for."""

    def __init__(self, file: RecordFile) -> None:
        self._file = file

    def __getitem__(self, title: str) -> list[tuple[int, Clause]]:
        found = self._file.sections(title)
        if not found:
            raise KeyError(title)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._file.section_titles())

    def __len__(self) -> int:
        return len(self._file.section_titles())

    def items(self) -> _SectionItems:
        """Return (title, sections) pairs whose sections are read only when used: a caller that picks titles by
        name skips the rest unread (at a million clauses a few titles head ~330,000 sections)."""
        return _SectionItems(self)


class _SectionItems(ItemsView[str, Sequence[tuple[int, Clause]]]):
    def __init__(self, sections: Sections) -> None:
        super().__init__(sections)
        self._sections = sections

    def __iter__(self) -> Iterator[tuple[str, Sequence[tuple[int, Clause]]]]:
        return ((title, _Unread(self._sections, title)) for title in self._sections)


class _Unread(Sequence[tuple[int, Clause]]):
    """One title's sections, read at the first use."""

    def __init__(self, sections: Sections, title: str) -> None:
        self._sections, self._title = sections, title
        self._read: list[tuple[int, Clause]] | None = None

    def _all(self) -> list[tuple[int, Clause]]:
        if self._read is None:
            self._read = self._sections[self._title]
        return self._read

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]

    def __iter__(self) -> Iterator[tuple[int, Clause]]:
        return iter(self._all())


def _doc(text: str, data: bytes) -> PolicyDoc:
    return PolicyDoc.from_json({**orjson.loads(data), "text": text})


def _clause(data: bytes) -> Clause:
    return Clause.from_json(orjson.loads(data))


def _chunk(data: bytes) -> Chunk:
    return Chunk(**orjson.loads(data))


def _measure(data: bytes) -> Measure:
    return Measure.from_json(orjson.loads(data))


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield the items in lists of `size` (the last one shorter)."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _where(query: MeasureQuery) -> tuple[str, list[Any]]:
    """Return the SQL condition on the measures table (or view) that `query.admits` states in Python, and its
    parameters. The tag conditions are uncorrelated subqueries, each made once into a temporary index by SQLite."""
    terms, params = ["1"], []

    def tagged(kind: str, values: Sequence[str]) -> str:
        params.extend([kind, *values])
        return f"n IN (SELECT n FROM {TAGS} WHERE kind = ? AND value IN ({','.join('?' * len(values))}))"

    if query.regions is not None:
        terms.append(f"region IN ({','.join('?' * len(query.regions))})")
        params += query.regions
    if query.granting:
        terms.append("grants = 1")
    for kind, values in query.having:
        terms.append(tagged(kind, values))
    for kind, values in query.open_to:
        terms.append(f"({tagged(kind, values)} OR n NOT IN (SELECT n FROM {TAGS} WHERE kind = ?))")
        params.append(kind)
    for kind, value in query.without:
        terms.append(f"n NOT IN (SELECT n FROM {TAGS} WHERE kind = ? AND value = ?)")
        params += [kind, value]
    return " AND ".join(terms), params


def legacy_records(folder: Path) -> RecordFile:
    """Return the records of a generation written as JSON lines (before the records file), copied into a temporary
    records file: as slow to open as such generations always were, and checked as a build checks its own."""
    def table(name: str, decode: Callable[[dict[str, Any]], T]) -> Iterator[T]:
        # An index built before measures existed has none.
        path = folder / f"{name}.jsonl"
        return (decode(d) for d in _lines(path)) if path.exists() else iter(())

    return temporary_records(folder.name, table("docs", PolicyDoc.from_json), table("clauses", Clause.from_json),
                             table("chunks", lambda d: Chunk(**d)), table("measures", Measure.from_json))


def temporary_records(name: str, docs: Iterable[PolicyDoc], clauses: Iterable[Clause], chunks: Iterable[Chunk],
                      measures: Iterable[Measure]) -> RecordFile:
    """Return records that live elsewhere (old JSON lines, a PostgreSQL generation) as a records file in the
    system's temporary folder, written and checked as a build writes its own, and gone when the process ends."""
    fd, path_name = tempfile.mkstemp(prefix=f"{name}-", suffix=".sqlite")
    os.close(fd)
    path = Path(path_name)
    try:
        # A small page cache: this runs in an app process, whose memory is what a host pays per process. Copying a
        # million clauses' records peaked at 453 MB of RSS with the build's 64 MiB cache and at 115 MB with 4 MiB
        # (2026-12-07, docs/benchmarks.md).
        writer = RecordWriter(path, cache_kib=TEMPORARY_CACHE_KIB)
        try:
            writer.add_docs(docs)
            writer.add_clauses(clauses)
            writer.add_chunks(chunks)
            writer.add_measures(measures)
            writer.finish()
        finally:
            writer.close()
        _release_freed_memory()
        # Opened, then unlinked: the open connection keeps it readable, and nothing is left behind at exit.
        return RecordFile(path)
    finally:
        path.unlink(missing_ok=True)


def _release_freed_memory() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim; nothing elsewhere): the copy's
    allocations are freed but stay in the process's RSS otherwise (405 MB kept after copying a million clauses'
    records, 62 MB after the trim)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as f:
        yield from (orjson.loads(line) for line in f if line.strip())
