"""A question too vague to answer ("有钱拿吗"): ask which region and which kind of support, with examples."""

from __future__ import annotations

from index.measures import OTHER, vocabulary
from index.store import KnowledgeBase
from qa.query import Query
from qa.records import Answer, Item, Paragraph, Part
from qa.scopes import groups_of

MAX_REGIONS = 12


def clarify_answer(kb: KnowledgeBase, query: Query, question: str, examples: list[str]) -> Answer:
    """Return a short question back: what the knowledge base can answer, and example questions."""
    regions = groups_of(kb).regions
    kinds = [k for k in vocabulary()["type"] if k != OTHER and any(k in m.types for m in kb.measures)]
    parts: list[Part] = [Paragraph("您的问题比较宽泛，请说明想了解哪个地区、哪一类政策，我再为您查找原文。")]
    if regions:
        shown = "、".join(regions[:MAX_REGIONS]) + (f"等 {len(regions)} 个地区" if len(regions) > MAX_REGIONS else "")
        parts.append(Item(f"地区：{shown}"))
    if kinds:
        parts.append(Item(f"支持类型：{'、'.join(kinds)}"))
    parts += [Paragraph("例如："), *(Item(e) for e in examples)]
    return Answer(question=question, query=query.text, parts=tuple(parts), answerable=False, outcome="clarify")
