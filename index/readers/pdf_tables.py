"""Ruled tables of text-layer PDF pages through pdfplumber: the page's lines with each table's rows in its place."""

from __future__ import annotations

import io
from typing import Any

from index.readers.tables import Cell, Grid, cell_text, read_grid
from index.records import TextTable

SNAP = 2.0  # points: cell edges closer than this are one grid line


def _edges(values: list[float]) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > SNAP:
            out.append(v)
    return out


def table_grid(page: Any, table: Any) -> Grid:
    """Return a table's grid from its cell rectangles, so both kinds of merge are known exactly
    (pdfplumber's extract() gives None for merged slots and cannot tell which way they merge)."""
    xs = _edges([c[0] for c in table.cells] + [c[2] for c in table.cells])
    ys = _edges([c[1] for c in table.cells] + [c[3] for c in table.cells])

    def nearest(edges: list[float], v: float) -> int:
        return min(range(len(edges)), key=lambda k: abs(edges[k] - v))

    grid: Grid = [[None] * (len(xs) - 1) for _ in range(len(ys) - 1)]
    for x0, top, x1, bottom in table.cells:
        text = page.within_bbox((x0, top, x1, bottom)).extract_text() or ""
        cell = Cell(cell_text([text.replace("\n", "")]))
        c0, r0, r1 = nearest(xs, x0), nearest(ys, top), nearest(ys, bottom)
        for r in range(r0, max(r1, r0 + 1)):
            grid[r][c0] = cell  # down a vertical merge the same cell repeats in each row
    return grid


def pages_with_tables(data: bytes, pages: list[int]) -> dict[int, tuple[str, list[TextTable]]]:
    """Return, for those of the given pages (0-based) that hold a ruled table, the page's text with the tables as
    header rows at their place, and the tables. Only ruled tables are found; aligned text stays text."""
    import pdfplumber

    found: dict[int, tuple[str, list[TextTable]]] = {}
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for index in pages:
            page = pdf.pages[index]
            tables = page.find_tables()
            if not tables:
                continue
            items: list[tuple[float, list[str]]] = []
            kept: list[TextTable] = []
            outside = page
            for t in tables:
                lines, table = read_grid(table_grid(page, t))
                items.append((t.bbox[1], lines))
                kept += [table] if table is not None else []
                outside = outside.outside_bbox(t.bbox)
            items += [(line["top"], [line["text"]]) for line in outside.extract_text_lines()]
            items.sort(key=lambda item: item[0])
            found[index] = ("\n".join(line for _, lines in items for line in lines), kept)
    return found
