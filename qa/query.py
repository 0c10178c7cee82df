"""Question normalisation and what a question is about (regions, quantity)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from index.regions import Region, gazetteer

MAX_QUESTION_CHARS = 500
QUANTITY = re.compile(r"多少|几[家个项所条年类种]|数量|规模|目标|金额|比例|比重")
ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


@dataclass(frozen=True)
class Query:
    """A normalised question with the regions it names."""

    text: str
    regions: tuple[Region, ...]
    wants_quantity: bool
    truncated: bool = False


def normalise(question: str) -> tuple[str, bool]:
    """Return the question with full-width ASCII folded, control and zero-width characters removed,
    whitespace collapsed, and length capped; plus whether it was truncated."""
    text = question.translate(ZERO_WIDTH)
    text = "".join(
        unicodedata.normalize("NFKC", ch) if "\uff01" <= ch <= "\uff5e" and ch not in "（），：；？！" else ch
        for ch in text
    )
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    truncated = len(text) > MAX_QUESTION_CHARS
    return text[:MAX_QUESTION_CHARS], truncated


def parse_query(question: str) -> Query:
    """Return the normalised query and what it asks about."""
    text, truncated = normalise(question)
    return Query(text, tuple(gazetteer().find(text)), QUANTITY.search(text) is not None, truncated)
