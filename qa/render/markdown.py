"""The chat page's rendering: answers as Markdown, the clause panel and document list as HTML; every piece of
document or user text is escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from itertools import islice
from urllib.parse import urlsplit

from index.lang.script import to_traditional
from index.records import Clause, PolicyDoc, TextTable
from qa.records import Answer, Citation, Heading, Item, Notice, Paragraph, Part, Quote, Sources, Table
from qa.render.script import in_users_script

MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")
# The page lists this many documents and the total; the whole list is a paged API call, not page weight.
MAX_PAGE_DOCS = 50


def escape(text: str) -> str:
    """Return text that renders literally in Markdown with HTML: no tags, links or emphasis."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)).replace("\n", "  \n")


def cite_link(turn: int, n: int) -> str:
    """Return the target of citation mark n of the answer at a turn of the chat: the page opens that clause."""
    return f"#cite-{turn}-{n}"


def _original_link(url: str) -> str:
    """Return a 查看原文 link to where the government published a document ("" unless an http(s) address)."""
    if urlsplit(url).scheme not in ("http", "https"):
        return ""
    return f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">查看原文</a>'


def _original(citation: Citation) -> str:
    """Return the 查看原文 link of a citation, after a space, if its document's address is known."""
    link = _original_link(citation.url)
    return f" {link}" if link else ""


def ask_link(text: str) -> str:
    """Return an escaped suggested question as a link the page sends as the next question when clicked."""
    return f'<a class="ask" href="#ask">{text}</a>'


def answer_markdown(answer: Answer, turn: int | None = None) -> str:
    """Return the answer as Markdown: escaped text, citation marks in bold (links to the clause when the answer's
    turn in the chat is given), suggested questions as links that ask them (in the chat), lists and tables."""
    suggested = [escape(to_traditional(q) if answer.traditional else q) for q in answer.suggestions]
    answer, sources = in_users_script(answer)

    def _asks(text: str) -> str:
        # Where the answer shows a suggested question (a refusal's "您可以试试这样问", a question back's examples),
        # the question itself becomes the link; the answer's wording is not changed.
        if turn is None:
            return text
        for question in suggested:
            text = text.replace(question, ask_link(question), 1)
        return text

    def _marks(cites: tuple[int, ...]) -> str:
        # <strong>, not **: CommonMark will not close ** between "】" and a following character.
        if turn is None:
            return "".join(f"<strong>【{n}】</strong>" for n in cites)
        return "".join(f'<a class="cite" href="{cite_link(turn, n)}"><strong>【{n}】</strong></a>' for n in cites)

    def one(part: Part) -> str:
        if isinstance(part, Paragraph):
            return _asks(escape(part.text)) + _marks(part.cites)
        if isinstance(part, Quote):
            citation = answer.citations[part.cite - 1]
            source = escape(sources[part.cite - 1]) + _original(citation)
            return f"{escape(part.lead + part.text)}  \n{_marks((part.cite,))}{source}"
        if isinstance(part, Heading):
            return f"<strong>{escape(part.text)}</strong>"
        if isinstance(part, Item):
            return f"- {_asks(escape(part.text))}{_marks(part.cites)}"
        if isinstance(part, Table):
            head = "| " + " | ".join(escape(c) for c in part.columns) + " |\n|" + "---|" * len(part.columns)
            rows = ["| " + " | ".join("；".join(escape(e.text) + _marks(e.cites) for e in cell) or "—" for cell in row)
                    + " |" for row in part.rows]
            return "\n".join([head, *rows])
        if isinstance(part, Sources):
            return "  \n".join(f"{_marks((i,))}{escape(s)}{_original(c)}"
                                for i, (s, c) in enumerate(zip(sources, answer.citations, strict=True), 1))
        assert isinstance(part, Notice)
        return f"<em>{escape(part.text)}</em>"

    blocks: list[str] = []
    previous: type | None = None
    for part in answer.parts:
        text = one(part)
        # Consecutive list items stay one list; consecutive notices or sentences one paragraph.
        if blocks and previous is type(part) and isinstance(part, (Paragraph, Notice)):
            blocks[-1] += "  \n" + text
        elif blocks and isinstance(part, Item) and previous in (Item, Heading):
            blocks[-1] += "\n" + text
        else:
            blocks.append(text)
        previous = type(part)
    return "\n\n".join(blocks)


def citation_choices(answer: Answer, turn: int | None = None) -> list[tuple[str, str]]:
    """Return (chip label, value) pairs for the citations of an answer; values are "turn:index" when the
    answer's turn in the chat is given, else the index."""
    prefix = f"{turn}:" if turn is not None else ""
    return [(f"【{i}】{c.clause}{'“' + c.title + '”' if c.title else ''}", f"{prefix}{i - 1}")
            for i, c in enumerate(answer.citations, 1)]


def lead_citation(answer: Answer) -> int:
    """Return the index of the citation that is the best evidence: the cited clause retrieval ranked highest,
    else the first (a checklist or comparison puts its most specific entry first)."""
    rank = {s.clause.clause_id: i for i, s in enumerate(answer.retrieved)}
    ranked = [(rank[c.clause_id], i) for i, c in enumerate(answer.citations) if c.clause_id in rank]
    return min(ranked)[1] if ranked else 0


def _highlight(text: str, quote: str) -> str:
    """Return escaped clause text with the quoted sentences marked."""
    marked = html.escape(text)
    for part in (p for p in quote.split("……") if p.strip()):
        escaped = html.escape(part)
        marked = marked.replace(escaped, f"<mark>{escaped}</mark>", 1)
    return marked.replace("\n", "<br>")


def _table_html(table: TextTable, lines: list[str], quote: str) -> str:
    """Return the rows of a table that the clause holds as an HTML table, quoted rows marked."""
    e = html.escape
    index = {line: i for i, line in enumerate(table.lines)}
    head = "".join(f"<th>{e(c)}</th>" for c in table.columns)
    body = []
    for line in lines:
        cells = "".join(f"<td>{e(c)}</td>" for c in table.rows[index[line]])
        quoted = line.rstrip("。") in quote
        body.append(f'<tr class="quoted">{cells}</tr>' if quoted else f"<tr>{cells}</tr>")
    head_html = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f'<table class="clause-table">{head_html}<tbody>{"".join(body)}</tbody></table>'


def _clause_body(clause: Clause, quote: str) -> str:
    """Return the clause text as HTML: paragraphs with the quote marked, table rows drawn as their table."""
    owner = {line: table for table in clause.tables for line in table.lines}
    blocks: list[str] = []
    prose: list[str] = []
    lines = clause.text.split("\n")
    i = 0
    while i < len(lines):
        table = owner.get(lines[i])
        if table is None:
            prose.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and owner.get(lines[j]) is table:
            j += 1
        if prose:
            blocks.append(_highlight("\n".join(prose), quote))
            prose = []
        blocks.append(_table_html(table, lines[i:j], quote))
        i = j
    if prose:
        blocks.append(_highlight("\n".join(prose), quote))
    return "".join(blocks)


def _links(doc: PolicyDoc, file_url: str) -> str:
    """Return the 查看原文 link (the government's page) and the download of the indexed file."""
    links = [link] if (link := _original_link(doc.url or "")) else []
    if file_url:
        links.append(f'<a href="{html.escape(file_url)}" download>下载原文件</a>')
    return " · ".join(links)


def clause_panel_html(clause: Clause, doc: PolicyDoc, quote: str = "", file_url: str = "") -> str:
    """Return the side panel for a cited clause: document facts, clause path and text, quote highlighted, tables
    as tables, links to the original; `file_url` is where the indexed file can be downloaded, if it can."""
    e = html.escape
    facts = [
        ("文件", f"《{doc.title}》"),
        ("所属文件", doc.part_name),
        ("文号", doc.doc_number or ""),
        ("发文单位", doc.issuer or ""),
        ("地区", doc.region or ""),
        ("日期/期限", doc.date_or_period),
        ("条款", clause.label),
        ("位置", " › ".join(clause.path)),
        ("牵头单位", "、".join(clause.lead_agencies)),
        ("配合单位", "、".join(clause.partner_agencies)),
    ]
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts if v)
    links = _links(doc, file_url)
    if links:
        rows += f"<tr><th>原文</th><td>{links}</td></tr>"
    scan = ""
    if doc.ocr_pages:
        pages = "、".join(map(str, doc.ocr_pages))
        scan = (f'<p class="hint scan-note">本文件第 {e(pages)} 页的文字由扫描件识别（OCR）得到，'
                "可能有个别错字，请以原文为准。</p>")
    return (f'<div class="clause-panel"><table class="clause-facts">{rows}</table>{scan}'
            f'<div class="clause-text">{_clause_body(clause, quote)}</div></div>')


def documents_html(docs: Collection[PolicyDoc], limit: int = MAX_PAGE_DOCS) -> str:
    """Return the list of documents the knowledge base covers: the first `limit`, then the total."""
    e = html.escape
    def facts(d: PolicyDoc) -> str:
        return "，".join(x for x in (d.region, d.issuer, d.doc_number, d.date_or_period) if x)

    items = "".join(f"<li><b>《{e(d.title)}》</b><br><small>{e(facts(d))}</small></li>"
                    for d in islice(docs, limit))
    more = f'<p class="hint">……等共 {len(docs)} 个文件（完整列表见 /api/documents）</p>' if len(docs) > limit else ""
    return f'<ul class="doc-list">{items}</ul>{more}'
