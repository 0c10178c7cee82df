"""The measure vocabulary (index/data/measure_terms.tsv): types, beneficiaries, industries by keyword, and the
patterns that say who acts and which clauses grant nothing."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

from index.lang.text import AGENCY_NOTE
from index.records import Clause

TERMS = Path(__file__).parent.parent / "data" / "measure_terms.tsv"
OTHER = "其他"
# Clauses that state aims, principles or arrangements and grant nothing, known by their title ("（一）指导思想",
# "加强组织领导") or by the chapter they sit in ("第一章 总则"); kept for the targets they state.
GENERAL_TITLE = re.compile(
    r"指导思想|总体要求|总体思路|基本原则|总体目标|主要目标|发展目标|工作目标|组织领导|组织实施|组织保障|工作机制|"
    r"协调机制|统筹协调|舆论氛围|宣传引导|监督检查|附则|总则|适用范围"
)
GENERAL_CHAPTER = re.compile(r"总则|附则|组织实施|申报与管理|监督管理|法律责任")
DEFINITION = re.compile(r"本(?:措施|办法|方案|意见|规定|政策)所称")
# Agency names say who acts, not what the measure is: "省文化和旅游厅" is no tourism measure.
AGENCY = re.compile(AGENCY_NOTE + r"|(?:中共)?(?:省|市|区|县)[\u4e00-\u9fff]{1,12}?(?:厅|局|办|委|部)")


@cache
def _vocabulary() -> dict[str, dict[str, tuple[str, ...]]]:
    """Return field -> value -> keywords, from index/data/measure_terms.tsv."""
    fields: dict[str, dict[str, tuple[str, ...]]] = defaultdict(dict)
    for line in TERMS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        field, value, words = line.split("\t")
        fields[field][value] = tuple(w for w in words.split(",") if w)
    return dict(fields)


@cache
def _patterns(field: str) -> tuple[tuple[str, re.Pattern[str], re.Pattern[str] | None], ...]:
    # One alternation per value: a single search in C instead of a Python loop over its keywords.
    # "!高标准" lists a phrase that does not count for the value although it contains a keyword.
    out = []
    for value, words in _vocabulary()[field].items():
        keep = [w for w in words if not w.startswith("!")]
        drop = [w[1:] for w in words if w.startswith("!")]
        if keep:
            out.append((value, re.compile("|".join(map(re.escape, keep))),
                        re.compile("|".join(map(re.escape, drop))) if drop else None))
    return tuple(out)


def values(field: str) -> tuple[str, ...]:
    """Return the values of a field (type, beneficiary, industry) in vocabulary order: what a filter offers."""
    return tuple(_vocabulary()[field])


@cache
def keywords(field: str) -> Mapping[str, tuple[str, ...]]:
    """Return value -> the keywords that count for it (without the phrases that do not), read-only."""
    # Made once: a profile checklist at a million clauses asked 90,051 times (4 s of its 26 s).
    return MappingProxyType({v: tuple(w for w in words if not w.startswith("!"))
                             for v, words in _vocabulary()[field].items()})


def tag(field: str, text: str) -> tuple[str, ...]:
    """Return the values of a field whose keywords occur in the text, in vocabulary order."""
    return tuple(value for value, pattern, drop in _patterns(field)
                 if pattern.search(drop.sub("", text) if drop is not None else text))


def grants(clause: Clause) -> bool:
    """Return False for a clause that states aims, principles, arrangements or definitions and grants nothing."""
    title = clause.title or (clause.path[-1] if clause.path else "")
    return not (GENERAL_TITLE.search(title) or any(GENERAL_CHAPTER.search(p) for p in clause.path[:-1])
                or DEFINITION.search(clause.text[:40]))
