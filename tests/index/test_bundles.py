"""Zip bundles indexed file by file within limits, and attachments kept as documents of their own."""

from __future__ import annotations

import io
import random
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from index.build import build_index
from index.config import BuildConfig, DocumentLimits
from index.loading import load_corpus, original_file
from index.parsed import parse_documents
from index.readers.base import ReadContext
from index.records import SourceText
from index.store import open_index
from qa.records import Citation

MAX = 10_000_000
BIG = 100 << 20
NOTICE = ("关于印发广东省影视精品扶持办法的通知\n各地级以上市人民政府，省政府各部门、各直属机构：\n"
          "现将《广东省影视精品扶持办法》和申报表填写说明印发给你们，请认真贯彻执行。\n广东省广播电视局\n2024年1月5日")
FIRST = ("广东省影视精品扶持办法\n第一条 为促进影视产业发展，制定本办法。\n"
         "第二条 在省级卫视首播的优秀电视剧，每分钟奖励1500元。")
SECOND = "申报表填写说明\n一、申报单位应当如实填写申报表。\n二、申报材料一式三份，报省广播电视局。"


def _zip(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return buf.getvalue()


def _gbk_named(text: str) -> bytes:
    """Return a zip whose one member has a GBK name and no UTF-8 flag, as Windows' own zip writes it."""
    data = _zip({"abcdefgh.txt": text})
    return data.replace(b"abcdefgh.txt", "附件说明.txt".encode("gbk"))  # same length: 12 bytes


@pytest.fixture(scope="module")
def bundle_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """Return the corpus folder and the build report of a corpus holding one bundle with every kind of member."""
    folder = tmp_path_factory.mktemp("bundle")
    corpus = folder / "corpus"
    corpus.mkdir()
    inner = _zip({"内层.txt": "一、内层文件\n（一）嵌套一层的压缩包照常读取。",
                  "deeper.zip": _zip({"最深.txt": "不读"})})
    (corpus / "bundle.zip").write_bytes(_zip({
        "通知/关于印发广东省影视精品扶持办法的通知.txt": NOTICE,
        "通知/附件1：广东省影视精品扶持办法.txt": FIRST,
        "通知/附件2-申报表填写说明.txt": SECOND,
        "通知/附件3.xlsx": b"PK\x03\x04",
        "../../etc/evil.txt": "一、路径\n（一）路径穿越的名字只影响文档编号，不会写到任何地方。",
        "bomb.txt": b"0" * (50 << 20),
        "inner.zip": inner,
        "__MACOSX/._通知.txt": b"\0",
    }))
    (corpus / "gbk.zip").write_bytes(_gbk_named("一、说明\n（一）压缩包里的中文文件名按 GBK 解码。"))
    # A cap above the bomb's size: the compression ratio, not the size, refuses it.
    report = build_index(BuildConfig(corpus, folder / "index", max_document_bytes=BIG), None, progress=False)
    return folder, report


def test_bundle_is_indexed_member_by_member(bundle_index: tuple[Path, object]) -> None:
    """Every readable member becomes a document named after its place in the bundle; the rest are reported."""
    folder, report = bundle_index
    kb = open_index(folder / "index", None)
    assert set(kb.docs) == {
        "bundle.zip/通知/关于印发广东省影视精品扶持办法的通知", "bundle.zip/通知/附件1：广东省影视精品扶持办法",
        "bundle.zip/通知/附件2-申报表填写说明", "bundle.zip/etc/evil", "bundle.zip/inner.zip/内层",
        "gbk.zip/附件说明"}
    skipped = dict(report.skipped)  # type: ignore[attr-defined]
    assert set(skipped) == {"bundle.zip/通知/附件3.xlsx", "bundle.zip/bomb.txt", "bundle.zip/inner.zip/deeper.zip"}
    assert "不支持的文件类型 .xlsx" in skipped["bundle.zip/通知/附件3.xlsx"]
    assert "压缩炸弹" in skipped["bundle.zip/bomb.txt"]
    assert "多层嵌套" in skipped["bundle.zip/inner.zip/deeper.zip"]


def test_attachment_files_belong_to_their_notice(bundle_index: tuple[Path, object]) -> None:
    """Files named 附件N beside one notice are its attachments: own title, the notice named in citations."""
    folder, _ = bundle_index
    kb = open_index(folder / "index", None)
    notice_id = "bundle.zip/通知/关于印发广东省影视精品扶持办法的通知"
    doc = kb.docs["bundle.zip/通知/附件1：广东省影视精品扶持办法"]
    assert (doc.title, doc.part_of, doc.part_label) == ("广东省影视精品扶持办法", notice_id, "附件1")
    assert kb.docs[notice_id].part_of is None
    clause = next(c for c in kb.clauses_of(doc.doc_id) if c.label == "第二条")
    source = Citation.of(clause, doc, "").source
    assert source.startswith("依据《广东省影视精品扶持办法》（《关于印发广东省影视精品扶持办法的通知》附件1）第二条")
    # The download is the member itself, checked against what was indexed.
    assert original_file(doc.source, doc.member, doc.file_hash, BIG).decode() == FIRST


@pytest.mark.parametrize(
    ("members", "cap", "reason"),
    [({f"{i}.txt": "一" for i in range(1001)}, MAX, "超过上限 1000"),
     ({"大.txt": "政" * 5000, "小.txt": "一、总则"}, 4096, "超过上限 4096 字节")],
    ids=["too-many-members", "member-over-size-cap"],
)
def test_bundle_limits(tmp_path: Path, members: dict[str, bytes | str], cap: int, reason: str) -> None:
    """A bundle with too many members, or a member over the size cap, is reported with the limit."""
    (tmp_path / "b.zip").write_bytes(_zip(members))
    results = list(load_corpus([tmp_path / "b.zip"], cap))
    assert any(isinstance(r, Exception) and reason in str(r) for _, r in results), results


def test_damaged_zip_is_reported(tmp_path: Path) -> None:
    """A file named .zip that is not one is reported, not raised."""
    (tmp_path / "b.zip").write_bytes(b"PK\x03\x04 not a zip")
    [(path, result)] = list(load_corpus([tmp_path / "b.zip"], MAX))
    assert path == tmp_path / "b.zip" and "不是有效的 zip" in str(result)


NOTICE_WITH_ATTACHMENTS = "\n".join([
    "关于印发广东省影视精品扶持办法的通知", "各地级以上市人民政府，省政府各部门：",
    "现将《广东省影视精品扶持办法》和申报表填写说明印发给你们，请认真贯彻执行。",
    "附件：1.广东省影视精品扶持办法", "2.申报表填写说明", "广东省广播电视局", "2024年1月5日",
    "附件1", FIRST, "附件2", SECOND])


def test_notice_printed_with_attachments_becomes_one_document_each() -> None:
    """附件1 and 附件2 printed after a notice become documents of their own, each with its own title and clause
    labels; the notice's list of attachments is not mistaken for them."""
    source = SourceText(path="/c/notice.txt", text=NOTICE_WITH_ATTACHMENTS, fmt="txt", content_hash="h")
    parts = parse_documents("notice", source)
    assert [(d.doc_id, d.title, d.part_of, d.part_label) for d, _ in parts] == [
        ("notice", "关于印发广东省影视精品扶持办法的通知", None, ""),
        ("notice!附件1", "广东省影视精品扶持办法", "notice", "附件1"),
        ("notice!附件2", "申报表填写说明", "notice", "附件2")]
    (notice, _), (first, first_clauses), (_, second_clauses) = parts
    assert [c.label for c in first_clauses if c.label.startswith("第")] == ["第一条", "第二条"]
    assert [c.label for c in second_clauses if c.level] == ["一、", "二、"]
    assert first.issuer == notice.issuer and first.issue_date == notice.issue_date is not None
    source_line = Citation.of(first_clauses[-1], first, "").source
    assert source_line.startswith(f"依据《广东省影视精品扶持办法》（《{notice.title}》附件1）第二条")
    assert "附件1" not in notice.text and "每分钟奖励1500元" not in notice.text


def test_notice_covering_one_attachment_of_its_title_stays_whole() -> None:
    """A notice that only covers one attachment (印发《X》, then 附件 X) stays one document cited as X."""
    text = "\n".join(["关于印发《广东省影视精品扶持办法》的通知", "现将办法印发给你们，请认真贯彻执行。",
                      "广东省广播电视局", "2024年1月5日", "附件", FIRST])
    [(doc, clauses)] = parse_documents("notice", SourceText("/c/n.txt", text, "txt", "h"))
    assert doc.title == "广东省影视精品扶持办法" and doc.part_of is None
    assert {"附件", "第一条", "第二条"} <= {c.label for c in clauses}


def _text(size: int, seed: int) -> bytes:
    """Return `size` bytes of UTF-8 Chinese text that packs about 2:1, as real text does (no bomb)."""
    rng = random.Random(seed)
    return "".join(chr(0x4E00 + rng.randrange(3000)) for _ in range(size // 3)).encode()


def test_nested_bundles_share_one_budget(tmp_path: Path) -> None:
    """Three inner zips of 300 KB text each under a 700 KB budget for the upload: the first is read, then the
    budget runs out and the rest is reported once with the limit and its setting (each inner zip used to get a
    fresh budget)."""
    inner = {f"内{i}.zip": _zip({f"文{i}.txt": _text(300_000, i)}) for i in range(3)}
    (tmp_path / "b.zip").write_bytes(_zip(inner))  # type: ignore[arg-type]
    context = ReadContext(limits=DocumentLimits(bundle_bytes=700_000))
    results = list(load_corpus([tmp_path / "b.zip"], MAX, context))
    read = [path.name for path, r in results if isinstance(r, SourceText)]
    reasons = [str(r) for _, r in results if isinstance(r, Exception)]
    assert read == ["文0.txt"], results
    [reason] = reasons
    assert "700000" in reason and "QA_MAX_BUNDLE_BYTES" in reason and "其余文件已跳过" in reason


def test_a_member_of_exactly_one_million_bytes_gets_the_ratio_check(tmp_path: Path) -> None:
    """1,000,000 bytes packing 1000:1 was read because only members over 1 MB were checked."""
    (tmp_path / "b.zip").write_bytes(_zip({"a.txt": "a" * 1_000_000, "b.txt": FIRST}))
    results = dict((path.name, r) for path, r in load_corpus([tmp_path / "b.zip"], MAX))
    assert isinstance(results["b.txt"], SourceText)
    assert "压缩比" in str(results["a.txt"]), results["a.txt"]


def test_members_are_read_one_at_a_time(tmp_path: Path) -> None:
    """Twelve members of 1 MB: reading the bundle holds the zip and a member or two, not all twelve at once."""
    members = {f"{i}.txt": _text(1_000_000, i) for i in range(12)}
    (tmp_path / "b.zip").write_bytes(_zip(members))  # type: ignore[arg-type]
    size = (tmp_path / "b.zip").stat().st_size
    tracemalloc.start()
    try:
        count = sum(isinstance(r, SourceText) for _, r in load_corpus([tmp_path / "b.zip"], MAX))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 12
    # The zip, and a member's bytes, their copies and its text (2 bytes a character) at a time, about 5 MB; all
    # twelve members held at once came to 14 MB over the zip.
    assert peak < size + 7_000_000, (peak, size)
