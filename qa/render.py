"""Render answers and clauses for the chat UI; every piece of document or user text is escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from itertools import islice

from qa.models import Answer, Citation, Clause, PolicyDoc

CITATION_MARK = re.compile(r"(【\d+】)")
TABLE_ROW = re.compile(r"\|.*\|")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")
# The page lists this many documents and the total; the whole list is a paged API call, not page weight.
MAX_PAGE_DOCS = 50


def escape(text: str) -> str:
    """Return text that renders literally in Markdown with HTML: no tags, links or emphasis."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False)).replace("\n", "  \n")


def answer_markdown(answer: Answer) -> str:
    """Return the answer text as Markdown, escaped, with its citation marks 【n】 in bold and tables kept."""
    lines = []
    for line in answer.text.split("\n"):
        if TABLE_ROW.fullmatch(line):
            # A comparison table: escape each cell's text but keep the pipes that make the table.
            cells = [escape(c.strip()) if not re.fullmatch(r"-+", c.strip()) else "---" for c in line[1:-1].split("|")]
            lines.append("| " + " | ".join(cells) + " |")
        else:
            lines.append(escape(line))
    # <strong>, not **: CommonMark will not close ** between "】" and a following character.
    return CITATION_MARK.sub(r"<strong>\1</strong>", "  \n".join(lines).replace("  \n| ", "\n| "))


def citation_choices(answer: Answer) -> list[tuple[str, str]]:
    """Return (chip label, value) pairs for the citations of an answer."""
    return [(f"【{i}】{c.clause}{'“' + c.title + '”' if c.title else ''}", str(i - 1))
            for i, c in enumerate(answer.citations, 1)]


def _highlight(text: str, quote: str) -> str:
    """Return escaped clause text with the quoted sentences marked."""
    marked = html.escape(text)
    for part in (p for p in quote.split("……") if p.strip()):
        escaped = html.escape(part)
        marked = marked.replace(escaped, f"<mark>{escaped}</mark>", 1)
    return marked.replace("\n", "<br>")


def clause_panel_html(citation: Citation, clause: Clause, doc: PolicyDoc) -> str:
    """Return the side panel for a cited clause: document facts, clause path and text, quote highlighted."""
    e = html.escape
    facts = [
        ("文件", f"《{doc.title}》"),
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
    return (f'<div class="clause-panel"><table class="clause-facts">{rows}</table>'
            f'<div class="clause-text">{_highlight(clause.text, citation.quote)}</div></div>')


def documents_html(docs: Collection[PolicyDoc], limit: int = MAX_PAGE_DOCS) -> str:
    """Return the list of documents the knowledge base covers: the first `limit`, then the total."""
    e = html.escape
    def facts(d: PolicyDoc) -> str:
        return "，".join(x for x in (d.region, d.issuer, d.doc_number, d.date_or_period) if x)

    items = "".join(f"<li><b>《{e(d.title)}》</b><br><small>{e(facts(d))}</small></li>"
                    for d in islice(docs, limit))
    more = f'<p class="hint">……等共 {len(docs)} 个文件（完整列表见 /api/documents）</p>' if len(docs) > limit else ""
    return f'<ul class="doc-list">{items}</ul>{more}'
