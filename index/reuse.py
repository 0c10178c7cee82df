"""What a rebuild takes from the generation it replaces: its records file, copied whole and patched (the rows of
files that changed or went deleted, the new files' rows added in their slots), and for every file whose parse it
already holds (the same parse cache key) its chunks' ids and token ids, instead of reading the parse from the cache,
encoding every record again and splitting every chunk's tokens again."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.lexical import TF, TOKEN_ENDS, TOKENS, Carried, TokenIds
from index.recordfile import CHECKS_FILE, DELTA_FILE, MEASURES_INDEXED, RECORDS_FILE, TABLES, Source, connect
from index.records import Manifest
from index.store import check_files

BM25 = "bm25"
# The previous generation's files a rebuild reads whole, late (token ids when the vocabulary order is found, postings
# and counts when bm25 is reweighted): read ahead in a thread from the start.
READ_AHEAD = (TOKENS, TOKEN_ENDS, TF, "indices.csc.index.npy", "indptr.csc.index.npy")
# Bytes per read of the read-ahead.
READ_BLOCK = 1 << 22


def read_ahead(paths: Sequence[Path]) -> threading.Thread:
    """Start reading files into the page cache in a thread, and return it. A rebuild reads the previous generation's
    token ids and postings (1.1 GB at 1M) through memory maps, whose page faults read from disk 4 KiB to 128 KiB at
    a time when the pages are not in memory (TokenIds.arrays took 6.1 s cold, 2.8 s warm); read ahead in large
    blocks while the changed files are parsed, they are in memory when used. Errors are left to the real reads."""
    def run() -> None:
        block = bytearray(READ_BLOCK)
        for path in paths:
            try:
                with open(path, "rb", buffering=0) as f:
                    while f.readinto(block):
                        pass
            except OSError:
                continue

    thread = threading.Thread(target=run, name="read-ahead", daemon=True)
    thread.start()
    return thread


class Previous:
    """The replaced generation's files (by parse cache key: their place in reading order, their slot and their rows
    in each table), records (its base and delta, with their digests), chunk ids and tokens."""

    def __init__(self, folder: Path, source: Source) -> None:
        self.source = source
        conn = connect(source.base)
        try:
            # A file of an older format (no file slots; or measures without their columns and tags) is written
            # afresh: its rows cannot be copied into the current one's.
            if conn.execute("PRAGMA user_version").fetchone()[0] != MEASURES_INDEXED:
                raise ValueError("the records file is not of the current format")
            files = conn.execute(f"SELECT key, n, {', '.join(TABLES)} FROM files ORDER BY n").fetchall()
            # From the id index, sorted here: ORDER BY n scans the table, every document's text (1.5 s at 1M).
            self.doc_ids = [i for _, i in sorted(conn.execute("SELECT n, id FROM docs"))]
        finally:
            conn.close()
        counts = np.array([row[2:] for row in files], dtype=np.int64).reshape(len(files), len(TABLES))
        # Row where each file's rows start in each table (in reading order), and one past the last file.
        # As Python lists: read twice per file (56,855 times at 1M), where numpy's scalars cost 0.5 s.
        self._starts: list[list[int]] = np.vstack([np.zeros((1, len(TABLES)), np.int64),
                                                   np.cumsum(counts, axis=0)]).tolist()
        self.files = {key: n for n, (key, *_) in enumerate(files)}
        self.slots = {key: slot for key, slot, *_ in files}
        bm25 = folder / BM25
        read_ahead([bm25 / name for name in READ_AHEAD])
        self.chunk_ids: list[str] = json.loads((bm25 / "chunk_ids.json").read_text(encoding="utf-8"))
        vocab: dict[str, int] = json.loads((bm25 / "vocab.index.json").read_text(encoding="utf-8"))
        self.words = [""] * len(vocab)
        for word, i in vocab.items():
            self.words[i] = word
        self.tokens = np.load(bm25 / TOKENS, mmap_mode="r")
        self.token_ends = np.load(bm25 / TOKEN_ENDS, mmap_mode="r")
        # bm25s's matrix (column pointers, rows) and the postings' counts, for refit_bm25.
        self.indptr = np.load(bm25 / "indptr.csc.index.npy", mmap_mode="r")
        self.indices = np.load(bm25 / "indices.csc.index.npy", mmap_mode="r")
        self.tf = np.load(bm25 / TF, mmap_mode="r")
        if not (len(self.chunk_ids) == len(self.token_ends) == self._starts[-1][TABLES.index("chunks")]):
            raise ValueError("the chunk ids, token ends and records of the generation disagree")
        if not (len(self.indices) == len(self.tf) == self.indptr[-1]) or len(self.indptr) > len(self.words) + 1:
            raise ValueError("the postings of the generation disagree")

    @classmethod
    def of(cls, folder: Path | None, manifest: Manifest) -> Previous | None:
        """Return what a generation offers a rebuild, or None when it offers nothing (none, written before files,
        slots and tokens were kept, its files not the sizes its manifest records, or unreadable): then every file
        is written from its parse. (The records file's digest is checked as it is copied or shared, unless a build
        noted it and its stat is unchanged since; the token files' are not read: a damaged one gives a matrix of
        other counts, which `verify` refuses, or wrong tokens.)"""
        digests = {f.path: f.sha256 for f in manifest.files}
        if folder is None or RECORDS_FILE not in digests or not (folder / BM25 / TF).exists() or \
                check_files(folder, manifest):
            return None
        delta = folder / DELTA_FILE if DELTA_FILE in digests else None
        try:
            return cls(folder, Source(folder / RECORDS_FILE, digests[RECORDS_FILE], delta, digests.get(DELTA_FILE, ""),
                                      folder.parent / CHECKS_FILE))
        except (OSError, ValueError, sqlite3.Error, json.JSONDecodeError):
            return None

    def keys_by_doc(self) -> dict[str, str]:
        """Return each file's parse cache key by its first document's id (the file's own; attachments follow)."""
        docs = TABLES.index("docs")
        return {self.doc_ids[self._starts[n][docs]]: key for key, n in self.files.items()
                if self._starts[n + 1][docs] > self._starts[n][docs]}

    def rows(self, first: int, last: int) -> dict[str, tuple[int, int]]:
        """Return the places [start, end) in reading order of the rows of files first..last in every table."""
        start, end = self._starts[first], self._starts[last + 1]
        return {t: (start[i], end[i]) for i, t in enumerate(TABLES)}


class Carry:
    """Takes runs of consecutive unchanged files from the previous generation: their chunks' ids and tokens appended
    as array slices (their rows stay where they are in the patched records file)."""

    def __init__(self, previous: Previous, tokens: TokenIds, chunk_ids: list[str]) -> None:
        self.previous, self.tokens, self.chunk_ids = previous, tokens, chunk_ids
        # The new row of each of the previous generation's chunks, -1 for those not taken.
        self.rows = np.full(len(previous.chunk_ids), -1, dtype=np.int64)
        # The previous vocabulary's ids in this build's, made once.
        self._ids = tokens.mapping(previous.words)
        self._same = bool(np.array_equal(self._ids, np.arange(len(self._ids))))
        self._run: tuple[int, int] | None = None
        self._used = False

    @property
    def used(self) -> bool:
        """Return True once any file was taken."""
        return self._used

    def doc_ids(self, key: str) -> list[str]:
        """Return the ids of an unchanged file's documents."""
        n = self.previous.files[key]
        start, end = self.previous.rows(n, n)["docs"]
        return self.previous.doc_ids[start:end]

    def add(self, key: str) -> tuple[int, int]:
        """Take an unchanged file; return how many clauses and chunks it has."""
        n = self.previous.files[key]
        self._used = True
        if self._run is not None and self._run[1] + 1 == n:
            self._run = (self._run[0], n)
        else:
            self.flush()
            self._run = (n, n)
        rows = self.previous.rows(n, n)
        clauses, chunks = rows["clauses"], rows["chunks"]
        return clauses[1] - clauses[0], chunks[1] - chunks[0]

    def flush(self) -> None:
        """Append the chunks of the run taken so far."""
        if self._run is None:
            return
        first, end = self.previous.rows(*self._run)["chunks"]
        self._run = None
        if first == end:
            return
        ends = self.previous.token_ends
        lo = int(ends[first - 1]) if first else 0
        tokens = self.previous.tokens[lo : int(ends[end - 1])]
        # The new vocabulary starts as the previous one (Carry is made before any file is added): ids carry as they are.
        self.tokens.extend(tokens if self._same else self._ids[tokens], ends[first:end] - lo)
        self.rows[first:end] = np.arange(len(self.chunk_ids), len(self.chunk_ids) + end - first)
        self.chunk_ids += self.previous.chunk_ids[first:end]

    def matrix(self) -> Carried:
        """Return the previous matrix with the rows its chunks have in the new index."""
        p = self.previous
        return Carried(p.words, np.asarray(p.indptr), np.asarray(p.indices), np.asarray(p.tf), self.rows)

