"""What each corpus file was read as, by its size, times and inode: a rebuild skips reading and hashing the files
whose stat is unchanged (at a million clauses, 28,571 files: ~8 s of a rebuild), as git skips hashing a file
whose stat its index holds.

The rule, git's ("racy git"): a file's entry is used only when its size, modification and change times (in ns)
and inode are those recorded, and both times lie more than RACY_NS before the moment the recorded read began. A
write within the file system's time granularity of that read (coarse file systems keep whole seconds, FAT two)
can leave size and times as they were: such a file is read and hashed again, and recorded anew. The change time
cannot be set back by a program (`touch -d` sets the modification time and moves the change time to now), so an
edit that keeps the size and restores the modification time is read again too. A sidecar's stat is part of the
file's. Only plain files read without OCR or conversion and without notes are recorded: a bundle yields many
documents, a file a limit cut short (OCR out of time) reads on at the next build, and the OCR and conversion caches
keep only what a build asked them for."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from index.records import SourceText
from index.sqlite import CacheStore

SCHEMA = """CREATE TABLE IF NOT EXISTS reads (path TEXT PRIMARY KEY, stat TEXT NOT NULL, read_at INTEGER NOT NULL,
                                            source BLOB NOT NULL)"""
# Read through a cache of their own (OCR pages, LibreOffice conversions), kept only for the files a build reads:
# such files are always read, so that their cached work stays.
CONVERTED = ("doc", "wps")
# Two seconds: FAT's granularity, the coarsest a corpus folder is likely to sit on.
RACY_NS = 2_000_000_000


@dataclasses.dataclass(frozen=True)
class Known:
    """A file read before and unchanged since: what it was read as, without its text, and its text's SHA-256."""

    source: SourceText
    text_hash: str


def _stat(path: Path, settings: str) -> tuple[str, int] | None:
    """Return the stat of a file and its sidecars with the read settings as one string, and its latest time."""
    # As strings: pathlib's with_suffix, with_name and str() were half the time of a rebuild's 85,713 stats at 1M.
    name = str(path)
    try:
        st = os.stat(name)
    except OSError:
        return None
    parts: list[Any] = [settings, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    latest = max(st.st_mtime_ns, st.st_ctime_ns)
    for sidecar in (name[: len(name) - len(path.suffix)] + ".meta.json", name + ".meta.json"):
        try:
            side = os.stat(sidecar)
        except OSError:
            parts.append(None)
            continue
        parts.append([side.st_size, side.st_mtime_ns, side.st_ctime_ns, side.st_ino])
        latest = max(latest, side.st_mtime_ns, side.st_ctime_ns)
    return orjson.dumps(parts).decode(), latest


def _key(path: Path) -> str:
    """Return the name a file is recorded under: absolute, so that a corpus named "data/policies" by one build and
    by its full path by the next is the same files (else every file was read again, and the records replaced)."""
    return os.path.abspath(path)


class ReadCache(CacheStore):
    """The stat and reading of every plain file of the corpus, as the last build read it."""

    def __init__(self, path: Path, settings: str) -> None:
        super().__init__(path, SCHEMA, "读取缓存")
        # What else decides a reading: the code's fingerprint, the size limit and the reading limits.
        self._settings = settings
        self._new: list[tuple[str, str, int, bytes]] = []

    def known(self, paths: Iterable[Path]) -> dict[Path, Known]:
        """Return the files whose recorded reading still holds, by the rule of the module docstring."""
        wanted = {_key(p): p for p in paths if p.suffix.lower() != ".zip"}
        found: dict[Path, Known] = {}
        for name, stat, read_at, blob in self.read_in("SELECT path, stat, read_at, source FROM reads "
                                                      "WHERE path IN ({})", list(wanted)):
            now = _stat(wanted[name], self._settings)
            if now is None or now[0] != stat or now[1] >= read_at - RACY_NS:
                continue
            fields = orjson.loads(blob)
            text_hash = fields.pop("text_hash")
            fields["ocr_pages"] = tuple(fields["ocr_pages"])
            fields["low_confidence"] = tuple(tuple(pair) for pair in fields["low_confidence"])
            found[wanted[name]] = Known(SourceText(**fields, text="", tables=()), text_hash)
        return found

    def before_read(self, path: Path) -> tuple[str, int] | None:
        """Return the stat to record with a reading, taken before the file is read, with the time it was taken."""
        read_at = time.time_ns()
        stat = _stat(path, self._settings) if path.suffix.lower() != ".zip" else None
        return None if stat is None else (stat[0], read_at)

    def remember(self, path: Path, before: tuple[str, int], source: SourceText) -> None:
        """Keep a plain file's reading (stored by `save`), unless a limit cut it short."""
        if source.notes or source.ocr_pages or source.fmt in CONVERTED:
            return
        fields = dataclasses.asdict(source)
        fields["text_hash"] = hashlib.sha256(source.text.encode()).hexdigest()
        del fields["text"], fields["tables"]
        self._new.append((_key(path), before[0], before[1], orjson.dumps(fields)))

    def save(self, paths: Iterable[Path]) -> None:
        """Store the readings remembered and forget the files not among `paths` (deleted from the corpus)."""
        with self.write() as conn:
            conn.executemany("INSERT OR REPLACE INTO reads VALUES (?, ?, ?, ?)", self._new)
        self._new = []
        self.keep_only("reads", "path", (_key(p) for p in paths))
