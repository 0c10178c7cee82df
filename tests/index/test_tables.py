"""Tables in .docx, HTML and text-layer PDFs: each row one line with its headers, merged cells resolved, the row
retrievable and quoted with its clause, and drawn as a table again in the clause viewer."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from docx.oxml import OxmlElement
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

from index.build import build_index
from index.cleaning import clean_text
from index.loading import load_file
from index.records import TextTable
from qa.assistant import Assistant
from qa.render.markdown import clause_panel_html
from qa.render.plain import plain_text
from qa.service.loader import open_assistant
from qa.settings import Settings
from tests.pdfs import CJK_FONT

MAX = 10_000_000
ROW = "播出平台：省级卫视；奖励标准：每分钟1500元；单部上限：150万元。"
CCTV_SECOND = "播出平台：中央电视台；奖励标准：每分钟5000元；单部上限：500万元。"
HEADER = ["播出平台", "奖励标准", "单部上限"]
ROWS = [["省级卫视", "每分钟1500元", "150万元"], ["中央电视台", "每分钟3000元", "300万元"],
        ["", "每分钟5000元", "500万元"]]
BEFORE = "第一条 为繁荣影视创作，对在各级平台首播的优秀电视剧给予奖励，奖励标准如下："
AFTER = "第二条 本办法自2024年1月1日起施行，由省广播电视局负责解释。"


def _policy_docx(path: Path) -> Path:
    """Save a .docx: an article, a rated table (header row repeated, 中央电视台 merged down two rows, a note row
    merged across), and the next article."""
    document = docx.Document()
    document.add_paragraph("广东省影视精品扶持办法")
    document.add_paragraph(BEFORE)
    table = document.add_table(rows=5, cols=3)
    for r, row in enumerate([HEADER, *ROWS]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(2, 0).merge(table.cell(3, 0))
    note = table.cell(4, 0).merge(table.cell(4, 2))
    note.text = "同一作品在多个平台播出的，按最高标准奖励一次"
    table.rows[0]._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
    document.add_paragraph(AFTER)
    document.save(str(path))
    return path


def test_docx_rows_keep_headers_and_merged_cells(tmp_path: Path) -> None:
    """Every row names its columns; a cell merged down repeats in each row; cells never run together."""
    source = load_file(_policy_docx(tmp_path / "plan.docx"), MAX)
    lines = source.text.split("\n")
    assert ROW in lines and CCTV_SECOND in lines
    assert "播出平台：中央电视台；奖励标准：每分钟3000元；单部上限：300万元。" in lines
    assert lines.index(BEFORE) < lines.index(ROW) < lines.index(AFTER)
    assert "同一作品在多个平台播出的，按最高标准奖励一次。" in lines  # a row merged across: its text, once
    assert "每分钟1500元150万元" not in source.text and "\t" not in source.text
    table = source.tables[0]
    assert table.columns == tuple(HEADER) and table.rows[2] == ("中央电视台", "每分钟5000元", "500万元")
    assert ROW in clean_text(source.text).split("\n")  # cleaning keeps each row a paragraph of its own


PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>关于印发影视精品扶持办法的通知</title></head>
<body><nav><a href="/">网站首页</a> <a href="/zwgk">政务公开</a></nav><article><h1>广东省影视精品扶持办法</h1>
<p>第一条 为繁荣影视创作，对在各级平台首播的优秀电视剧给予奖励。各级各类播出平台的奖励标准按下表执行，
超出上限的部分不再奖励。</p>
<table border="1"><tr><td rowspan="2"><b>播出平台</b></td><td colspan="2"><b>奖励</b></td></tr>
<tr><td><b>标准</b></td><td><b>上限</b></td></tr>
<tr><td rowspan="2">省级卫视</td><td>每分钟1500元</td><td>150万元</td></tr>
<tr><td>每分钟1000元（重播）</td><td>100万元</td></tr></table>
<p>第二条 本办法自2024年1月1日起施行，由省广播电视局负责解释，有效期五年，期满前评估后决定是否延续。</p>
</article><footer>版权所有：广东省人民政府办公厅</footer></body></html>"""


def test_html_table_rows_keep_group_headers_in_place(tmp_path: Path) -> None:
    """A page's table: rowspan repeats, a colspan group header prefixes its columns, rows stay between the
    paragraphs around the table."""
    (tmp_path / "page.html").write_text(PAGE, encoding="utf-8")
    source = load_file(tmp_path / "page.html", MAX)
    lines = source.text.split("\n")
    first = "播出平台：省级卫视；奖励/标准：每分钟1500元；奖励/上限：150万元。"
    second = "播出平台：省级卫视；奖励/标准：每分钟1000元（重播）；奖励/上限：100万元。"
    assert first in lines and second in lines, source.text
    assert source.text.index("第一条") < source.text.index(first) < source.text.index("第二条")
    assert "|" not in source.text
    assert source.tables == (TextTable(("播出平台", "奖励/标准", "奖励/上限"),
                                       (("省级卫视", "每分钟1500元", "150万元"),
                                        ("省级卫视", "每分钟1000元（重播）", "100万元")), (first, second)),)


def _ruled_pdf() -> bytes:
    """Return a text-layer PDF with a ruled table whose first column merges two rows (reportlab, STSong-Light)."""
    style = ParagraphStyle("cn", fontName=CJK_FONT, fontSize=11, leading=16)
    grid = Table([HEADER, *ROWS], style=TableStyle([("FONT", (0, 0), (-1, -1), CJK_FONT, 11),
                                                    ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                                                    ("SPAN", (0, 2), (0, 3))]))
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4).build([Paragraph(BEFORE, style), grid, Paragraph(AFTER, style)])
    return buf.getvalue()


def test_pdf_ruled_table_rows_keep_headers(tmp_path: Path) -> None:
    """A ruled table in a text-layer PDF comes out as header rows at its place on the page."""
    (tmp_path / "plan.pdf").write_bytes(_ruled_pdf())
    source = load_file(tmp_path / "plan.pdf", MAX)
    assert ROW in source.text.split("\n") and CCTV_SECOND in source.text.split("\n"), source.text
    assert source.text.index("第一条") < source.text.index(ROW) < source.text.index("第二条")
    assert source.tables and source.tables[0].columns == tuple(HEADER)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """Return an assistant (lexical retrieval) over a corpus of the .docx policy with its table."""
    folder = tmp_path_factory.mktemp("tables")
    (folder / "corpus").mkdir()
    _policy_docx(folder / "corpus" / "guangdong-film.docx")
    settings = Settings(corpus_dir=folder / "corpus", index_dir=folder / "index", embedding_backend="none")
    build_index(settings.build_config, None, progress=False)
    return open_assistant(settings, build_if_missing=False)


def test_row_is_retrieved_and_quoted_with_its_clause(assistant: Assistant) -> None:
    """A question about one platform's rate is answered by quoting that row, cited with its clause label."""
    answer = assistant.ask("省级卫视播出的电视剧每分钟奖励多少？单部上限是多少？")
    assert answer.answerable, plain_text(answer)
    cited = answer.citations[0]
    assert cited.clause == "第一条" and "省级卫视；奖励标准：每分钟1500元；单部上限：150万元" in cited.quote
    assert "依据《广东省影视精品扶持办法》第一条" in plain_text(answer)


def test_clause_viewer_draws_the_table(assistant: Assistant) -> None:
    """The clause panel shows the clause's rows as an HTML table with its header, the quoted row marked."""
    kb = assistant.kb
    clause = next(c for c in kb.clauses_of("guangdong-film") if c.label == "第一条")
    html = clause_panel_html(clause, kb.docs["guangdong-film"], quote=ROW.rstrip("。"))
    assert "<th>播出平台</th><th>奖励标准</th><th>单部上限</th>" in html
    assert '<tr class="quoted"><td>省级卫视</td><td>每分钟1500元</td><td>150万元</td></tr>' in html
    assert "<td>中央电视台</td><td>每分钟5000元</td>" in html
    assert "播出平台：省级卫视" not in html  # the row is drawn as cells, not repeated as its text line
    assert BEFORE.split(" ")[1][:8] in html
