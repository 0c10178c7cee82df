"""Hostile documents at ingestion (issue 24): files whose names collide, a damaged generation pointer, text with no
sentence ends, huge pages, bundles and OFD page lists; each is bounded or reported, and every build still opens."""

from __future__ import annotations

import io
import signal
import zipfile
from pathlib import Path

import pytest

from index.build import BuildReport, build_index
from index.deadline import time_limit
from index.embedding import load_embeddings
from index.errors import DocumentError
from index.store import CURRENT, MANIFEST, current_generation, open_index
from qa.settings import Settings

NOTICE = "第一条 企业可申请研发补贴。\n第二条 研发补贴上限一百万元。\n"
OTHER = "第一条 人才可申请住房补贴。\n第二条 住房补贴上限十万元。\n"


def build(corpus: Path, index: Path, backend: str = "none", **settings: object) -> BuildReport:
    """Build the corpus with the named embedder (none: lexical only; static: a real Chroma store in seconds)."""
    config = Settings(corpus_dir=corpus, index_dir=index, embedding_backend=backend, **settings)  # type: ignore[arg-type]
    embeddings = load_embeddings(config.embedder_config) if backend != "none" else None
    return build_index(config.build_config, embeddings, progress=False)


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize("backend", ["none", "static"])
def test_same_name_in_two_formats_gives_two_documents_and_rebuilds(tmp_path: Path, backend: str) -> None:
    """通知.txt beside 通知.md: two documents with their own ids; the build opens, and so does a rebuild after
    an edit (it used to fail with Chroma's "Expected IDs to be unique", or publish a generation that never opens)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "通知.txt").write_text(NOTICE, encoding="utf-8")
    (corpus / "通知.md").write_text(OTHER, encoding="utf-8")
    index = tmp_path / "index"
    assert build(corpus, index, backend).documents == 2
    kb = open_index(index, None)
    assert sorted(kb.docs) == ["通知.md", "通知.txt"]
    assert {d.doc_id: d.fmt for d in kb.docs.values()} == {"通知.md": "md", "通知.txt": "txt"}
    kb.close()
    (corpus / "通知.md").write_text(OTHER.replace("十万元", "二十万元"), encoding="utf-8")
    report = build(corpus, index, backend)
    assert report.documents == 2 and not report.unchanged
    open_index(index, None).close()


def test_zip_members_that_collide_after_cleaning_are_reported(tmp_path: Path) -> None:
    """a.txt and ../a.txt in one zip both clean to a.txt: the second is skipped with a reason, the build opens."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "包.zip").write_bytes(_zip({"a.txt": NOTICE.encode(), "../a.txt": OTHER.encode()}))
    report = build(corpus, tmp_path / "index")
    assert report.documents == 1
    assert any("../a.txt" in reason and "同名" in reason for _, reason in report.skipped), report.skipped
    assert len(open_index(tmp_path / "index", None).docs) == 1


def _two_builds(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "通知.txt").write_text(NOTICE, encoding="utf-8")
    build(corpus, index)
    (corpus / "通知.txt").write_text(NOTICE + "第三条 本办法自发布之日起施行。\n", encoding="utf-8")
    build(corpus, index)
    newest = index / (index / CURRENT).read_text(encoding="utf-8")
    [older] = [p for p in index.glob("gen-*") if p != newest]
    return corpus, index, newest, older


@pytest.mark.parametrize("damage", ["garbage", "missing", "outside", "manifest-gone"])
def test_a_bad_pointer_opens_the_newest_intact_generation_and_prunes_nothing(tmp_path: Path, damage: str) -> None:
    """A bad CURRENT (garbage, gone, naming a path outside) or a serving generation without its manifest: start-up
    opens the newest intact generation instead of building from scratch, and a build then deletes none of them."""
    corpus, index, newest, older = _two_builds(tmp_path)
    if damage == "garbage":
        (index / CURRENT).write_bytes(b"\x00\xff not a generation")
    elif damage == "missing":
        (index / CURRENT).unlink()
    elif damage == "outside":
        (index / CURRENT).write_text("../../etc", encoding="utf-8")
    else:
        (newest / MANIFEST).unlink()
    intact = older if damage == "manifest-gone" else newest
    assert current_generation(index) == intact
    kb = open_index(index, None)
    assert kb.folder == intact
    kb.close()
    report = build(corpus, index)
    # The older generation holds the corpus before the edit: the build makes a new one and removes nothing.
    serving = report.generation if damage == "manifest-gone" else intact.name
    assert report.unchanged == (damage != "manifest-gone")
    assert ("CURRENT 未指向完整的索引" in report.summary()) == report.unchanged
    assert (index / CURRENT).read_text(encoding="utf-8") == serving
    assert older.is_dir() and (older / MANIFEST).exists()


def test_a_file_named_like_an_attachment_is_skipped_not_a_broken_generation(tmp_path: Path) -> None:
    """通知.txt prints 附件1 (its id 通知!附件1) and a file 通知!附件1.txt has that id too: one is skipped with
    the other's name and the fix, and the generation opens with no two records under one id."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "通知.txt").write_text("关于印发研发补贴办法的通知\n各单位：现将办法印发给你们。\n附件1：研发补贴办法\n"
                                    + NOTICE, encoding="utf-8")
    (corpus / "通知!附件1.txt").write_text(OTHER, encoding="utf-8")
    report = build(corpus, tmp_path / "index")
    assert [(path, "改名" in reason) for path, reason in report.skipped] == [("通知.txt", True)]
    kb = open_index(tmp_path / "index", None)
    assert list(kb.docs) == ["通知!附件1"] and "住房补贴" in kb.docs["通知!附件1"].text


@pytest.mark.parametrize("text", [
    "政" * 20_000,  # one character over and over: jieba's HMM path copying was quadratic in the run
    "".join(chr(0x4E00 + (i * 7919) % 20_000) for i in range(20_000)),  # rare characters, no word known
    "一、总则\n" + "企业研发费用加计扣除" * 2_000,  # a numbered clause whose body has no sentence end
])
def test_text_without_sentence_ends_is_cut_into_bounded_chunks(text: str) -> None:
    """20,000 characters without 。；！？ used to be one chunk (and one jieba run): every chunk is now at most
    MAX_SENTENCE characters, and jieba is never given a run longer than MAX_RUN."""
    from index.lang.sentences import MAX_SENTENCE, split_sentences
    from index.lang.tokens import JIEBA_RUN, MAX_RUN, runs
    from index.parsed import parse
    from index.records import SourceText

    parsed = parse("x", SourceText(path="x.txt", text=text, fmt="txt", content_hash="h", meta={}), 480)
    chunks = [c for part in parsed.parts for c in part.chunks]
    assert len(chunks) >= len(text) // MAX_SENTENCE
    assert max(len(c.text) for c in chunks) <= MAX_SENTENCE
    assert "".join(c.text for c in chunks) == text.replace("\n", "")  # nothing lost, nothing repeated
    assert max(len(s) for s in split_sentences(text)) <= MAX_SENTENCE
    assert "".join(runs(text)) == text
    assert max(len(m.group()) for piece in runs(text) for m in JIEBA_RUN.finditer(piece)) <= MAX_RUN


def test_a_huge_sidecar_title_is_refused_and_a_huge_hint_dropped(tmp_path: Path) -> None:
    """A 100,000-character sidecar title made a rebuild take 876 s and every answer citing it 402 KB: the
    document is skipped naming the field, its length, the limit and the fix; a file's own over-long title (an
    HTML <title>) is dropped and the title is found in the text."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(NOTICE, encoding="utf-8")
    (corpus / "a.meta.json").write_text('{"title": "%s"}' % ("标题" * 50_000), encoding="utf-8")
    body = "".join(f"<p>{line}</p>" for line in NOTICE.splitlines())
    (corpus / "b.html").write_text(f"<html><head><title>{'标题' * 50_000}</title></head><body><article>"
                                   f"<h1>研发补贴办法</h1>{body}</article></body></html>", encoding="utf-8")
    report = build(corpus, tmp_path / "index")
    [(path, reason)] = report.skipped
    assert path == "a.txt" and "title" in reason and "100000" in reason and "200" in reason, reason
    [doc] = open_index(tmp_path / "index", None).docs.values()
    assert len(doc.title) <= 200


def test_a_block_past_its_time_limit_is_interrupted_with_the_message() -> None:
    """time_limit interrupts pure Python work with a DocumentError carrying the message, and restores SIGALRM."""
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(DocumentError, match="太慢"), time_limit(0.05, "太慢"):
        while True:
            pass
    assert signal.getsignal(signal.SIGALRM) is before
    with time_limit(5.0, "太慢"):
        assert sum(range(10)) == 45


def test_a_file_whose_parse_runs_past_the_limit_is_skipped_and_named(tmp_path: Path) -> None:
    """A file that takes seconds to parse (jieba on 1.4 million characters) is skipped with the limit and its setting
    named, in the parsing workers as in one process; the small files beside it are indexed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(NOTICE, encoding="utf-8")
    (corpus / "b.txt").write_text(OTHER, encoding="utf-8")
    # Ordinary sentences, 1.4 million characters: the parse is slow only by its size (over ten seconds here).
    sentence = "企业申请研发补贴的条件和标准由省科技厅另行制定。"
    (corpus / "巨大.txt").write_text("第一条 " + sentence * 60_000, encoding="utf-8")
    report = build(corpus, tmp_path / "index", parse_max_seconds=1.0)
    assert [rel for rel, _ in report.skipped] == ["巨大.txt"]
    assert "解析超过 1 秒" in report.skipped[0][1] and "QA_PARSE_MAX_SECONDS" in report.skipped[0][1]
    kb = open_index(tmp_path / "index", None)
    assert sorted(kb.docs) == ["a", "b"]
    kb.close()


def test_a_file_whose_reading_runs_past_the_limit_is_skipped_and_named(tmp_path: Path) -> None:
    """Reading a file past QA_READ_MAX_SECONDS skips it with the limit named; the build goes on and opens."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(NOTICE, encoding="utf-8")
    # 8 MB of GBK text: decoding and detecting it takes far longer than the 1 ms allowed.
    (corpus / "大.txt").write_bytes(("第一条 企业可申请研发补贴。\n" * 400_000).encode("gbk"))
    report = build(corpus, tmp_path / "index", read_max_seconds=0.001, max_document_bytes=50_000_000)
    assert [rel for rel, _ in report.skipped] == ["大.txt"]
    assert "读取超过 0.001 秒" in report.skipped[0][1] and "QA_READ_MAX_SECONDS" in report.skipped[0][1]
    assert report.documents == 1
