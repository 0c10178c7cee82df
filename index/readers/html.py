"""Saved government web pages: the article (tables as header rows, kept in place) and the page's own address."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from index.errors import DocumentError
from index.readers.base import Extracted, FileHints
from index.readers.tables import Cell, Grid, cell_text, read_grid
from index.readers.text import decode_text
from index.records import TextTable

# A browser's "Mark of the Web" (<!-- saved from url=(0055)https://... -->) and SingleFile's header comment.
SAVED_FROM = re.compile(r"<!--\s*saved from url=\(\d+\)\s*(\S+?)\s*-->", re.IGNORECASE)
SINGLEFILE = re.compile(r"Page saved with SingleFile\s+url:\s*(\S+)", re.IGNORECASE)
MAX_SPAN = 50


def decode_html(data: bytes) -> str:
    """Return HTML text decoded by its declared charset, falling back to detection."""
    head = data[:2048].decode("ascii", errors="ignore")
    declared = re.search(r"charset=[\"']?([A-Za-z0-9_-]+)", head)
    if declared:
        name = declared.group(1).lower()
        # Government sites often declare gb2312 but use characters only GB18030 covers.
        if name in ("gb2312", "gbk", "gb18030"):
            name = "gb18030"
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data)


def _absolute(url: str | None) -> str | None:
    """Return an http(s) URL with a host, or None."""
    url = (url or "").strip()
    if url.startswith("//"):
        url = "https:" + url
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _span(value: str | None) -> int:
    return max(1, min(MAX_SPAN, int(value))) if value and value.strip().isdigit() else 1


def source_url(html: str, root: Any | None) -> str | None:
    """Return the page's original address: canonical link, og:url, the CMS's meta Url, a saved-from comment, <base>.

    The canonical link comes first: it is the page's own claim, while og:url is sometimes the site root on every
    page of a CMS template. Government pages often have neither, hence the meta Url and the browser's comment."""
    def first(xpath: str) -> str | None:
        found = root.xpath(xpath) if root is not None else []
        return str(found[0]) if found else None

    candidates: list[str | None] = []
    base = None
    if root is not None:
        canonical = first('//link[translate(@rel,"CANONICAL","canonical")="canonical"]/@href')
        og = first('//meta[@property="og:url"]/@content')
        meta_url = first('//meta[translate(@name,"URL","url")="url"]/@content')
        base = first("//base/@href")
        if canonical and not _absolute(canonical):
            host = _absolute(og) or _absolute(meta_url) or _absolute(base)
            canonical = urljoin(host, canonical) if host else None
        candidates += [canonical, og, meta_url]
    for pattern in (SAVED_FROM, SINGLEFILE):
        m = pattern.search(html[:4096])
        candidates.append(m.group(1) if m else None)
    candidates.append(base)  # last: a <base> says where relative links point, not where the page lives
    return next((url for url in map(_absolute, candidates) if url), None)


def _fill(row: list[Cell | None], pending: dict[int, tuple[Cell, int]]) -> None:
    """Append to the row the cells that rowspans from above carry into its next columns."""
    while len(row) in pending:
        cell, left = pending.pop(len(row))
        if left > 1:
            pending[len(row)] = (cell, left - 1)
        row.append(cell)


def table_grid(table: Any) -> tuple[Grid, int]:
    """Return the grid of an lxml <table> (colspan and rowspan resolved) and its explicit header rows."""
    rows = [tr for tr in table.iter("tr") if tr.getparent() is table or tr.getparent().getparent() is table]
    grid: Grid = []
    pending: dict[int, tuple[Cell, int]] = {}  # column -> (cell a rowspan repeats, rows still to cover)
    explicit = 0
    for tr in rows:
        row: list[Cell | None] = []
        cells = [c for c in tr if c.tag in ("td", "th")]
        for c in cells:
            _fill(row, pending)
            text = cell_text([" ".join(c.itertext())])
            strong = "".join(c.xpath(".//b//text()|.//strong//text()"))
            cell = Cell(text, bold=bool(text) and len(strong) >= len(text), is_header=c.tag == "th")
            down = _span(c.get("rowspan"))
            if down > 1:
                pending[len(row)] = (cell, down - 1)
            row.append(cell)
            row.extend([None] * (_span(c.get("colspan")) - 1))
        _fill(row, pending)
        if explicit == len(grid) and (tr.getparent().tag == "thead" or (cells and all(c.tag == "th" for c in cells))):
            explicit += 1
        grid.append(row)
    return grid, explicit


def flatten_tables(root: Any) -> list[TextTable]:
    """Replace every data <table> in the tree by one <p> per row and return the tables' structure.

    trafilatura turns tables into markdown pipes with empty cells for merges, losing the headers; paragraphs in
    the table's place come through as text. Innermost tables first: a layout table holding tables is left be."""
    import lxml.html

    tables: list[TextTable] = []
    for table in reversed(root.xpath("//table")):
        if table.xpath(".//table"):
            continue
        grid, explicit = table_grid(table)
        lines, found = read_grid(grid, explicit or None)
        if found is not None:
            tables.append(found)
        div = lxml.html.Element("div")
        for line in lines:
            p = lxml.html.Element("p")
            p.text = line
            div.append(p)
        div.tail = table.tail
        parent = table.getparent()
        if parent is not None:
            parent.replace(table, div)
    tables.reverse()
    return tables


def read_html(data: bytes) -> Extracted:
    """Return the article of a saved page, its tables, and its title and address as hints."""
    import lxml.etree
    import lxml.html
    import trafilatura

    html = decode_html(data)
    try:
        root = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        root = None
    url = source_url(html, root)
    tables: list[TextTable] = []
    if root is not None and root.xpath("//table"):
        tables = flatten_tables(root)
        html = lxml.html.tostring(root, encoding="unicode")
    text = trafilatura.extract(html, include_tables=True, include_comments=False, favor_precision=True)
    if not text:
        raise DocumentError("网页中没有找到正文内容")
    meta = trafilatura.extract_metadata(html)
    hints = FileHints(title=(meta.title or "") if meta is not None else "", url=url or "")
    # trafilatura may drop some rows (a row it takes for navigation): keep only the tables whose rows survived.
    kept = tuple(t for t in tables if any(line in text for line in t.lines))
    return Extracted(text, hints, kept)
