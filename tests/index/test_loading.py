"""Tests for index.loading: reading policy documents of each supported format into SourceText."""

from __future__ import annotations

import codecs
import json
import random
from collections.abc import Callable
from pathlib import Path

import docx
import pytest

from index.errors import DocumentError
from index.loading import (
    META_KEYS,
    decode_text,
    discover,
    extract,
    load_corpus,
    load_file,
    read_sidecar,
)
from index.readers.base import FileHints
from index.records import SourceText
from tests.pdfs import blank_pdf, encrypted_pdf, text_pdf

MAX = 10_000_000

POLICY = (
    "一、总体要求\n"
    "（一）加强组织领导。建立由省科技厅牵头的工作机制。\n"
    "（二）强化资金保障。省财政每年安排专项资金，支持重大科技项目。\n"
    "（三）营造良好氛围。加大政策宣传解读力度。"
)
POLICY_GB18030 = POLICY.replace("加大政策宣传", "在𠮷祥镇试点，加大政策宣传")
LONG_POLICY_LINES = (
    "关于印发《科技创新驱动高质量发展行动方案（2023—2025年）》的通知",
    "各市人民政府，省政府各部门、各直属机构：",
    "现将《科技创新驱动高质量发展行动方案（2023—2025年）》印发给你们，请结合实际认真贯彻执行。",
    "一、总体要求",
    "以习近平新时代中国特色社会主义思想为指导，深入实施创新驱动发展战略，加快建设创新型省份。",
    "二、主要目标",
    "到2025年，全社会研究与试验发展经费投入强度达到2.5%以上，高新技术企业数量突破1万家。",
    "技术合同成交额达到1000亿元，每万人口高价值发明专利拥有量达到8件。",
    "三、重点任务",
    "（一）强化基础研究。支持高校和科研院所建设一批省级重点实验室，对新认定的给予500万元经费支持。",
    "（二）培育创新主体。落实研发费用加计扣除政策，对首次认定的高新技术企业给予一次性奖励。",
    "（三）集聚创新人才。实施高层次人才引进计划，在住房、医疗、子女入学等方面提供便利。",
    "四、保障措施",
    "各地各部门要加强组织领导，将科技创新工作纳入年度目标责任考核，确保各项任务落地见效。",
)
LONG_POLICY = "\n".join(LONG_POLICY_LINES)
ARTICLE = [
    "为深入实施创新驱动发展战略，加快建设科技强省，根据国家有关部署和本省国民经济和社会发展第十四个五年规划，结合本省实际，制定本行动方案。",
    "到2025年，全省全社会研究与试验发展经费投入强度达到百分之二点五以上，高新技术企业数量突破一万家，技术合同成交额达到一千亿元。",
    "加强基础研究和应用基础研究，支持高校和科研院所围绕新材料、生物医药、人工智能等重点领域建设一批省级重点实验室和技术创新中心。",
    "强化企业科技创新主体地位，落实研发费用加计扣除政策，对首次认定的高新技术企业给予一次性奖励，引导企业加大研发投入力度。",
    "各市人民政府要建立由政府主要负责同志牵头的工作机制，将科技创新工作纳入年度目标责任考核，确保各项任务落地见效，按时完成。",
]
ARTICLE_GB18030 = [*ARTICLE[:-1], ARTICLE[-1].replace("按时完成", "在𠮷祥镇先行试点")]
BOILERPLATE = ["网站首页", "政务公开", "互动交流", "办事服务", "版权所有", "ICP备", "网站标识码", "门户网站"]
SIDECAR = {
    "title": "关于印发科技创新行动方案的通知",
    "issuer": "某某省人民政府",
    "doc_number": "某政发〔2023〕5号",
    "issue_date": "2023-03-01",
}


def _write(path: Path, data: bytes | str) -> Path:
    """Write bytes, or a str as UTF-8, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def _gov_page(charset: str, paragraphs: list[str] = ARTICLE) -> str:
    """Return a government portal page: header, nav menu, article body and footer."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}">'
        "<title>关于印发科技创新行动方案的通知_某某省人民政府</title></head><body>"
        '<header><div class="logo">某某省人民政府门户网站</div></header>'
        '<nav><ul><li><a href="/">网站首页</a></li><li><a href="/zwgk">政务公开</a></li>'
        '<li><a href="/hdjl">互动交流</a></li><li><a href="/bsfw">办事服务</a></li></ul></nav>'
        f"<main><article><h1>关于印发科技创新行动方案的通知</h1>{body}</article></main>"
        "<footer><p>版权所有：某某省人民政府办公厅</p><p>网站标识码1300000000 冀ICP备05003271号</p></footer>"
        "</body></html>"
    )


def _docx(path: Path, paragraphs: list[str], table: list[list[str]]) -> Path:
    """Save a .docx with the paragraphs, and the table after the first two of them."""
    document = docx.Document()
    for text in paragraphs[:2]:
        document.add_paragraph(text)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, value in enumerate(row):
            grid.cell(r, c).text = value
    for text in paragraphs[2:]:
        document.add_paragraph(text)
    document.save(str(path))
    return path


@pytest.mark.parametrize(
    ("text", "encode"),
    [
        (POLICY, lambda s: s.encode("utf-8")),
        (POLICY, lambda s: s.encode("utf-8-sig")),
        (POLICY, lambda s: s.encode("gbk")),
        (POLICY_GB18030, lambda s: s.encode("gb18030")),
        (POLICY, lambda s: codecs.BOM_UTF16_LE + s.encode("utf-16-le")),
        (POLICY, lambda s: codecs.BOM_UTF16_BE + s.encode("utf-16-be")),
        (LONG_POLICY, lambda s: s.encode("gbk")),
        (LONG_POLICY, lambda s: s.encode("gb18030")),
    ],
    ids=["utf8", "utf8-bom", "gbk", "gb18030-beyond-gbk", "utf16le-bom", "utf16be-bom", "gbk-long", "gb18030-long"],
)
def test_txt_decodes_to_original(tmp_path: Path, text: str, encode: Callable[[str], bytes]) -> None:
    """A .txt in any supported Chinese encoding decodes to exactly the original text."""
    source = load_file(_write(tmp_path / "policy.txt", encode(text)), MAX)
    assert source.text == text
    assert source.fmt == "txt"
    assert source.path == str(tmp_path / "policy.txt")


def test_gb18030_sample_is_outside_gbk() -> None:
    """The GB18030 sample really needs GB18030, so its case tests more than GBK."""
    with pytest.raises(UnicodeEncodeError):
        POLICY_GB18030.encode("gbk")


def test_decode_text_rejects_undecodable_bytes() -> None:
    """Bytes in no supported encoding raise DocumentError suggesting UTF-8."""
    with pytest.raises(DocumentError, match="无法识别文本编码"):
        decode_text(random.Random(0).randbytes(101))


@pytest.mark.parametrize(
    "data",
    [codecs.BOM_UTF8 + POLICY.encode("gbk"), codecs.BOM_UTF16_BE + POLICY.encode("utf-16-be")[:-1]],
    ids=["utf8-bom-then-gbk", "utf16-bom-odd-length"],
)
def test_bom_with_invalid_body_is_document_error(tmp_path: Path, data: bytes) -> None:
    """A BOM followed by bytes invalid in that encoding raises DocumentError, not UnicodeDecodeError."""
    with pytest.raises(DocumentError):
        load_file(_write(tmp_path / "policy.txt", data), MAX)


@pytest.mark.parametrize("text", ["（一）加强组织领导。", "附件：1.申报指南"], ids=["heading", "attachment-line"])
def test_short_gbk_line_decodes(text: str) -> None:
    """A one-line GBK file decodes to its text rather than to mojibake."""
    assert decode_text(text.encode("gbk")) == text


def test_md_is_read_as_text(tmp_path: Path) -> None:
    """A .md file is read as plain text, markup included."""
    markdown = "# 科技创新行动方案\n\n" + POLICY + "\n\n| 指标 | 目标值 |\n| --- | --- |\n| 研发投入强度 | 2.5% |\n"
    source = load_file(_write(tmp_path / "plan.md", markdown), MAX)
    assert source.text == markdown
    assert source.fmt == "md"


def test_docx_paragraphs_in_order_and_table_cells(tmp_path: Path) -> None:
    """A .docx yields its paragraphs in order and every table cell."""
    paragraphs = POLICY.splitlines()
    table = [["指标", "2025年目标"], ["研发投入强度", "2.5%"], ["高新技术企业数量", "1万家"]]
    source = load_file(_docx(tmp_path / "plan.docx", paragraphs, table), MAX)
    positions = [source.text.index(p) for p in paragraphs]
    assert positions == sorted(positions)
    for cell in (c for row in table for c in row):
        assert cell in source.text
    assert source.fmt == "docx"


def test_corrupt_docx_is_document_error(tmp_path: Path) -> None:
    """A file named .docx that is not a Word document raises DocumentError."""
    with pytest.raises(DocumentError, match=r"不是有效的 \.docx"):
        load_file(_write(tmp_path / "plan.docx", random.Random(1).randbytes(2048)), MAX)


def test_pdf_text_layer_in_chinese(tmp_path: Path) -> None:
    """A PDF with a CJK text layer yields its lines, pages in order."""
    pages = [POLICY.splitlines()[:2], POLICY.splitlines()[2:]]
    source = load_file(_write(tmp_path / "plan.pdf", text_pdf(pages)), MAX)
    positions = [source.text.index(line) for page in pages for line in page]
    assert positions == sorted(positions)
    assert source.fmt == "pdf"


def test_pdf_with_empty_user_password_is_read(tmp_path: Path) -> None:
    """A PDF locked only by an owner password opens without one."""
    source = load_file(_write(tmp_path / "plan.pdf", encrypted_pdf(POLICY.splitlines(), "", "owner-secret")), MAX)
    assert "建立由省科技厅牵头的工作机制" in source.text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (random.Random(2).randbytes(4096), "不是有效的 PDF"),
        (b"%PDF-1.7\n" + random.Random(3).randbytes(4096), "不是有效的 PDF"),
        (text_pdf([POLICY.splitlines()])[:1500], "不是有效的 PDF"),
        (encrypted_pdf(POLICY.splitlines(), "user-secret", "owner-secret"), "已加密"),
        (blank_pdf(1), "1 页但没有文字层.*OCR"),
        (blank_pdf(3), "3 页但没有文字层.*OCR"),
    ],
    ids=["junk", "header-then-junk", "truncated", "encrypted", "blank-page", "blank-pages"],
)
def test_unreadable_pdf_says_why(tmp_path: Path, data: bytes, reason: str) -> None:
    """An unreadable PDF raises DocumentError naming the reason."""
    with pytest.raises(DocumentError, match=reason):
        load_file(_write(tmp_path / "plan.pdf", data), MAX)


@pytest.mark.parametrize(
    ("charset", "encoding", "paragraphs"),
    [
        ("utf-8", "utf-8", ARTICLE),
        ("gb2312", "gbk", ARTICLE),
        ("GBK", "gbk", ARTICLE),
        ("gb2312", "gb18030", ARTICLE_GB18030),
    ],
    ids=["utf8", "gb2312-declared-gbk", "gbk-declared", "gb2312-declared-gb18030-content"],
)
def test_html_article_without_boilerplate(tmp_path: Path, charset: str, encoding: str, paragraphs: list[str]) -> None:
    """A government page yields its article paragraphs, not its nav menu or footer."""
    page = _gov_page(charset, paragraphs).encode(encoding)
    source = load_file(_write(tmp_path / "notice.html", page), MAX)
    for paragraph in paragraphs:
        assert paragraph in source.text
    for noise in BOILERPLATE:
        assert noise not in source.text
    assert source.fmt == "html"
    assert source.meta["title"]


@pytest.mark.parametrize(("head", "hints"), [
    ('<link rel="canonical" href="https://www.gd.gov.cn/zwgk/a.html">',
     FileHints(title="关于印发科技创新行动方案的通知", url="https://www.gd.gov.cn/zwgk/a.html")),
    ("", FileHints(title="关于印发科技创新行动方案的通知")),
])
def test_a_page_says_its_title_and_address(head: str, hints: FileHints) -> None:
    """What a saved page says of itself is a record (title, address; "" for what it does not say), which the
    loader turns into the document's metadata unless a sidecar says otherwise."""
    page = _gov_page("utf-8").replace("</head>", f"{head}</head>").encode("utf-8")
    assert extract(page, ".html").hints == hints


def test_html_without_charset_is_detected(tmp_path: Path) -> None:
    """A GBK page that declares no charset is decoded by detection."""
    page = _gov_page("utf-8").replace('<meta charset="utf-8">', "").encode("gbk")
    source = load_file(_write(tmp_path / "notice.htm", page), MAX)
    assert ARTICLE[0] in source.text
    assert source.fmt == "htm"


@pytest.mark.parametrize(
    "page",
    [
        "<html><body></body></html>",
        '<html><head><title>通知公告</title></head><body><div class="list"></div></body></html>',
    ],
    ids=["empty-body", "title-only"],
)
def test_html_without_body_is_document_error(tmp_path: Path, page: str) -> None:
    """A page with no text raises DocumentError saying no body text was found."""
    with pytest.raises(DocumentError, match="没有找到正文"):
        load_file(_write(tmp_path / "index.html", page), MAX)


def test_html_with_only_navigation_is_document_error(tmp_path: Path) -> None:
    """A portal page with header, menu and footer but no article raises DocumentError."""
    page = _gov_page("utf-8", []).replace("<main><article><h1>关于印发科技创新行动方案的通知</h1></article></main>", "")
    with pytest.raises(DocumentError, match="没有找到正文"):
        load_file(_write(tmp_path / "index.html", page), MAX)


@pytest.mark.parametrize(
    "data",
    [b"", b" \n\t\r\n ", codecs.BOM_UTF8, "\u3000\u3000\n".encode(), codecs.BOM_UTF16_LE + " \n".encode("utf-16-le")],
    ids=["empty", "ascii-whitespace", "bom-only", "fullwidth-spaces", "utf16-whitespace"],
)
def test_empty_or_blank_txt_is_document_error(tmp_path: Path, data: bytes) -> None:
    """An empty or whitespace-only file raises DocumentError."""
    with pytest.raises(DocumentError, match=r"文件为空|没有文字"):
        load_file(_write(tmp_path / "blank.txt", data), MAX)


def test_oversized_file_names_size_and_limit(tmp_path: Path) -> None:
    """A file over max_bytes raises DocumentError stating its size and the limit."""
    path = _write(tmp_path / "big.txt", "政" * 700)
    with pytest.raises(DocumentError) as info:
        load_file(path, 2000)
    assert "2100" in str(info.value)
    assert "2000" in str(info.value)


def test_file_at_limit_is_read(tmp_path: Path) -> None:
    """A file exactly max_bytes long is accepted."""
    path = _write(tmp_path / "exact.txt", "政" * 700)
    assert load_file(path, 2100).text == "政" * 700


@pytest.mark.parametrize("name", ["plan.xls", "plan.xlsx", "plan.json"])
def test_unsupported_suffix_is_document_error(tmp_path: Path, name: str) -> None:
    """Loading an unsupported type raises DocumentError listing the supported ones."""
    with pytest.raises(DocumentError, match=r"不支持的文件类型.*\.docx"):
        load_file(_write(tmp_path / name, POLICY), MAX)


def test_uppercase_suffix_is_supported(tmp_path: Path) -> None:
    """Suffixes are matched case-insensitively."""
    path = _write(tmp_path / "PLAN.TXT", POLICY)
    assert discover(tmp_path) == [path]
    assert load_file(path, MAX).fmt == "txt"


def test_discover_returns_sorted_supported_files(tmp_path: Path) -> None:
    """discover returns supported documents recursively, sorted, without sidecars, hidden or other files."""
    wanted = [
        _write(tmp_path / "a.txt", POLICY),
        _write(tmp_path / "b.md", POLICY),
        _write(tmp_path / "c.docx", b"x"),
        _write(tmp_path / "d.PDF", b"x"),
        _write(tmp_path / "e.html", b"x"),
        _write(tmp_path / "f.htm", b"x"),
        _write(tmp_path / "sub" / "g.txt", POLICY),
    ]
    for name in ["a.meta.json", "a.txt.meta.json", "notes.rtf", "table.xlsx", "README", ".draft.txt", ".hidden.pdf"]:
        _write(tmp_path / name, "{}")
    (tmp_path / "folder.txt").mkdir()
    assert discover(tmp_path) == sorted(wanted)


def test_discover_skips_hidden_folders(tmp_path: Path) -> None:
    """Files inside hidden folders (.git, .ipynb_checkpoints) are not documents of the corpus."""
    _write(tmp_path / ".ipynb_checkpoints" / "plan-checkpoint.txt", POLICY)
    _write(tmp_path / ".git" / "description.txt", "Unnamed repository")
    keep = _write(tmp_path / "plan.txt", POLICY)
    assert discover(tmp_path) == [keep]


def test_discover_takes_linked_files_but_not_linked_folders(tmp_path: Path) -> None:
    """A symbolic link to a file is a document; a link to a folder is not walked (as rglob did), a broken link is
    skipped."""
    corpus, elsewhere = tmp_path / "corpus", tmp_path / "elsewhere"
    _write(elsewhere / "outside.txt", POLICY)
    inside = _write(corpus / "sub" / "inside.txt", POLICY)
    (corpus / "linked-folder").symlink_to(elsewhere)
    (corpus / "linked.txt").symlink_to(elsewhere / "outside.txt")
    (corpus / "broken.txt").symlink_to(tmp_path / "nowhere.txt")
    assert discover(corpus) == [corpus / "linked.txt", inside]


@pytest.mark.parametrize("sidecar_name", ["plan.meta.json", "plan.txt.meta.json"])
def test_sidecar_meta_is_returned(tmp_path: Path, sidecar_name: str) -> None:
    """A `<stem>.meta.json` or `<name>.meta.json` sidecar is returned as meta."""
    path = _write(tmp_path / "plan.txt", POLICY)
    _write(tmp_path / sidecar_name, json.dumps(SIDECAR, ensure_ascii=False))
    assert load_file(path, MAX).meta == SIDECAR
    assert read_sidecar(path) == SIDECAR


def test_no_sidecar_gives_empty_meta(tmp_path: Path) -> None:
    """Without a sidecar a text file has no meta."""
    path = _write(tmp_path / "plan.txt", POLICY)
    assert read_sidecar(path) == {}
    assert load_file(path, MAX).meta == {}


def test_sidecar_overrides_html_title(tmp_path: Path) -> None:
    """Sidecar fields take precedence over the title found in the page."""
    path = _write(tmp_path / "notice.html", _gov_page("utf-8"))
    _write(tmp_path / "notice.meta.json", json.dumps({"title": "正式标题"}, ensure_ascii=False))
    assert load_file(path, MAX).meta["title"] == "正式标题"


def test_sidecar_unknown_key_lists_valid_keys(tmp_path: Path) -> None:
    """A sidecar with an unknown field raises DocumentError naming it and every valid field."""
    path = _write(tmp_path / "plan.txt", POLICY)
    _write(tmp_path / "plan.meta.json", json.dumps({**SIDECAR, "publisher": "省政府"}, ensure_ascii=False))
    with pytest.raises(DocumentError) as info:
        load_file(path, MAX)
    message = str(info.value)
    assert "publisher" in message
    assert all(key in message for key in META_KEYS)


@pytest.mark.parametrize(
    ("content", "reason"),
    [('{"title": "科技创新",}', "不是有效的 JSON"), ("", "不是有效的 JSON"), ('["title"]', "应为 JSON 对象")],
    ids=["trailing-comma", "empty", "array"],
)
def test_invalid_sidecar_is_document_error(tmp_path: Path, content: str, reason: str) -> None:
    """A sidecar that is not a JSON object raises DocumentError naming the sidecar."""
    path = _write(tmp_path / "plan.txt", POLICY)
    _write(tmp_path / "plan.meta.json", content)
    with pytest.raises(DocumentError, match=rf"plan\.meta\.json.*{reason}"):
        load_file(path, MAX)


def test_sidecar_with_utf8_bom_is_read(tmp_path: Path) -> None:
    """A sidecar saved as UTF-8 with BOM is read like one without."""
    path = _write(tmp_path / "plan.txt", POLICY)
    _write(tmp_path / "plan.meta.json", json.dumps(SIDECAR, ensure_ascii=False).encode("utf-8-sig"))
    assert load_file(path, MAX).meta == SIDECAR


def test_content_hash_tracks_file_and_sidecar(tmp_path: Path) -> None:
    """content_hash is stable across reads and rewrites, and changes with the file or its sidecar."""
    path = _write(tmp_path / "plan.txt", POLICY)
    sidecar = tmp_path / "plan.meta.json"
    original = load_file(path, MAX).content_hash
    _write(path, POLICY)
    assert load_file(path, MAX).content_hash == original

    _write(path, POLICY.replace("专项资金", "引导资金"))
    edited = load_file(path, MAX).content_hash
    assert edited != original
    _write(path, POLICY)
    assert load_file(path, MAX).content_hash == original

    _write(sidecar, json.dumps(SIDECAR, ensure_ascii=False))
    with_sidecar = load_file(path, MAX).content_hash
    assert with_sidecar != original
    assert load_file(path, MAX).content_hash == with_sidecar
    _write(sidecar, json.dumps({**SIDECAR, "issue_date": "2023-03-02"}, ensure_ascii=False))
    assert load_file(path, MAX).content_hash not in {original, with_sidecar}
    sidecar.unlink()
    assert load_file(path, MAX).content_hash == original


def test_load_corpus_yields_errors_and_sources(tmp_path: Path) -> None:
    """load_corpus yields each path in order with its SourceText or DocumentError, never raising."""
    good_txt = _write(tmp_path / "a.txt", POLICY.encode("gbk"))
    empty = _write(tmp_path / "b.txt", b"")
    junk_pdf = _write(tmp_path / "c.pdf", random.Random(4).randbytes(1024))
    scanned = _write(tmp_path / "d.pdf", blank_pdf(2))
    good_pdf = _write(tmp_path / "e.pdf", text_pdf([POLICY.splitlines()]))
    bad_meta = _write(tmp_path / "f.md", POLICY)
    _write(tmp_path / "f.meta.json", "{oops")
    big = _write(tmp_path / "g.txt", POLICY * 50)
    paths = discover(tmp_path)
    assert paths == [good_txt, empty, junk_pdf, scanned, good_pdf, bad_meta, big]

    results = list(load_corpus(paths, 4096))
    assert [path for path, _ in results] == paths
    outcome = dict(results)
    assert isinstance(outcome[good_txt], SourceText)
    assert outcome[good_txt].text == POLICY
    assert isinstance(outcome[good_pdf], SourceText)
    assert "加强组织领导" in outcome[good_pdf].text
    for bad in (empty, junk_pdf, scanned, bad_meta, big):
        assert isinstance(outcome[bad], DocumentError)
        assert str(outcome[bad])
