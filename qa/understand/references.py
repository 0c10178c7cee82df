"""A question that points at a numbered part ("第二条具体说说", "深圳措施第十四条", "第三部分"): the item of the
previous answer it names, or the clause with that number in the documents asked about."""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.lang.numbering import cn_to_int

ORDINAL = re.compile(r"第\s*([一二三四五六七八九十百零〇两\d]{1,6})\s*(条|项|点|个|部分|章|节|款|段)")
# "第二条/第2点" right after an answer means its second item; "第三部分/第三章" a part of a document.
PARTS = frozenset({"部分", "章", "节"})


@dataclass(frozen=True)
class Reference:
    """A numbered part a question points at."""

    number: int
    kind: str  # 条, 项, 点, 个, 部分, 章, 节, 款, 段

    @property
    def is_part(self) -> bool:
        """Return True for a part of a document (三、) rather than an item (（三）, 3.)."""
        return self.kind in PARTS


def reference(question: str) -> Reference | None:
    """Return the numbered part a question points at, or None."""
    m = ORDINAL.search(question)
    if m is None:
        return None
    number = cn_to_int(m.group(1))
    return Reference(number, m.group(2)) if number else None


def label_forms(ref: Reference) -> tuple[str, ...]:
    """Return the endings of clause labels with this number: 三、 for a part; （十四）, 14. and 第十四条 for an item."""
    cn = _chinese(ref.number)
    if ref.is_part:
        return (f"{cn}、",)
    return (f"（{cn}）", f"({cn})", f"{ref.number}.", f"第{cn}条")


def _chinese(n: int) -> str:
    """Return a number below 1000 in Chinese numerals as clause labels write it (14 -> 十四)."""
    digits = "零一二三四五六七八九"
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = f"{digits[hundreds]}百" if hundreds else ""
    if tens:
        out += ("" if tens == 1 and not hundreds else digits[tens]) + "十"
    elif hundreds and ones:
        out += "零"
    return out + (digits[ones] if ones else "")
