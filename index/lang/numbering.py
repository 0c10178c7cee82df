"""Government numbering styles (一、 /（一）/ 1. /（1）/ 第X条 / 附件) and Chinese numerals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.records import Clause

CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "O": 0, "Ｏ": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
             "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUM = "零〇○一二两三四五六七八九十百千"


def cn_to_int(text: str) -> int | None:
    """Return the value of a Chinese numeral such as 十七 or 一百零二, or of Arabic digits."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in CN_DIGITS and ch not in CN_UNITS for ch in text):
        return None
    total, current = 0, 0
    for ch in text:
        if ch in CN_DIGITS:
            current = CN_DIGITS[ch]
        else:
            unit = CN_UNITS[ch]
            total += (current or 1) * unit
            current = 0
    return total + current


def cn_digits_to_int(text: str) -> int | None:
    """Return a year written digit by digit (二○一二 -> 2012)."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in CN_DIGITS for ch in text):
        return None
    return int("".join(str(CN_DIGITS[ch]) for ch in text))


@dataclass(frozen=True)
class Style:
    """A numbering style: how its marker looks at the start of a paragraph and how it is labelled."""

    name: str
    pattern: re.Pattern[str]
    rank: int  # fixed order for styles that always nest the same way (章 > 节 > 条)


# Each pattern matches at a paragraph start. Guards against body text:
# - 第X条 needs whitespace or 之/、 after it, so "第三条规定" (a cross-reference) is not a heading;
# - 1. must not be followed by a digit, so "11.5.14的要求" and "2.5亿元" are not headings;
# - （1）/（一） must be followed by text, not by more bracketed matter.
STYLES: tuple[Style, ...] = (
    Style("chapter", re.compile(rf"^第([{CN_NUM}\d]+)章(?:[\s　]+|$)"), 0),
    Style("section", re.compile(rf"^第([{CN_NUM}\d]+)节(?:[\s　]+|$)"), 1),
    Style("article", re.compile(rf"^第([{CN_NUM}\d]+)条(?:[\s　]+|$)"), 2),
    Style("cn", re.compile(rf"^([{CN_NUM}]+)[、．.]\s*(?=\S)"), 3),
    Style("paren_cn", re.compile(rf"^[（(]([{CN_NUM}]+)[）)]\s*(?=[^\s）)])"), 4),
    Style("arabic", re.compile(r"^(\d{1,3})(?:[.．](?![\d.．])|、)\s*(?=\S)"), 5),
    Style("paren_arabic", re.compile(r"^[（(](\d{1,3})[）)]\s*(?=[^\s）)])"), 6),
    Style("circled", re.compile(r"^([①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳])\s*(?=\S)"), 7),
)
ANNEX = re.compile(r"^附\s*件\s*([0-9一二三四五六七八九十]*)\s*[：:]?\s*$")
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
FIXED_ORDER = {"chapter", "section", "article"}


@dataclass(frozen=True)
class Marker:
    """A numbering marker found at the start of a paragraph."""

    style: str
    number: int
    token: str  # the marker as written, e.g. "（一）"
    rest: str  # the paragraph after the marker


def match_marker(paragraph: str) -> Marker | None:
    """Return the numbering marker at the start of a paragraph, or None."""
    annex = ANNEX.match(paragraph)
    if annex:
        n = cn_to_int(annex.group(1)) if annex.group(1) else 1
        return Marker("annex", n or 1, paragraph.strip(), "")
    for style in STYLES:
        m = style.pattern.match(paragraph)
        if not m:
            continue
        raw = m.group(1)
        number = CIRCLED.index(raw) + 1 if style.name == "circled" else cn_to_int(raw)
        if number is None or number == 0:
            continue
        return Marker(style.name, number, paragraph[: m.end()].strip(), paragraph[m.end():].strip())
    return None


def canonical_token(style: str, number: int, token: str) -> str:
    """Return the label form of a marker: （一） full-width, 1. with a dot, 第三条 as written."""
    if style in ("chapter", "section", "article"):
        return re.sub(r"[\s　]+", "", token)
    if style == "annex":
        return "附件" + (str(number) if number > 1 or re.search(r"[0-9一二三四五六七八九十]", token) else "")
    inner = re.sub(r"[（()）、，．.\s]", "", token)
    if style == "cn":
        return f"{inner}、"
    if style in ("paren_cn", "paren_arabic"):
        return f"（{inner}）"
    if style == "arabic":
        return f"{inner}."
    return inner


# The label of the n-th paragraph of text outside any numbering.
PARAGRAPH = "第{}段"


def is_prose(clause: Clause) -> bool:
    """Return True for text outside any numbering: a preamble, back matter, a paragraph of an unnumbered notice."""
    return clause.level == 0 or re.fullmatch(PARAGRAPH.format(r"\d+"), clause.label) is not None
