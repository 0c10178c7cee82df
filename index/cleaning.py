"""Turn extracted text into paragraphs: re-join lines broken by PDF extraction, drop page debris."""

from __future__ import annotations

import math
import re
import unicodedata

from index.lang.numbering import match_marker
from index.lang.text import CJK_CHARS, ZERO_WIDTH

FINAL_PUNCT = "。！？!?；;：:"
CLOSERS = "”’）)》〉】」』"
OPENERS = {"（": "）", "(": ")", "《": "》", "“": "”", "【": "】", "「": "」"}
REFERS = re.compile(r"(依照|按照|根据|依据|参照|适用|违反|见|执行|符合)$")
MIN_WIDTH_LINES = 5
BRACKETED = re.compile(r"[（(][^（()）]{1,30}[）)]")
BODY_PUNCT = re.compile(r"[，、；,;。]")
PAGE_DEBRIS = re.compile(
    r"^(?:[-—－–_~·\s]*\d{1,4}[-—－–_~·\s]*|第\s*\d+\s*页(?:\s*[/，,]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+"
    r"|Page\s*\d+(?:\s*of\s*\d+)?)$",
    re.IGNORECASE,
)
# One table: zero-width characters dropped, no-break space to space, full-width digits and Latin letters to ASCII.
NORMALISE = {
    **ZERO_WIDTH,
    ord("\u00a0"): " ",
    **{cp: cp - 0xFEE0 for first, last in (("０", "９"), ("Ａ", "Ｚ"), ("ａ", "ｚ"))
       for cp in range(ord(first), ord(last) + 1)},
}
# PDF extraction puts spaces around digits and Latin words inside Chinese text ("到 2015 年").
SPACE_NEAR_CJK = re.compile(
    rf"(?<=[{CJK_CHARS}，。、；：“”（）《》])[ \t]+(?=[A-Za-z0-9])"
    rf"|(?<=[A-Za-z0-9%])[ \t]+(?=[{CJK_CHARS}，。、；：”）》])"
)
BRACKET_WIDTH = str.maketrans({"（": "(", "）": ")", "：": ":", "，": ",", "；": ";"})
CLOSERS_WIDTH = CLOSERS.translate(BRACKET_WIDTH)


def normalise_line(line: str) -> str:
    """Return a line with zero-width characters removed, full-width ASCII folded and stray spaces dropped."""
    line = line.translate(NORMALISE)
    # A printable line has no control or format characters: skip the per-character check for nearly every line.
    if not line.replace("\t", "").isprintable():
        line = "".join(ch for ch in line if ch in "\t" or unicodedata.category(ch)[0] != "C")
    return SPACE_NEAR_CJK.sub("", line.strip())


def _unbalanced(text: str) -> bool:
    """Return True when the text opens a bracket or quote that it does not close."""
    depth = 0
    for ch in text:
        if ch in OPENERS:
            depth += 1
        elif ch in OPENERS.values():
            depth = max(0, depth - 1)
    return depth > 0


def _ends_paragraph(line: str) -> bool:
    """Return True when a line ends a sentence (closing quotes and brackets aside) or an agency note."""
    stripped = line.rstrip(CLOSERS)
    if stripped and stripped[-1] in FINAL_PUNCT:
        return True
    # "（省科技厅牵头，……按职责分工负责）" closes a clause without a full stop.
    return line[-1:] in "）)" and re.search(r"(牵头|负责|分工)[）)]$", line) is not None


def _is_heading_only(line: str) -> bool:
    """Return True for a numbered heading that carries no body text ("（一）加强组织领导")."""
    marker = match_marker(line)
    if marker is None:
        return False
    rest = marker.rest.rstrip("。.")
    return len(rest) <= 40 and not BODY_PUNCT.search(rest)


def _overlap(prev: str, line: str) -> int:
    """Return how many leading characters of `line` repeat the end of `prev` at a page break."""
    # Only the last and first 8 characters can overlap; the mapping is one character to one.
    a, b = prev[-8:].translate(BRACKET_WIDTH), line[:9].translate(BRACKET_WIDTH)
    if len(b) <= 8 and a.endswith(b):
        return len(line)
    for n in range(min(8, len(a), len(b)), 1, -1):
        # Only a repeated fragment that ends in a closing mark is debris; a repeated word is prose.
        if a.endswith(b[:n]) and b[n - 1] in CLOSERS_WIDTH:
            return n
    return 0


def clean_lines(raw: str) -> list[str]:
    """Return the non-empty normalised lines of raw text, page numbers and repeated fragments removed."""
    lines: list[str] = []
    tail = ""
    for line in raw.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").split("\n"):
        line = normalise_line(line)
        if not line or PAGE_DEBRIS.match(line):
            continue
        if lines:
            # Compare with the running text, not just the last line, so that cleaning an already cleaned
            # text (where that line is now part of a longer paragraph) decides the same way.
            cut = _overlap(tail, line)
            if (cut and not _ends_paragraph(lines[-1])) or cut == len(line):
                line = line[cut:].lstrip()
                if not line:
                    continue
        lines.append(line)
        tail = (tail + line)[-16:]
    return lines


def _line_width(lines: list[str]) -> float:
    """Return the length of a full line: narrow PDF columns fill most lines to it, paragraph-per-line text
    has paragraphs far longer than any title."""
    lengths = sorted(len(x) for x in lines if len(x) > 10)
    if len(lengths) < MIN_WIDTH_LINES:
        # Too few lines to tell a column from paragraphs: never join by width.
        return float("inf")
    return float(lengths[math.ceil(0.9 * len(lengths)) - 1])


def _continues(prev: str, line: str, width: float) -> bool:
    """Return True when `line` continues the paragraph that `prev` ends."""
    if _ends_paragraph(prev) or _is_heading_only(prev):
        return False
    if BRACKETED.fullmatch(prev) or BRACKETED.fullmatch(line):
        return False
    if _unbalanced(prev) or prev[-1] in "，、,":
        return True
    if match_marker(line) is not None:
        # A numbered line starts a new item, unless the sentence before it is reaching for a
        # cross-reference ("……依照\n第三条 规定执行").
        return REFERS.search(prev) is not None
    # A line without body punctuation that stops short of the column width is a title,
    # signature, or date line, not a sentence broken by the page.
    return BODY_PUNCT.search(prev) is not None or len(prev) >= 0.9 * width


def clean_text(raw: str) -> str:
    """Return the document as paragraphs separated by newlines."""
    lines = clean_lines(raw)
    if not lines:
        return ""
    width = _line_width(lines)
    paragraphs = [lines[0]]
    for line in lines[1:]:
        if _continues(paragraphs[-1], line, width):
            paragraphs[-1] += line
        else:
            paragraphs.append(line)
    return "\n".join(paragraphs)
