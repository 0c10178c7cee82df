"""Decide whether retrieved clauses answer the question, and which of them to cite."""

from __future__ import annotations

from collections.abc import Sequence

from index.lexical import tokenize
from index.store import KnowledgeBase
from index.text import CJK
from qa.query import Query
from qa.records import ScoredClause
from qa.retrieve import region_boosts

# Calibrated on our own in- and out-of-scope questions (tests/data/calibration.jsonl), not on the dev set:
# a clause must contain at least this IDF-weighted share of the question's topic terms. Out-of-scope
# questions there reach at most 0.33, in-scope ones at least 0.44.
MIN_COVERAGE = 0.4
# A further clause is cited only when it is nearly as strong as the best one.
SECOND_RATIO = 0.8


def uncovered_regions(kb: KnowledgeBase, query: Query) -> list[str]:
    """Return the regions a question names that no document is about or mentions."""
    missing = []
    for region in query.regions:
        about = bool(kb.docs_in_region(region.name) or kb.docs_in_region(region.province))
        mentioned = kb.mentions(region.short)
        if not (about or mentioned):
            missing.append(region.name)
    return missing


def select_evidence(kb: KnowledgeBase, query: Query, retrieved: Sequence[ScoredClause],
                    limit: int) -> tuple[list[ScoredClause], str | None]:
    """Return the clauses to cite, or an empty list and the reason for refusing."""
    if not tokenize(query.text):
        return [], "请输入您想咨询的具体政策问题，例如“江苏有哪些文化产业基金可以用？”。"
    if not CJK.search(query.text):
        return [], "目前只能回答中文提问，请用中文描述您的问题，例如“江苏有哪些文化产业基金可以用？”。"
    missing = uncovered_regions(kb, query)
    if missing and len(missing) == len(query.regions):
        return [], f"已收录的政策文件中没有关于{'、'.join(missing)}的政策，无法回答“{query.text}”。"
    regional = region_boosts(kb, query)
    if regional:
        # Only the named region's documents (or its province's) may be cited for a question about it.
        retrieved = [s for s in retrieved if s.doc.doc_id in regional]
    # The best-ranked clause that contains the question's topic; a higher one without it is not evidence.
    candidates = [s for s in retrieved if s.coverage >= MIN_COVERAGE]
    if not candidates:
        where = "、".join(r.name for r in query.regions) if regional else ""
        return [], f"已收录的{where}政策文件中没有找到与“{query.text}”相关的规定。"
    top = candidates[0]
    evidence = [top]
    for item in candidates[1:]:
        if len(evidence) >= limit:
            break
        if item.score >= SECOND_RATIO * top.score:
            evidence.append(item)
    return evidence, None
