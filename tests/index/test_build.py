"""Tests for index.build and index.parsed: parse cache, parallel parsing, rebuilds equal to fresh builds."""

from __future__ import annotations

import copy
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import index.build
import index.parsed
import index.readcache
import index.recordfile
import index.reuse
from index.build import BuildReport, build_index
from index.dense import EmbeddingCache
from index.lang.tokens import tokenize
from index.recordfile import DELTA_FILE, RECORDS_FILE, TABLES, connect, fit_slots, spread
from index.retrieval import Scope
from index.store import CURRENT, current_generation, open_index
from qa.settings import Settings
from tests.conftest import ROOT

CORPUS = ROOT / "data" / "policies"
SHENZHEN = "shenzhen-culture-tech-2012.txt"
EDIT_FROM, EDIT_TO = "陶瓷、漆器", "陶瓷、玉雕、漆器"
QUESTIONS = ["文化产业基金", "人才引进补贴", "传统工艺 玉雕", "保障措施"]


def build(corpus: Path, index_dir: Path, **settings: object) -> BuildReport:
    """Build a lexical-only index of a corpus folder."""
    return build_index(Settings(corpus_dir=corpus, index_dir=index_dir, **settings).build_config, None, progress=False)


def records(index_dir: Path) -> dict[str, object]:
    """Return the serving generation's records (every row of every table of its records file, in order) and its
    bm25 files: a rebuild copies unchanged files' rows, so the pages of its records file lie in another order."""
    folder = current_generation(index_dir)
    assert folder is not None
    conn = connect(folder / RECORDS_FILE)
    try:
        rows = {t: conn.execute(f"SELECT * FROM {t} ORDER BY n").fetchall() for t in (*TABLES, "files")}
    finally:
        conn.close()
    return {**rows, **{p.name: p.read_bytes() for p in sorted((folder / "bm25").iterdir())}}


def rankings(index_dir: Path) -> list[list[tuple[str, float]]]:
    """Return the lexical ranking (chunk id, score) of a few questions."""
    kb = open_index(index_dir, None)
    return [kb.lexical.search(tokenize(q), 10) for q in QUESTIONS]


def forget_generations(index_dir: Path) -> None:
    """Delete an index folder's generations, keeping its caches."""
    for folder in index_dir.glob("gen-*"):
        shutil.rmtree(folder)
    (index_dir / CURRENT).unlink()


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """Return a writable copy of the bundled corpus."""
    return Path(shutil.copytree(CORPUS, tmp_path / "corpus"))


def test_rebuild_parses_only_the_changed_document_and_equals_a_fresh_build(corpus: Path, tmp_path: Path) -> None:
    """After one document changes, only it is parsed again, and the index is the one a fresh build makes."""
    first = build(corpus, tmp_path / "index")
    assert first.parsed == first.documents == 3
    doc = corpus / SHENZHEN
    doc.write_text(doc.read_text(encoding="utf-8").replace(EDIT_FROM, EDIT_TO), encoding="utf-8")

    second = build(corpus, tmp_path / "index")
    assert (second.documents, second.parsed) == (3, 1)
    assert "2 个未变，沿用上次解析" in second.summary()
    fresh = build(corpus, tmp_path / "fresh")
    assert fresh.parsed == 3
    assert records(tmp_path / "index") == records(tmp_path / "fresh")
    assert any(EDIT_TO in c.text for c in open_index(tmp_path / "index", None).clauses.values())
    assert rankings(tmp_path / "index") == rankings(tmp_path / "fresh")


def slots(index_dir: Path) -> dict[str, int]:
    """Return the records file slot of each file (by parse cache key) of the serving generation."""
    folder = current_generation(index_dir)
    assert folder is not None
    with connect(folder / RECORDS_FILE) as db:
        return dict(db.execute("SELECT key, n FROM files"))


def scoped_rankings(index_dir: Path) -> list[list[tuple[str, float]]]:
    """Return the lexical ranking of a few questions among one region's chunks and among one document's."""
    kb = open_index(index_dir, None)
    scopes = [Scope(regions=frozenset({"江苏省"})), Scope(doc_ids=frozenset({SHENZHEN.removesuffix(".txt")}))]
    return [kb.lexical.search(tokenize(q), 10, scope=scope) for q in QUESTIONS for scope in scopes]


def without_numbers(found: dict[str, object]) -> dict[str, object]:
    """Return records() without each row's number (a patched file's slots differ from a fresh build's)."""
    return {name: [row[1:] for row in rows] if isinstance(rows, list) else rows for name, rows in found.items()}


def test_a_rebuild_with_a_file_added_and_one_deleted_patches_the_records_file(corpus: Path, tmp_path: Path) -> None:
    """A new file between two kept ones and a deleted one: the previous records file is patched (the kept files keep
    their rows' numbers), and the index reads as a fresh build's: the same rows in the same order, the same bm25
    files, the same rankings, scoped ones included (a chunk's matrix row is counted from the files' slots)."""
    build(corpus, tmp_path / "index")
    before = slots(tmp_path / "index")
    text = (corpus / SHENZHEN).read_text(encoding="utf-8")
    added = text.replace(EDIT_FROM, EDIT_TO).replace("深圳", "苏州")
    (corpus / "jiangsu-zz-added.txt").write_text(added, encoding="utf-8")  # read between the two jiangsu files
    (corpus / "guangdong-culture-tech-2021-2025.txt").unlink()
    second = build(corpus, tmp_path / "index")
    assert (second.documents, second.parsed) == (3, 1)
    after = slots(tmp_path / "index")
    kept = before.keys() & after.keys()
    assert len(kept) == 2 and all(before[k] == after[k] for k in kept)
    build(corpus, tmp_path / "fresh")
    assert after != slots(tmp_path / "fresh"), "a fresh build spreads the slots evenly: the rebuild must have patched"
    assert without_numbers(records(tmp_path / "index")) == without_numbers(records(tmp_path / "fresh"))
    assert rankings(tmp_path / "index") == rankings(tmp_path / "fresh")
    assert scoped_rankings(tmp_path / "index") == scoped_rankings(tmp_path / "fresh")
    assert all(scoped_rankings(tmp_path / "index"))
    kb = open_index(tmp_path / "index", None)
    assert [p for _, p in kb.sections_by_title()["保障措施"]] == \
        [p for _, p in open_index(tmp_path / "fresh", None).sections_by_title()["保障措施"]]


def base_and_delta(index_dir: Path) -> tuple[int, bool]:
    """Return the inode of the serving generation's records file and whether a delta lies beside it."""
    folder = current_generation(index_dir)
    assert folder is not None
    return (folder / RECORDS_FILE).stat().st_ino, (folder / DELTA_FILE).exists()


def edit(corpus: Path, name: str, old: str, new: str) -> None:
    """Replace a phrase in a corpus file."""
    doc = corpus / name
    text = doc.read_text(encoding="utf-8")
    assert old in text
    doc.write_text(text.replace(old, new), encoding="utf-8")


def assert_as_fresh(corpus: Path, tmp_path: Path) -> None:
    """Assert that the index reads as a fresh build of the corpus: rows in order, bm25 files, rankings, sections."""
    shutil.rmtree(tmp_path / "fresh", ignore_errors=True)
    build(corpus, tmp_path / "fresh")
    assert without_numbers(records(tmp_path / "index")) == without_numbers(records(tmp_path / "fresh"))
    assert rankings(tmp_path / "index") == rankings(tmp_path / "fresh")
    assert scoped_rankings(tmp_path / "index") == scoped_rankings(tmp_path / "fresh")
    kb, fresh = open_index(tmp_path / "index", None), open_index(tmp_path / "fresh", None)
    assert [p for _, p in kb.sections_by_title()["保障措施"]] == [p for _, p in fresh.sections_by_title()["保障措施"]]
    assert (len(kb.docs), len(kb.clauses), len(kb.chunks), len(kb.measures)) == \
        (len(fresh.docs), len(fresh.clauses), len(fresh.chunks), len(fresh.measures))
    assert list(kb.measures) == list(fresh.measures) and len(kb.measures) == len(list(kb.measures))


def test_rebuilds_share_the_base_records_file_and_write_only_a_delta_until_it_grows(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild hard-links the previous records file (not a byte of it written) and writes the changed files' rows
    into a delta; the next rebuild takes that delta on (a file changed again, one added, one deleted) over the same
    base; once the delta is past a tenth of the base, it is merged into a new base after the switch. Each time the index
    reads as a fresh build's, and the generations the rebuilds replaced are deleted without the base. (A rebuild
    that keeps fewer than half the files writes afresh: each step keeps most.)"""
    monkeypatch.setattr(index.recordfile, "MERGE_AT", 0)  # the bundled corpus is three files: one is a third of it
    build(corpus, tmp_path / "index")
    base, delta = base_and_delta(tmp_path / "index")
    assert not delta
    edit(corpus, SHENZHEN, EDIT_FROM, EDIT_TO)
    assert build(corpus, tmp_path / "index").parsed == 1
    assert base_and_delta(tmp_path / "index") == (base, True)
    assert_as_fresh(corpus, tmp_path)

    edit(corpus, SHENZHEN, "陶瓷", "瓷器")
    text = (corpus / SHENZHEN).read_text(encoding="utf-8")
    (corpus / "jiangsu-zz-added.txt").write_text(text.replace("深圳", "苏州"), encoding="utf-8")
    assert build(corpus, tmp_path / "index").parsed == 2
    assert base_and_delta(tmp_path / "index") == (base, True)
    assert len(list((tmp_path / "index").glob("gen-*"))) == 2, "the first generation is gone, its base is not"
    assert_as_fresh(corpus, tmp_path)

    monkeypatch.setattr(index.recordfile, "MERGE_AT", 10)
    edit(corpus, "jiangsu-zz-added.txt", "苏州", "无锡")
    (corpus / "guangdong-culture-tech-2021-2025.txt").unlink()
    assert build(corpus, tmp_path / "index").parsed == 1
    merged, delta = base_and_delta(tmp_path / "index")
    assert merged != base and not delta
    assert_as_fresh(corpus, tmp_path)


State = tuple[str, bool, dict[str, object], list[list[tuple[str, float]]]]


def serving_state(index_dir: Path) -> State:
    """Return the serving generation's name, whether it has a delta, its records and bm25 files, and rankings."""
    folder = current_generation(index_dir)
    assert folder is not None
    return folder.name, (folder / DELTA_FILE).exists(), records(index_dir), rankings(index_dir)


def edited(index_dir: Path) -> bool:
    """Return True when the serving generation has the edited clause."""
    return any(EDIT_TO in c.text for c in open_index(index_dir, None).clauses.values())


def test_the_rebuild_that_grows_the_delta_past_a_tenth_serves_it_then_a_compacted_copy(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rebuild whose delta passes a tenth of the base switches to its generation as any rebuild does (the base
    shared, the delta written: the edit is found at once), then to a second generation whose records file is the
    base with the delta merged in: the same rows, bm25 files and rankings. The generation the rebuild replaced is
    kept beside it, the intermediate one goes; the compacted base is noted as checked, so the next rebuild shares it
    without reading it."""
    build(corpus, tmp_path / "index")
    before = current_generation(tmp_path / "index")
    base = base_and_delta(tmp_path / "index")[0]
    edit(corpus, SHENZHEN, EDIT_FROM, EDIT_TO)
    served: list[tuple[BuildReport, State, int, bool]] = []

    def on_served(report: BuildReport) -> None:
        served.append((copy.deepcopy(report), serving_state(tmp_path / "index"), base_and_delta(tmp_path / "index")[0],
                       edited(tmp_path / "index")))

    report = build_index(Settings(corpus_dir=corpus, index_dir=tmp_path / "index").build_config, None,
                         progress=False, on_served=on_served)
    [(early, (name, delta, rows, ranked), inode, found)] = served
    assert early.generation == name and delta and inode == base, "served with the base shared and a delta"
    assert found
    after = serving_state(tmp_path / "index")
    assert after[0] == report.generation != name and not after[1], "then a compacted generation, without a delta"
    assert base_and_delta(tmp_path / "index")[0] != base
    assert (after[2], after[3]) == (rows, ranked)
    assert report.compaction_seconds > 0 and not report.compaction_failed
    assert 0 < report.served_seconds <= report.seconds - report.compaction_seconds
    assert "随后合并记录增量用时" in report.summary()
    assert before is not None
    assert sorted(p.name for p in (tmp_path / "index").glob("gen-*")) == sorted([before.name, report.generation])
    assert_as_fresh(corpus, tmp_path)

    monkeypatch.setattr(index.recordfile, "MERGE_AT", 0)
    hashed = counting_hashes(monkeypatch)
    edit(corpus, SHENZHEN, "陶瓷", "瓷器")
    again = build(corpus, tmp_path / "index")
    assert again.parsed == 1 and again.compaction_seconds == 0
    assert base_and_delta(tmp_path / "index") == (base_and_delta(tmp_path / "index")[0], True)
    assert RECORDS_FILE not in hashed, "the compacted base was noted as checked"


def test_a_failed_compaction_leaves_the_served_generation_and_the_next_build_compacts(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compaction fails (the disk full while the delta is merged): the build reports it and the generation it
    switched to serves on, the edit found; nothing half-written is left; the next build, the corpus unchanged,
    compacts it."""
    build(corpus, tmp_path / "index")
    edit(corpus, SHENZHEN, EDIT_FROM, EDIT_TO)

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(index.recordfile.RecordWriter, "_merge", full)
        report = build(corpus, tmp_path / "index")
    assert "No space left on device" in report.compaction_failed
    assert "下次建立索引时再合并" in report.summary()
    name, delta, rows, ranked = serving_state(tmp_path / "index")
    assert name == report.generation and delta
    assert edited(tmp_path / "index")
    assert all((folder / "manifest.json").exists() for folder in (tmp_path / "index").glob("gen-*"))
    again = build(corpus, tmp_path / "index")
    assert again.unchanged and again.compaction_seconds > 0 and not again.compaction_failed
    after = serving_state(tmp_path / "index")
    assert not after[1] and (after[2], after[3]) == (rows, ranked)
    assert_as_fresh(corpus, tmp_path)


KILLED_COMPACTION = """
import os, signal, sys
from pathlib import Path
import index.recordfile
from index.build import build_index
from qa.settings import Settings

def killed(*args):
    os.kill(os.getpid(), signal.SIGKILL)

index.recordfile.RecordWriter._merge = killed
build_index(Settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2])).build_config, None, progress=False)
"""


@pytest.mark.subprocess
def test_a_build_killed_while_compacting_leaves_the_served_generation_and_the_next_build_cleans_up(
        corpus: Path, tmp_path: Path) -> None:
    """The build process is killed (SIGKILL) while it merges the delta: the generation it switched to serves, the
    edit found; the next build removes the half-written folder and compacts."""
    build(corpus, tmp_path / "index")
    edit(corpus, SHENZHEN, EDIT_FROM, EDIT_TO)
    killed = subprocess.run([sys.executable, "-c", KILLED_COMPACTION, str(corpus), str(tmp_path / "index")],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert killed.returncode == -signal.SIGKILL
    name, delta, rows, ranked = serving_state(tmp_path / "index")
    assert delta and edited(tmp_path / "index")
    left = [f for f in (tmp_path / "index").glob("gen-*") if not (f / "manifest.json").exists()]
    assert len(left) == 1 and (left[0] / RECORDS_FILE).exists(), "the compaction's folder, half-written"
    again = build(corpus, tmp_path / "index")
    assert again.unchanged and again.compaction_seconds > 0 and not again.compaction_failed
    assert not left[0].exists()
    after = serving_state(tmp_path / "index")
    assert after[0] != name and not after[1] and (after[2], after[3]) == (rows, ranked)
    assert_as_fresh(corpus, tmp_path)


def damage_keeping_stat(path: Path) -> None:
    """Flip one bit of a records file's last document text and put its times back: damage no write shows, as a
    failing disk's."""
    st = path.stat()
    data = path.read_bytes()
    with connect(path) as db:
        text = db.execute("SELECT text FROM docs ORDER BY n DESC LIMIT 1").fetchone()[0]
    at = data.rfind(text[-20:].encode())
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(bytes([data[at] ^ 1]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_damaged_base_the_compaction_finds_is_read_by_the_next_rebuild(corpus: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A byte of the base changed with its stat kept (a failing disk) while its note of a check is still trusted:
    the rebuild shares it unread and switches, the compaction's copy finds the damage and forgets the note; the next
    rebuild reads the base, finds it too and writes every file from its parse."""
    build(corpus, tmp_path / "index")
    folder = current_generation(tmp_path / "index")
    assert folder is not None
    damage_keeping_stat(folder / RECORDS_FILE)
    edit(corpus, SHENZHEN, EDIT_FROM, EDIT_TO)
    report = build(corpus, tmp_path / "index")
    assert "SHA-256" in report.compaction_failed
    assert base_and_delta(tmp_path / "index")[1]
    edit(corpus, "jiangsu-culture-tech-2020.txt", "江苏", "江苏省")
    again = build(corpus, tmp_path / "index")
    assert (again.documents, again.skipped) == (3, [])
    assert not base_and_delta(tmp_path / "index")[1], "written afresh: no delta"
    assert_as_fresh(corpus, tmp_path)


@pytest.mark.parametrize("damaged", [RECORDS_FILE, DELTA_FILE])
def test_a_shared_base_or_delta_damaged_in_place_is_found_by_the_next_rebuild(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damaged: str) -> None:
    """A byte of the shared base or of the delta changed in place (same size, the file still opens; the write
    changes its modification time): the next rebuild, which links the base without writing it, does not trust the
    note of its last check, checks its digest and finds it, and writes every file from its parse; the index equals
    a fresh build."""
    monkeypatch.setattr(index.recordfile, "MERGE_AT", 0)
    build(corpus, tmp_path / "index")
    edit(corpus, SHENZHEN, EDIT_FROM, EDIT_TO)
    build(corpus, tmp_path / "index")
    folder = current_generation(tmp_path / "index")
    assert folder is not None
    path = folder / damaged
    with connect(folder / RECORDS_FILE) as db:
        text = db.execute("SELECT text FROM docs ORDER BY n DESC LIMIT 1").fetchone()[0]
    data = path.read_bytes()
    # A document's text in the last page that holds it: a change SQLite does not notice when reading.
    at = data.rfind(text[-20:].encode())
    assert at > 0
    path.write_bytes(data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :])
    edit(corpus, "jiangsu-culture-tech-2020.txt", "江苏", "江苏省")
    again = build(corpus, tmp_path / "index")
    assert (again.documents, again.skipped) == (3, [])
    assert not base_and_delta(tmp_path / "index")[1], "written afresh: no delta"
    assert_as_fresh(corpus, tmp_path)


def counting_hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return the list that the names of the files the build hashes (reads whole) are appended to."""
    hashed: list[str] = []
    real = index.recordfile._sha256

    def counted(path: Path) -> str:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(index.recordfile, "_sha256", counted)
    return hashed


def test_a_shared_base_noted_as_checked_is_not_read_again(corpus: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The build that writes a base notes its digest with its stat: the rebuilds that share it, its stat unchanged,
    do not read it (at 1M, 4 GB from disk when its pages are not in memory)."""
    monkeypatch.setattr(index.recordfile, "MERGE_AT", 0)
    build(corpus, tmp_path / "index")
    hashed = counting_hashes(monkeypatch)
    edit(corpus, SHENZHEN, EDIT_FROM, EDIT_TO)
    assert build(corpus, tmp_path / "index").parsed == 1
    edit(corpus, SHENZHEN, "陶瓷", "瓷器")
    assert build(corpus, tmp_path / "index").parsed == 1
    assert base_and_delta(tmp_path / "index")[1]
    assert hashed == [DELTA_FILE], "only the previous delta, as it is copied"
    assert_as_fresh(corpus, tmp_path)


def test_a_note_of_a_check_that_cannot_be_written_costs_a_read_not_the_build(corpus: Path, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The index folder's note of checks cannot be written (a folder in its place): the builds succeed, and a rebuild
    reads and checks the shared base, as without a note."""
    monkeypatch.setattr(index.recordfile, "MERGE_AT", 0)  # no compaction, which reads the base anyway
    (tmp_path / "index" / index.recordfile.CHECKS_FILE).mkdir(parents=True)
    build(corpus, tmp_path / "index")
    hashed = counting_hashes(monkeypatch)
    edit(corpus, SHENZHEN, EDIT_FROM, EDIT_TO)
    assert build(corpus, tmp_path / "index").parsed == 1
    assert base_and_delta(tmp_path / "index")[1]
    assert RECORDS_FILE in hashed
    assert sorted(p.name for p in (tmp_path / "index").iterdir() if p.name.startswith(".records")) == []
    assert_as_fresh(corpus, tmp_path)


def test_a_base_damaged_with_its_stat_kept_is_found_once_its_check_is_due(corpus: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A byte of the shared base changed and its modification time put back (damage no write shows, as a failing
    disk's): the note of its check is trusted only for RECHECK_NS, and the rebuild after that reads the base, finds
    the damage and writes every file from its parse."""
    monkeypatch.setattr(index.recordfile, "MERGE_AT", 0)
    build(corpus, tmp_path / "index")
    folder = current_generation(tmp_path / "index")
    assert folder is not None
    damage_keeping_stat(folder / RECORDS_FILE)
    monkeypatch.setattr(index.recordfile, "RECHECK_NS", 0)
    edit(corpus, SHENZHEN, EDIT_FROM, EDIT_TO)
    again = build(corpus, tmp_path / "index")
    assert (again.documents, again.skipped) == (3, [])
    assert not base_and_delta(tmp_path / "index")[1], "written afresh: no delta"
    assert_as_fresh(corpus, tmp_path)


def test_a_rebuild_reads_the_previous_token_ids_and_postings_ahead(corpus: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild reads the previous generation's token ids and postings (read late, through memory maps) in a
    thread from its start; a file that cannot be read is left to the real reads."""
    build(corpus, tmp_path / "index")
    started: list[tuple[list[Path], Any]] = []
    real = index.reuse.read_ahead

    def recorded(paths: list[Path]) -> Any:
        started.append((list(paths), real([*paths, tmp_path / "missing.npy"])))
        return started[-1][1]

    monkeypatch.setattr(index.reuse, "read_ahead", recorded)
    edit(corpus, SHENZHEN, EDIT_FROM, EDIT_TO)
    assert build(corpus, tmp_path / "index").parsed == 1
    [(paths, thread)] = started
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert sorted(p.name for p in paths if p.is_file()) == sorted(index.reuse.READ_AHEAD)
    assert_as_fresh(corpus, tmp_path)


def test_a_changed_file_tokenizes_only_its_changed_chunks(corpus: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An edited file is parsed again, but the tokens of its chunks whose text is unchanged come from its earlier
    parse: only the edited chunk goes through jieba, and the index equals a fresh build's."""
    build(corpus, tmp_path / "index")
    edit(corpus, SHENZHEN, EDIT_FROM, EDIT_TO)
    tokenized: list[str] = []
    real = index.parsed.tokenize

    def counted(text: str) -> list[str]:
        tokenized.append(text)
        return real(text)

    monkeypatch.setattr(index.parsed, "tokenize", counted)
    assert build(corpus, tmp_path / "index").parsed == 1
    monkeypatch.undo()
    assert tokenized and all(EDIT_TO in text for text in tokenized)
    kb = open_index(tmp_path / "index", None)
    assert len(tokenized) < len([c for c in kb.chunks.values() if c.doc_id == Path(SHENZHEN).stem]) / 4
    assert_as_fresh(corpus, tmp_path)


def test_slots_fill_gaps_and_give_up_when_one_is_full() -> None:
    """A changed file gets its old slot back, new files share their gap evenly, and a full gap or kept files out of
    order mean a fresh file."""
    first = spread(3)
    assert fit_slots(["a", "B", "c"], {"a": first[0], "c": first[2]}) == first
    assert fit_slots(["new", "a"], {"a": 10}) == [5, 10]
    assert fit_slots(["a", "x", "y", "z", "b"], {"a": 0 + 4, "b": 12}) == [4, 6, 8, 10, 12]
    assert fit_slots(["a", "x", "y", "b"], {"a": 4, "b": 6}) is None
    assert fit_slots(["b", "a"], {"a": 4, "b": 6}) is None


def test_other_settings_parse_everything_again(corpus: Path, tmp_path: Path) -> None:
    """The cache key holds the chunk size: a build with another one reuses nothing."""
    build(corpus, tmp_path / "index")
    other = build(corpus, tmp_path / "index", chunk_chars=300)
    assert other.parsed == other.documents == 3


def test_cache_holds_only_the_current_corpus(corpus: Path, tmp_path: Path) -> None:
    """A removed or edited document's old parse leaves the cache at the next build."""
    build(corpus, tmp_path / "index")
    (corpus / SHENZHEN).unlink()
    report = build(corpus, tmp_path / "index")
    assert report.documents == 2
    with sqlite3.connect(tmp_path / "index" / "parse_cache.sqlite") as db:
        assert db.execute("SELECT count(*) FROM parses").fetchone()[0] == 2


def test_parallel_parsing_gives_the_same_index_as_one_process(corpus: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker processes (forced on for three small files) produce byte-identical records and rankings."""
    one = build(corpus, tmp_path / "one")
    monkeypatch.setattr(index.parsed, "PARALLEL_MIN_CHARS", 0)
    calls: list[int] = []
    real = index.parsed.ProcessPoolExecutor

    class Counted(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            calls.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(index.parsed, "ProcessPoolExecutor", Counted)
    many = build(corpus, tmp_path / "many")
    assert calls, "the parallel path must have run"
    assert (many.documents, many.clauses, many.chunks) == (one.documents, one.clauses, one.chunks)
    assert records(tmp_path / "many") == records(tmp_path / "one")
    assert rankings(tmp_path / "many") == rankings(tmp_path / "one")


def test_a_document_that_breaks_the_parser_is_skipped(corpus: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A parser bug on one file (injected: no known input causes one) is reported with its reason; the rest is
    indexed and nothing is cached for the failed file."""
    real = index.parsed.parse_clauses

    def fails_on_shenzhen(doc_id: str, text: str) -> object:
        if doc_id == Path(SHENZHEN).stem:
            raise RecursionError("maximum recursion depth exceeded")
        return real(doc_id, text)

    monkeypatch.setattr(index.parsed, "parse_clauses", fails_on_shenzhen)
    report = build(corpus, tmp_path / "index")
    assert report.documents == 2
    assert report.skipped == [(SHENZHEN, "解析失败（RecursionError: maximum recursion depth exceeded）")]
    with sqlite3.connect(tmp_path / "index" / "parse_cache.sqlite") as db:
        assert db.execute("SELECT count(*) FROM parses").fetchone()[0] == 2


def test_a_damaged_parse_cache_costs_a_parse_not_the_build(corpus: Path, tmp_path: Path) -> None:
    """A cache file that is not a database, or an entry that cannot be read back, is parsed again. (The builds
    read the cache because the generations are gone: a rebuild takes unchanged files from the generation it
    replaces, without reading their parses.)"""
    first = build(corpus, tmp_path / "index")
    cache_file = tmp_path / "index" / "parse_cache.sqlite"
    with sqlite3.connect(cache_file) as db:
        db.execute("UPDATE parses SET blob = x'00' WHERE rowid = (SELECT min(rowid) FROM parses)")
    doc = corpus / SHENZHEN
    doc.write_text(doc.read_text(encoding="utf-8").replace(EDIT_FROM, EDIT_TO), encoding="utf-8")
    forget_generations(tmp_path / "index")
    second = build(corpus, tmp_path / "index")
    assert (second.documents, second.parsed, second.skipped) == (3, 2, [])
    build(corpus, tmp_path / "fresh")
    assert records(tmp_path / "index") == records(tmp_path / "fresh")

    for name in ("parse_cache.sqlite-wal", "parse_cache.sqlite-shm"):
        (tmp_path / "index" / name).unlink(missing_ok=True)
    cache_file.write_bytes(b"not a database" * 100)
    doc.write_text(doc.read_text(encoding="utf-8").replace(EDIT_TO, EDIT_FROM), encoding="utf-8")
    forget_generations(tmp_path / "index")
    third = build(corpus, tmp_path / "index")
    assert (third.documents, third.parsed, third.clauses) == (3, 3, first.clauses)


def test_a_build_does_not_print_bm25s_debug_lines(corpus: Path, tmp_path: Path) -> None:
    """bm25s sets its own logger to DEBUG, so the app's console handler printed its chatter."""
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    logger = logging.getLogger("bm25s")
    logger.addHandler(handler)
    try:
        build(corpus, tmp_path / "index")
        open_index(tmp_path / "index", None)
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in seen if r.levelno < logging.INFO] == []


@pytest.mark.parametrize("damage", [b"not a database" * 100, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_damaged_vector_cache_starts_afresh(tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture) -> None:
    """A vector cache SQLite cannot open costs re-embedding, never the build: it is replaced and works."""
    path = tmp_path / "embedding_cache.sqlite"
    path.write_bytes(damage)
    cache = EmbeddingCache(path)
    cache.put("model", {"hash": np.ones(3, dtype=np.float32)})
    assert list(cache.get("model", ["hash"])) == ["hash"]
    assert any("向量缓存" in r.getMessage() for r in caplog.records)


def test_a_cache_damaged_while_in_use_misses_and_starts_afresh(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """A cache whose header is intact but whose pages are not opens fine and fails on the first read: that read
    is a miss and the file starts afresh, never a traceback in the build."""
    path = tmp_path / "embedding_cache.sqlite"
    cache = EmbeddingCache(path)
    cache.put("model", {f"h{i}": np.ones(384, dtype=np.float32) for i in range(300)})
    cache.close()
    data = path.read_bytes()
    page = 4096
    path.write_bytes(data[: 2 * page] + b"\xff" * (len(data) - 2 * page))
    cache = EmbeddingCache(path)
    assert cache.get("model", ["h1", "h2"]) == {}
    assert any("向量缓存已损坏" in r.getMessage() for r in caplog.records)
    cache.put("model", {"x": np.ones(3, dtype=np.float32)})
    assert list(cache.get("model", ["x"])) == ["x"]


def test_a_rebuild_from_a_generation_damaged_inside_writes_every_file_from_its_parse(corpus: Path,
                                                                                     tmp_path: Path) -> None:
    """The replaced generation's records file keeps its size but not its pages: the rows it cannot give are
    written from the parse cache, and the index is still the one a fresh build makes."""
    build(corpus, tmp_path / "index")
    folder = current_generation(tmp_path / "index")
    assert folder is not None
    # The chunks table's root page zeroed: the generation's file list and document ids still read, its chunks not.
    with sqlite3.connect(folder / RECORDS_FILE) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'chunks'").fetchone()[0]
    damaged = bytearray((folder / RECORDS_FILE).read_bytes())
    damaged[(root - 1) * page : root * page] = bytes(page)
    (folder / RECORDS_FILE).write_bytes(bytes(damaged))
    doc = corpus / SHENZHEN
    doc.write_text(doc.read_text(encoding="utf-8").replace(EDIT_FROM, EDIT_TO), encoding="utf-8")
    second = build(corpus, tmp_path / "index")
    assert (second.documents, second.parsed, second.skipped) == (3, 1, [])
    build(corpus, tmp_path / "fresh")
    assert records(tmp_path / "index") == records(tmp_path / "fresh")


def counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return the list of file names the builds read from now on."""
    read: list[str] = []
    real = index.build.load_corpus

    def counted(paths: list[Path], *args: Any) -> Iterator[tuple[Path, object]]:
        read.extend(p.name for p in paths)
        return real(paths, *args)

    monkeypatch.setattr(index.build, "load_corpus", counted)
    return read


def test_a_rebuild_reads_only_the_files_whose_stat_changed(corpus: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Unchanged files (size, times and inode as recorded, well before the recorded read) are not read or hashed
    again; an edit that keeps the size and sets the modification time back is read (its change time moved), and
    the index equals a fresh build's."""
    monkeypatch.setattr(index.readcache, "RACY_NS", 0)  # the copy's change times are a moment before the build
    build(corpus, tmp_path / "index")
    read = counting_reads(monkeypatch)
    assert build(corpus, tmp_path / "index").unchanged and read == []
    doc = corpus / SHENZHEN
    text = doc.read_text(encoding="utf-8")
    assert text.count("陶瓷") and len("陶瓷".encode()) == len("玉雕".encode())
    st = doc.stat()
    doc.write_text(text.replace("陶瓷", "玉雕", 1), encoding="utf-8")
    os.utime(doc, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (doc.stat().st_size, doc.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    second = build(corpus, tmp_path / "index")
    assert read == [SHENZHEN] and (second.documents, second.parsed) == (3, 1)
    build(corpus, tmp_path / "fresh")
    assert records(tmp_path / "index") == records(tmp_path / "fresh")



def test_a_corpus_named_by_a_relative_path_is_the_same_corpus(corpus: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A build given the corpus as "corpus" and the next given it by its absolute path read the same files: the
    second reads none (at a million clauses, every file read again cost 16.5 s)."""
    monkeypatch.setattr(index.readcache, "RACY_NS", 0)
    monkeypatch.chdir(tmp_path)
    build(Path("corpus"), tmp_path / "index")
    read = counting_reads(monkeypatch)
    assert build(corpus.resolve(), tmp_path / "index").unchanged and read == []


@pytest.mark.parametrize("sidecar", [SHENZHEN.replace(".txt", ".meta.json"), f"{SHENZHEN}.meta.json"])
def test_a_sidecar_added_beside_an_unchanged_file_has_it_read_again(corpus: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  sidecar: str) -> None:
    """A file's stat includes its sidecars' (either name): one added after the build has the file read again, and
    its title reaches the index."""
    monkeypatch.setattr(index.readcache, "RACY_NS", 0)
    build(corpus, tmp_path / "index")
    read = counting_reads(monkeypatch)
    (corpus / sidecar).write_text('{"title": "深圳文化科技旁注标题"}', encoding="utf-8")
    again = build(corpus, tmp_path / "index")
    assert read == [SHENZHEN] and again.parsed == 1
    assert open_index(tmp_path / "index", None).docs[Path(SHENZHEN).stem].title == "深圳文化科技旁注标题"

def test_a_file_whose_stat_is_as_recorded_but_racy_is_read_again(corpus: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A file changed within RACY_NS of the read that recorded it (the copy made just before the first build) may
    have been written after it was read without its stat showing it: it is read again, as git does."""
    build(corpus, tmp_path / "index")
    read = counting_reads(monkeypatch)
    build(corpus, tmp_path / "index")
    assert sorted(read) == sorted(p.name for p in corpus.iterdir())


def test_an_unread_file_whose_parse_is_gone_is_read(corpus: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A file not read (unchanged) whose parse neither the previous generation nor the parse cache holds any more
    is read after all, and the index is whole."""
    monkeypatch.setattr(index.readcache, "RACY_NS", 0)
    build(corpus, tmp_path / "index")
    forget_generations(tmp_path / "index")
    (tmp_path / "index" / "parse_cache.sqlite").unlink()
    read = counting_reads(monkeypatch)
    again = build(corpus, tmp_path / "index")
    assert read == [] and (again.documents, again.parsed) == (3, 3)
    build(corpus, tmp_path / "fresh")
    assert records(tmp_path / "index") == records(tmp_path / "fresh")


def test_a_rebuild_written_afresh_reads_the_unread_files_only_the_previous_generation_held(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two of three files changed (too many to patch the records file) and the parse cache gone: the unchanged
    file, not read, had its parse only in the previous generation, so it is read before the records are written
    afresh, and the index is whole."""
    monkeypatch.setattr(index.readcache, "RACY_NS", 0)
    build(corpus, tmp_path / "index")
    (tmp_path / "index" / "parse_cache.sqlite").unlink()
    for name in (SHENZHEN, "jiangsu-culture-tech-2020.txt"):
        doc = corpus / name
        doc.write_text(doc.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    again = build(corpus, tmp_path / "index")
    assert (again.documents, again.parsed, again.skipped) == (3, 3, [])
    build(corpus, tmp_path / "fresh")
    assert records(tmp_path / "index") == records(tmp_path / "fresh")
