"""Word .docx: paragraphs and tables in document order, table rows with their headers."""

from __future__ import annotations

import io
from typing import Any

from index.readers.base import Extracted
from index.readers.packages import check_package
from index.readers.tables import Cell, Grid, cell_text, read_grid
from index.records import TextTable

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _text(element: Any) -> str:
    return "".join(t.text or "" for t in element.iter(f"{W}t"))


def table_grid(tbl: Any) -> tuple[Grid, int]:
    """Return the grid of a w:tbl element (gridSpan and vMerge resolved) and its rows marked as header rows."""
    grid: Grid = []
    explicit = 0
    above: dict[int, Cell] = {}  # column -> the cell a vMerge="continue" below it repeats
    for tr in tbl.iterchildren(f"{W}tr"):
        if tr.find(f"{W}trPr/{W}tblHeader") is not None and explicit == len(grid):
            explicit += 1
        row: list[Cell | None] = []
        before = tr.find(f"{W}trPr/{W}gridBefore")
        if before is not None:
            row.extend(Cell("") for _ in range(int(before.get(f"{W}val", "0") or 0)))
        for tc in tr.iterchildren(f"{W}tc"):
            span_el, merge_el = tc.find(f"{W}tcPr/{W}gridSpan"), tc.find(f"{W}tcPr/{W}vMerge")
            span = int(span_el.get(f"{W}val", "1") or 1) if span_el is not None else 1
            merge = merge_el.get(f"{W}val", "continue") if merge_el is not None else None
            col = len(row)
            if merge == "continue" and col in above:
                cell = above[col]
            else:
                paragraphs = tc.findall(f"{W}p")
                runs = [r for p in paragraphs for r in p.iter(f"{W}r") if _text(r)]
                bold = bool(runs) and all(r.find(f"{W}rPr/{W}b") is not None for r in runs)
                # A nested table's text stays out of its cell: only the cell's own paragraphs.
                cell = Cell(cell_text([_text(p) for p in paragraphs]), bold=bold)
            if merge is not None:
                above[col] = cell
            else:
                above.pop(col, None)
            row.append(cell)
            row.extend([None] * (max(1, span) - 1))
        grid.append(row)
    return grid, explicit


def read_docx(data: bytes) -> Extracted:
    """Return a .docx's paragraphs and tables in document order, each table row one "header：value；…。" line."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_package(data, ".docx")
    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    tables: list[TextTable] = []
    # Paragraphs and tables in document order, so a table stays inside the clause it belongs to.
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.append(block.text)
        elif isinstance(block, Table):
            grid, explicit = table_grid(block._tbl)
            rows, table = read_grid(grid, explicit or None)
            lines.extend(rows)
            if table is not None:
                tables.append(table)
    return Extracted("\n".join(lines), tables=tuple(tables))
