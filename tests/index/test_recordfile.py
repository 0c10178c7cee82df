"""Tests for index.recordfile: a generation's records read on demand from its SQLite file, the groupings as indexed
queries equal to the lists built in memory before, generations written as JSON lines, and damaged files."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import index.recordfile
from index.build import build_index
from index.errors import GenerationDamaged
from index.knowledge import KnowledgeBase
from index.recordfile import (
    DELTA_FILE,
    JSONL,
    RECORDS_FILE,
    TEMPORARY_CACHE_KIB,
    RecordFile,
    RecordWriter,
    is_current,
    temporary_records,
)
from index.records import TAG_KINDS, Clause, Measure, MeasureQuery
from index.reuse import Previous
from index.store import current_generation, manifest_of, needs_build, open_generation, open_index, seal
from qa.settings import Settings
from tests.conftest import CORPUS
from tests.formats import unindex_measures

REFERENCES = [("（十四）", "(十四)", "14.", "第十四条"), ("三、",), ("（一）", "(一)", "1.", "第一条")]
WORDS = ["紫金", "文化", "深圳市", "不存在的词语"]


@pytest.fixture(scope="module", params=["base", "delta"])
def kb(request: pytest.FixtureRequest, lexical_index: Path,
       tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    """The bundled corpus, opened from its records file; and, rebuilt after one file's edit, from the previous
    records file shared as a base with a delta beside it (read through views over both)."""
    index_dir = lexical_index
    if request.param == "delta":
        corpus = Path(shutil.copytree(CORPUS, tmp_path_factory.mktemp("delta") / "corpus"))
        settings = Settings(corpus_dir=corpus, index_dir=corpus.parent / "index", embedding_backend="none")
        build_index(settings.build_config, None, progress=False)
        doc = corpus / "shenzhen-culture-tech-2012.txt"
        doc.write_text(doc.read_text(encoding="utf-8").replace("陶瓷、漆器", "陶瓷、玉雕、漆器"), encoding="utf-8")
        with pytest.MonkeyPatch.context() as patch:
            # The edited file is a third of the corpus: its delta would be compacted after the switch.
            patch.setattr(index.recordfile, "MERGE_AT", 0)
            build_index(settings.build_config, None, progress=False)
        folder = current_generation(settings.index_dir)
        assert folder is not None and (folder / DELTA_FILE).exists()
        index_dir = settings.index_dir
    opened = open_index(index_dir, None)
    if request.param == "delta":  # the edited clause is read from the delta, the others from the base
        assert any("陶瓷、玉雕、漆器" in c.text for c in opened.clauses_of("shenzhen-culture-tech-2012"))
    yield opened
    opened.close()


def in_memory_groupings(kb: KnowledgeBase) -> tuple[dict, dict, dict]:
    """Return the groupings as KnowledgeBase built them in memory at open before the records file (the old code)."""
    by_region: dict[str, list[str]] = {}
    by_doc: dict[str, list[Clause]] = {}
    sections: dict[str, list[tuple[int, Clause]]] = {}
    for doc in kb.docs.values():
        by_region.setdefault(doc.region or "", []).append(doc.doc_id)
    for position, clause in enumerate(kb.clauses.values()):
        by_doc.setdefault(clause.doc_id, []).append(clause)
        if clause.children and clause.title and not clause.is_retrievable:
            sections.setdefault(clause.title, []).append((position, clause))
    return by_region, by_doc, sections


def test_records_read_by_id_behave_as_mappings(kb: KnowledgeBase) -> None:
    """Every record reads back by its id; `in`, `get`, `len`, iteration, `values` and `items` work as on a dict."""
    for table, count, key in ((kb.docs, kb.manifest.documents, "doc_id"), (kb.clauses, kb.manifest.clauses,
                              "clause_id"), (kb.chunks, kb.manifest.chunks, "chunk_id")):
        records = list(table.values())  # type: ignore[attr-defined]
        assert len(records) == len(table) == count > 0
        ids = [getattr(r, key) for r in records]
        assert list(table) == ids and len(set(ids)) == count
        assert dict(table.items()) == dict(zip(ids, records, strict=True))
        for record in records:
            assert table[getattr(record, key)] == record and getattr(record, key) in table
        assert "no-such-id" not in table and 7 not in table and table.get("no-such-id") is None
        with pytest.raises(KeyError):
            table["no-such-id"]
    assert all(c.doc_id in kb.docs for c in kb.clauses.values())
    assert all(c.clause_id in kb.clauses for c in kb.chunks.values())
    assert all(d.text for d in kb.docs.values())


def test_groupings_equal_the_lists_built_in_memory(kb: KnowledgeBase) -> None:
    """clauses_of, docs_in_region, sections_by_title, clauses_labelled and mentions give what the in-memory
    groupings gave on the bundled corpus, in the same order."""
    by_region, by_doc, sections = in_memory_groupings(kb)
    for doc_id in kb.docs:
        assert kb.clauses_of(doc_id) == by_doc[doc_id]
    assert kb.clauses_of("no-such-doc") == []
    for region in [*by_region, "", "火星省"]:
        assert kb.docs_in_region(region) == by_region.get(region, [])
    assert sections and list(kb.sections_by_title()) == list(sections)
    assert dict(kb.sections_by_title()) == sections
    clauses = list(kb.clauses.values())
    for endings in REFERENCES:
        assert kb.clauses_labelled(endings) == [c for c in clauses if c.label.endswith(endings)]
    assert all(kb.clauses_labelled(e) for e in REFERENCES)
    for word in WORDS:
        assert kb.mentions(word) == any(word in d.text for d in kb.docs.values())
    assert kb.mentions("紫金") and not kb.mentions("不存在的词语")


def test_sections_are_read_only_for_the_titles_used(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    """Walking the titles with their sections reads a title's sections only when they are used: find_section
    skips titles the question does not name, and at a million clauses reading them all took seconds a question."""
    read: list[str] = []
    real = RecordFile.sections

    def counted(self: RecordFile, title: str) -> list:
        read.append(title)
        return real(self, title)

    monkeypatch.setattr(RecordFile, "sections", counted)
    pairs = list(kb.sections_by_title().items())
    assert len(pairs) > 1 and read == []
    title, sections = pairs[1]
    assert len(sections) > 0 and sections[-1] == list(sections)[-1] and read == [title]
    assert list(sections) == kb.sections_by_title()[title]


def test_measures_are_counted_and_walked_never_kept(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    """The measures count without a read and iterate in reading order, read again each time (held whole, a million
    clauses' measures were ~465 MB of an app process); `in` asks the file."""
    measures = list(kb.measures)
    assert len(kb.measures) == len(measures) > 0 and bool(kb.measures)
    assert {m.clause_id for m in measures} <= set(kb.clauses) and measures[3] in kb.measures
    assert dataclasses.replace(measures[3], summary="?") not in kb.measures
    walks: list[str] = []
    walk = RecordFile.walk

    def counted(self: RecordFile, table: str, columns: str) -> Iterator[tuple[Any, ...]]:
        walks.append(table)
        return walk(self, table, columns)

    monkeypatch.setattr(RecordFile, "walk", counted)
    assert list(kb.measures) == measures and list(kb.measures) == measures and walks == ["measures", "measures"]


# Each query with the filter the answering paths applied in Python to every measure before (qa/finder.py, comparison,
# clarify), and whether the bundled corpus has measures it selects.
QUERIES: list[tuple[MeasureQuery, Callable[[Measure], bool], bool]] = [
    (MeasureQuery(), lambda m: True, True),
    (MeasureQuery(("深圳市",)), lambda m: m.region == "深圳市", True),
    (MeasureQuery(("苏州市",)), lambda m: m.region == "苏州市", False),  # a city with no measures of its own
    (MeasureQuery(("江苏省",)), lambda m: m.region == "江苏省", True),  # …its province's
    (MeasureQuery(()), lambda m: False, False),
    (MeasureQuery(("深圳市", "广东省"), granting=True, having=(("type", ("平台/载体/基地",)),)),
     lambda m: m.grants and m.region in ("深圳市", "广东省") and "平台/载体/基地" in m.types, True),
    (MeasureQuery(having=(("type", ("税收", "人才")),)), lambda m: bool({"税收", "人才"} & set(m.types)), True),
    (MeasureQuery(granting=True, having=(("industry", ("动漫", "影视")), ("beneficiary", ("园区/基地",)))),
     lambda m: m.grants and bool({"动漫", "影视"} & set(m.industries)) and "园区/基地" in m.beneficiaries, True),
    # The profile checklist's: a type, industries named or none, the asker's kind of enterprise or none named.
    (MeasureQuery(granting=True, without=(("type", "其他"),), open_to=(("industry", ("动漫", "游戏")),
                                                                        ("beneficiary", ("中小企业",)))),
     lambda m: m.grants and m.types != ("其他",) and (not m.industries or bool({"动漫", "游戏"} & set(m.industries)))
     and (not m.beneficiaries or "中小企业" in m.beneficiaries), True),
    (MeasureQuery(open_to=(("beneficiary", ()),)), lambda m: not m.beneficiaries, True),
    (MeasureQuery(without=(("type", "其他"),)), lambda m: "其他" not in m.types, True),
]


@pytest.mark.parametrize(("query", "selects", "some"), QUERIES)
def test_measure_queries_select_as_the_filters_did_in_reading_order(
        kb: KnowledgeBase, query: MeasureQuery, selects: Callable[[Measure], bool], some: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A query gives the measures the Python filter over all of them gave, in the same order, by an indexed query
    (through the views over a base and its delta too): the measures are never walked."""
    expected = [m for m in kb.measures if selects(m)]
    assert bool(expected) is some and expected == [m for m in kb.measures if query.admits(m)]
    monkeypatch.setattr(RecordFile, "walk", lambda *_: pytest.fail("the measures were walked"))
    assert list(kb.measures_where(query)) == expected


# The profile checklist's weights for "我是深圳的一家动漫中小企业" (qa/finder.py `specificity`).
WEIGHTS = {("industry", "动漫"): 2, ("beneficiary", "中小企业"): 2, ("beneficiary", "文化科技企业"): 1}


def scored(kb: KnowledgeBase | RecordFile, query: MeasureQuery) -> list[tuple[Measure, str, int]]:
    """Return each measure a query selects, read back by its number, with the region and score given for it."""
    scores = kb.measure_scores(query, WEIGHTS)
    measures = kb.measures_at([n for n, _, _ in scores])
    return [(m, region, score) for m, (_, region, score) in zip(measures, scores, strict=True)]


def test_measure_scores_sum_tag_weights_and_measures_are_read_by_number(
        kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    """The profile's ranking reads no measure: each selected one's region and the sum of its tags' weights, in
    reading order; `measures_at` then reads them in any order asked."""
    query = QUERIES[8][0]
    expected = [(m, m.region or "", sum(w for (kind, value), w in WEIGHTS.items()
                                        if value in getattr(m, TAG_KINDS[kind])))
                for m in kb.measures if query.admits(m)]
    monkeypatch.setattr(RecordFile, "walk", lambda *_: pytest.fail("the measures were walked"))
    assert scored(kb, query) == expected and len({s for *_, s in expected}) > 1
    numbers = [n for n, _, _ in kb.measure_scores(query, WEIGHTS)]
    assert list(kb.measures_at(numbers[::-1])) == [m for m, _, _ in expected][::-1]


def test_measure_types_and_measure_of(kb: KnowledgeBase) -> None:
    """The types some measure has, and a clause's measure, are read from the indexes."""
    measures = list(kb.measures)
    assert kb.measure_types() == {t for m in measures for t in m.types}
    assert all(kb.records.measure_of(m.clause_id) == m for m in measures[::7])
    assert kb.records.measure_of("no-such-clause") is None


def test_a_records_file_of_the_older_format_answers_the_same_queries(kb: KnowledgeBase, tmp_path: Path) -> None:
    """A records file (a base and its delta too) written before the measures had columns and tags opens and
    answers every query, type and clause look-up as the current format does, its measures filtered in Python."""
    for name in (RECORDS_FILE, DELTA_FILE):
        if (kb.folder / name).exists():
            shutil.copyfile(kb.folder / name, tmp_path / name)
            unindex_measures(tmp_path / name)
    old = RecordFile(tmp_path / RECORDS_FILE)
    try:
        assert not old._measures_indexed and list(old.measures()) == list(kb.measures)
        for query, _, _ in QUERIES:
            assert list(old.measures_where(query)) == list(kb.measures_where(query))
        assert old.measure_types() == kb.measure_types()
        assert scored(old, QUERIES[8][0]) == scored(kb.records, QUERIES[8][0])
        m = next(iter(kb.measures))
        assert old.measure_of(m.clause_id) == m and m in old.measures()
    finally:
        old.close()


def test_a_generation_of_the_older_format_is_written_afresh_by_its_first_rebuild(tmp_path: Path) -> None:
    """A generation whose records file is of the older format is served (its measures filtered in Python); the next
    build writes the current format from the parse cache though nothing changed, never patching the old file."""
    settings = Settings(corpus_dir=CORPUS, index_dir=tmp_path / "index", embedding_backend="none")
    build_index(settings.build_config, None, progress=False)
    folder = current_generation(settings.index_dir)
    assert folder is not None and is_current(folder / RECORDS_FILE)
    unindex_measures(folder / RECORDS_FILE)
    seal(folder, manifest_of(folder))
    assert not is_current(folder / RECORDS_FILE) and Previous.of(folder, manifest_of(folder)) is None
    old = open_index(settings.index_dir, None)
    expected = list(old.measures_where(QUERIES[5][0]))
    assert expected and not old.records._measures_indexed
    old.close()
    report = build_index(settings.build_config, None, progress=False)
    assert not report.unchanged and report.parsed == 0
    new = open_index(settings.index_dir, None)
    assert new.folder != folder and is_current(new.folder / RECORDS_FILE) and new.records._measures_indexed
    assert list(new.measures_where(QUERIES[5][0])) == expected
    new.close()


def _write_jsonl(kb: KnowledgeBase) -> None:
    """Rewrite a generation as the builds before the records file wrote it: JSON lines, no records file."""
    folder = kb.folder
    for name, records in zip(JSONL, (kb.docs.values(), kb.clauses.values(), kb.chunks.values(), kb.measures),
                             strict=True):
        (folder / name).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))  # type: ignore[attr-defined]
    (folder / RECORDS_FILE).unlink()
    seal(folder, dataclasses.replace(manifest_of(folder), files=()))


def test_a_generation_of_json_lines_opens_and_a_start_writes_its_records_file(tmp_path: Path) -> None:
    """A generation written before the records file opens with the same records and groupings; a start sees it
    needs a build, which writes the records file from the parse cache (nothing parsed) though nothing changed."""
    settings = Settings(corpus_dir=CORPUS, index_dir=tmp_path / "index", embedding_backend="none")
    build_index(settings.build_config, None, progress=False)
    new = open_index(settings.index_dir, None)
    expected = (list(new.docs.values()), list(new.clauses.values()), list(new.chunks.values()), list(new.measures),
                in_memory_groupings(new))
    _write_jsonl(new)
    new.close()
    assert needs_build(settings.index_dir, None)
    old = open_index(settings.index_dir, None)
    assert old.folder == current_generation(settings.index_dir) and not old.damaged
    assert not (old.folder / RECORDS_FILE).exists()
    assert (list(old.docs.values()), list(old.clauses.values()), list(old.chunks.values()), list(old.measures),
            in_memory_groupings(old)) == expected
    _, by_doc, sections = expected[-1]
    assert all(old.clauses_of(d) == by_doc[d] for d in by_doc) and dict(old.sections_by_title()) == sections
    old.close()
    report = build_index(settings.build_config, None, progress=False)
    assert not report.unchanged and report.parsed == 0
    rewritten = open_index(settings.index_dir, None)
    assert (rewritten.folder / RECORDS_FILE).exists() and not needs_build(settings.index_dir, None)
    assert list(rewritten.clauses.values()) == expected[1]
    rewritten.close()


def test_temporary_records_are_written_with_a_small_cache_and_the_freed_heap_given_back(
        kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    """An app process copies a PostgreSQL generation's records into a temporary file at open: with the build's
    64 MiB page cache, and the heap it freed kept, that was 453 MB of RSS at its peak and 405 MB after, at a million
    clauses. The copy is whole either way."""
    caches: list[int] = []
    finish = RecordWriter.finish

    def finishing(self: RecordWriter) -> None:
        caches.append(self._conn.execute("PRAGMA cache_size").fetchone()[0])
        finish(self)

    trims: list[int] = []
    monkeypatch.setattr(RecordWriter, "finish", finishing)
    monkeypatch.setattr(index.recordfile, "_release_freed_memory", lambda: trims.append(1))
    copy = temporary_records("probe", kb.docs.values(), kb.clauses.values(), kb.chunks.values(), kb.measures)
    try:
        assert caches == [-TEMPORARY_CACHE_KIB] and trims == [1]
        assert list(copy.clauses.values()) == list(kb.clauses.values()) and list(copy.measures()) == list(kb.measures)
    finally:
        copy.close()


def _flip(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data and len(old) == len(new)
    path.write_bytes(data.replace(old, new, 1))


@pytest.mark.parametrize("damage", ["header", "truncated", "not-sqlite"])
def test_a_damaged_records_file_is_reported_as_generation_damaged(lexical_index: Path, tmp_path: Path,
                                                                  damage: str) -> None:
    """A records file that is not a database, or not of the recorded size, fails the open with GenerationDamaged."""
    index = Path(shutil.copytree(lexical_index, tmp_path / "index"))
    folder = current_generation(index)
    assert folder is not None
    path = folder / RECORDS_FILE
    if damage == "header":
        _flip(path, b"SQLite format 3", b"SQLite format 9")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(b"\0" * path.stat().st_size)
    with pytest.raises(GenerationDamaged, match=RECORDS_FILE if damage != "truncated" else "字节"):
        open_generation(folder, None)
    with pytest.raises(GenerationDamaged):
        open_index(index, None)


def test_a_same_size_change_inside_the_file_is_found_by_the_next_build(lexical_index: Path, tmp_path: Path) -> None:
    """Opening checks sizes and counts, not every byte; the next build compares digests and writes a new one."""
    index = Path(shutil.copytree(lexical_index, tmp_path / "index"))
    folder = current_generation(index)
    assert folder is not None
    _flip(folder / RECORDS_FILE, "紫金".encode(), "紫铜".encode())
    settings = Settings(corpus_dir=CORPUS, index_dir=index, embedding_backend="none")
    report = build_index(settings.build_config, None, progress=False)
    assert not report.unchanged and "SHA-256" in report.repaired
    repaired = open_index(index, None)
    assert repaired.folder != folder and repaired.mentions("紫金") and not repaired.mentions("紫铜")
    repaired.close()


def test_the_build_refuses_clashing_ids_and_links_that_point_nowhere(kb: KnowledgeBase, tmp_path: Path) -> None:
    """The whole-corpus checks opening used to make are made once, when the build finishes the file."""
    doc = next(iter(kb.docs.values()))
    clauses = kb.clauses_of(doc.doc_id)
    cases = {"dangling": ([clauses[0], dataclasses.replace(clauses[1], doc_id="no-such-doc")], "不存在的文件"),
             "clash": (clauses[:1] * 2, "重复")}
    for name, (written, message) in cases.items():
        writer = RecordWriter(tmp_path / f"{name}.sqlite")
        writer.add(doc, written, [], [])
        with pytest.raises(GenerationDamaged, match=message):
            writer.finish()
        writer.close()
