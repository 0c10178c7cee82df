"""Tables as text: each data row becomes one line whose cells keep their column headers
("播出平台：省级卫视；奖励标准：每分钟1500元；单部上限：150万元。"), merged cells resolved on a grid."""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.records import TextTable

FIGURE = re.compile(r"\d")
MAX_HEADER_CELL = 20


@dataclass
class Cell:
    """One cell of a table being read; the same object fills every grid slot a vertical merge covers."""

    text: str
    bold: bool = False
    is_header: bool = False  # explicit: <th>, or a row marked "repeat as header row" in Word


# Rows x columns; None where a horizontal merge covers the slot (the cell counts once, in its first column).
Grid = list[list[Cell | None]]


def cell_text(paragraphs: list[str]) -> str:
    """Return a cell's paragraphs as one string, joined with "；" unless a paragraph already ends a sentence."""
    out = ""
    for text in (re.sub(r"\s+", " ", p).strip() for p in paragraphs):
        if not text:
            continue
        if out and out[-1] not in "。；;，,：:":
            out += "；"
        out += text
    # The row supplies its own "；" and "。"; a cell's own full stop would end the row early.
    return out.rstrip("。；;")


def _looks_like_header(row: list[Cell | None], rest: Grid) -> bool:
    """Return True when a row names columns: marked as header, all bold, or short labels above figures."""
    cells = [c for c in row if c is not None]
    if not cells or any(not c.text for c in cells):
        return False
    if all(c.is_header for c in cells) or all(c.bold for c in cells):
        return True
    labels = all(len(c.text) <= MAX_HEADER_CELL and not FIGURE.search(c.text) for c in cells)
    return labels and any(c is not None and FIGURE.search(c.text) for r in rest for c in r)


def _header_rows(grid: Grid) -> int:
    """Return how many leading rows are headers (two only when the first groups columns, e.g. 奖励 over 标准/上限)."""
    count = 0
    while count < min(2, len(grid) - 1) and _looks_like_header(grid[count], grid[count + 1:]):
        count += 1
        if None not in grid[0]:
            break
    return count


def _column_names(grid: Grid, header_rows: int, ncols: int) -> list[str]:
    names = []
    for col in range(ncols):
        parts: list[str] = []
        for row in grid[:header_rows]:
            # A header merged across columns covers this one: its text is in the merge's first column.
            j = col
            while j > 0 and row[j] is None:
                j -= 1
            cell = row[j]
            if cell is not None and cell.text and (not parts or parts[-1] != cell.text):
                parts.append(cell.text)
        names.append("/".join(parts))
    return names


def read_grid(grid: Grid, header_rows: int | None = None) -> tuple[list[str], TextTable | None]:
    """Return the lines a table becomes and, for a data table, its structure; `header_rows` None means detect.

    Each row line ends with "。": without it cleaning would join the rows, "；" being body punctuation.
    A table of one row or one column is layout (text in boxes), so its cells come out as plain paragraphs."""
    grid = [r for r in grid if any(c is not None and c.text for c in r)]
    if not grid:
        return [], None
    ncols = max(len(r) for r in grid)
    grid = [r + [Cell("")] * (ncols - len(r)) for r in grid]
    if ncols == 1 or len(grid) == 1:
        seen: set[int] = set()
        plain = []
        for c in (c for r in grid for c in r):
            if c is not None and c.text and id(c) not in seen:
                seen.add(id(c))
                plain.append(c.text)
        return plain, None
    header = _header_rows(grid) if header_rows is None else min(header_rows, len(grid) - 1)
    names = _column_names(grid, header, ncols) if header else [""] * ncols
    lines: list[str] = []
    rows: list[tuple[str, ...]] = []
    for row in grid[header:]:
        if row[0] is not None and row[0].text and all(c is None for c in row[1:]):
            # A cell across the whole table is a note or a sub-heading, not a value of the first column.
            lines.append(row[0].text + "。")
            rows.append((row[0].text, *[""] * (ncols - 1)))
            continue
        pairs: list[str] = []
        seen = set()
        for col, c in enumerate(row):
            if c is None or not c.text or id(c) in seen:
                continue
            seen.add(id(c))
            name = names[col]
            pairs.append(f"{name}：{c.text}" if name and name != c.text else c.text)
        if pairs:
            lines.append("；".join(pairs) + "。")
            rows.append(tuple(c.text if c is not None else "" for c in row))
    columns = tuple(names) if header else ()
    return lines, TextTable(columns=columns, rows=tuple(rows), lines=tuple(lines))
