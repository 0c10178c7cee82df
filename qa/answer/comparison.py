"""Regions side by side ("广东和江苏在金融支持上有什么不同？"): measures, targets and agencies, every entry cited."""

from __future__ import annotations

import re
from collections import defaultdict

from index.lexical import tokenize
from index.measures import tag
from index.store import KnowledgeBase
from qa.finder import measure_citation
from qa.query import Query
from qa.records import Answer, Citation, Item, Paragraph, Sources, Table
from qa.retrieve import content_tokens, coverage

COMPARE = re.compile(r"比较|对比|不同|区别|差异|异同|有什么不一样")


def comparison_topic(query: Query) -> tuple[str, ...]:
    """Return the measure types a comparison question is about (金融支持 -> 金融/融资)."""
    return tag("type", query.text)


def is_comparison(query: Query, kb: KnowledgeBase) -> bool:
    """Return True for "广东和江苏在金融支持上有什么不同？": two or more covered regions and a contrast word."""
    covered = [r for r in query.regions if kb.docs_in_region(r.name) or kb.docs_in_region(r.province)]
    return len(covered) >= 2 and bool(COMPARE.search(query.text))


def comparison_answer(kb: KnowledgeBase, query: Query, question: str, per_region: int = 3) -> Answer:
    """Return a side-by-side table of the regions' measures, targets and agencies, every cell cited."""
    kinds = comparison_topic(query)
    topic = [t for t in content_tokens(query, tokenize(COMPARE.sub("", query.text)))]
    citations: list[Citation] = []
    rows: list[tuple[tuple[Item, ...], ...]] = []
    for region in query.regions:
        own = [m for m in kb.measures if m.region == region.name] or [m for m in kb.measures
                                                                       if m.region == region.province]
        fitting = [m for m in own if not kinds or set(kinds) & set(m.types)]
        # The measures most about the asked topic first, as retrieval would rank them.
        fitting.sort(key=lambda m: -coverage(kb, topic, kb.clauses[m.clause_id].text))
        measures: list[Item] = []
        goals: list[Item] = []
        agencies: dict[str, list[int]] = defaultdict(list)
        for m in fitting[:per_region]:
            citations.append(measure_citation(kb, m, query))
            n = len(citations)
            measures.append(Item(f"{m.title or m.label}：{citations[-1].quote}", (n,)))
            goals += [Item(f"{t.text}（{t.year}年）" if t.year else t.text, (n,)) for t in m.targets[:2]]
            for agency in m.lead_agencies:
                agencies[agency].append(n)
        lead = tuple(Item(a, tuple(ns)) for a, ns in agencies.items())
        rows.append(((Item(region.name),), tuple(measures) or (Item("未找到"),), tuple(goals), lead))
    what = "、".join(kinds) if kinds else "各项措施"
    table = Table(("地区", "主要措施", "量化目标", "牵头单位"), tuple(rows))
    lead_in = Paragraph(f"各地在“{what}”方面的措施对比：")
    return Answer(question=question, query=query.text, parts=(lead_in, table, Sources()), answerable=bool(citations),
                  citations=tuple(citations))


