"""Regions side by side ("广东和江苏在金融支持上有什么不同？"): measures, targets and agencies, every entry cited, and
a short cited summary of what each region has that the others lack."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import TYPE_CHECKING

from index.knowledge import KnowledgeBase
from index.lang.regions import Region
from index.lang.terms import OTHER, keywords, tag
from index.lang.tokens import tokenize
from index.records import Measure, MeasureQuery
from qa.answer.base import Answerer
from qa.answer.citing import cite_once, measure_citation
from qa.decide.intent import COMPARE, regions_covered
from qa.finder import matching_sentence
from qa.records import Answer, Citation, Item, Paragraph, Part, ScoredClause, Sources, Table
from qa.retrieve.hybrid import content_tokens, coverage
from qa.understand.query import Query

if TYPE_CHECKING:
    from qa.plan import Plan

MAX_DISTINCT = 6


def comparison_topic(query: Query) -> tuple[str, ...]:
    """Return the measure types a comparison question is about (金融支持 -> 金融/融资)."""
    return tag("type", query.text)


def compared_regions(query: Query, kb: KnowledgeBase) -> list[Region]:
    """Return the regions that get a row: a place without documents of its own whose province is also named is
    left out (苏州 beside 江苏 would only repeat 江苏's row and cancel its summary)."""
    covered = regions_covered(query, kb)
    return [r for r in covered
            if kb.docs_in_region(r.name) or not any(o is not r and o.name == r.province for o in covered)]


def _clauses_of(kb: KnowledgeBase, region: Region) -> list[Measure]:
    """Return the region's own clauses (measures and goals), or its province's when it has none."""
    return (list(kb.measures_where(MeasureQuery((region.name,))))
            or list(kb.measures_where(MeasureQuery((region.province,)))))


def _features(kb: KnowledgeBase, measure: Measure, kinds: tuple[str, ...]) -> set[str]:
    """Return what a measure offers in the compared kinds: their keywords in its clause (上市挂牌, 苏科贷), or
    its types when the comparison names no kind."""
    if not kinds:
        return set(measure.types) - {OTHER}
    text = kb.clauses[measure.clause_id].text
    found = {w for k in kinds for w in keywords("type")[k] if w in text and w not in kinds}
    # 挂牌 is already said by 上市挂牌.
    return {w for w in found if not any(w != o and w in o for o in found)}


@cache
def _cores(term: str) -> tuple[str, ...]:
    """Return the words that say a measure keyword as well as the keyword does: a keyword of its kind inside it, or a
    word that two other keywords of its kind are built from too (上市 and 挂牌 for 上市挂牌: 上市融资, 企业上市,
    挂牌); never a word of the kind's name (融资, 技术), which every row about the kind says."""
    for kind, words in keywords("type").items():
        if term in words:
            name = set(tokenize(kind))
            parts = {w: set(tokenize(w)) for w in words}
            return tuple(t for t in sorted(parts[term]) if len(t) > 1 and t != term and t not in name
                         and (t in words or sum(t in parts[o] for o in words if o != term) >= 2))
    return ()


def mentions(text: str, term: str) -> bool:
    """Return True when a text says a term: the term or its core (上市 says 上市挂牌), or for a measure kind
    (用地/用房) any of its keywords."""
    if term in keywords("type"):
        return term in tag("type", text)
    return term in text or any(core in text for core in _cores(term))


def _row_text(row: tuple[tuple[Item, ...], ...], citations: list[Citation]) -> str:
    """Return everything a table row says: its entries and the clauses they cite."""
    entries = [e for cell in row[1:] for e in cell]
    cited = sorted({n for e in entries for n in e.cites})
    return "\n".join([e.text for e in entries] + [citations[n - 1].text for n in cited])


def _summary(names: list[str], texts: list[str], offers: list[dict[str, int]]) -> list[Part]:
    """Return one cited line per region: what its row says that no other compared region's row says, judged on the
    same texts the table shows and cites, so that the summary cannot contradict the table."""
    lines: list[Part] = []
    for i, name in enumerate(names):
        others = [t for j, t in enumerate(texts) if j != i]
        only = [f for f in offers[i]
                if mentions(texts[i], f) and not any(mentions(t, f) for t in others)][:MAX_DISTINCT]
        if only:
            cites = tuple(sorted({offers[i][f] for f in only}))
            rest = "、".join(n for n in names if n != name)
            lines.append(Paragraph(f"{name}有而{rest}未提及的：{'、'.join(only)}。", cites))
    return [Paragraph("小结："), *lines] if lines else []


class ComparisonAnswerer(Answerer):
    """Sets regions side by side ("广东和江苏在金融支持上有什么不同？")."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def answer(self, plan: Plan) -> Answer:
        """Return the comparison of the regions the question names."""
        return comparison_answer(self.kb, plan.query)


def comparison_evidence(kb: KnowledgeBase, query: Query) -> tuple[ScoredClause, ...]:
    """Return the clauses a comparison may cite: every measure and goal of the compared regions."""
    return tuple(ScoredClause(kb.clauses[m.clause_id], kb.docs[m.doc_id], 0.0)
                 for region in compared_regions(query, kb) for m in _clauses_of(kb, region))


def comparison_answer(kb: KnowledgeBase, query: Query, per_region: int = 3) -> Answer:
    """Return a side-by-side table of the regions' measures, targets and agencies, every cell cited, then what
    each region has that the others lack."""
    kinds = comparison_topic(query)
    topic = [t for t in content_tokens(query, tokenize(COMPARE.sub("", query.text)))]
    citations: list[Citation] = []
    rows: list[tuple[tuple[Item, ...], ...]] = []
    offers: list[dict[str, int]] = []  # per region: what its shown measures offer -> the citation saying it

    def cite(m: Measure, sentence: str) -> int:
        return cite_once(citations, measure_citation(kb, m, query, sentence))

    regions = compared_regions(query, kb)
    for region in regions:
        clauses = _clauses_of(kb, region)
        # A row is on topic when the sentence it quotes is about the compared kind, not only some other sentence.
        fitting = [(m, matching_sentence(kb, m, {"type": kinds}, query)) for m in clauses
                   if m.grants and (not kinds or set(kinds) & set(m.types))]
        fitting = [(m, s) for m, s in fitting if not kinds or set(kinds) & set(tag("type", s))]
        # The measures most about the asked topic first, as retrieval would rank them.
        fitting.sort(key=lambda ms: -coverage(kb, topic, kb.clauses[ms[0].clause_id].text))
        measures: list[Item] = []
        agencies: dict[str, list[int]] = defaultdict(list)
        # What the region offers is judged on the measures its row shows: the summary says nothing the table does not.
        offered: dict[str, int] = {}
        for m, sentence in fitting[:per_region]:
            n = cite(m, sentence)
            measures.append(Item(f"{m.title or m.label}：{citations[n - 1].quote}", (n,)))
            for agency in m.lead_agencies:
                agencies[agency].append(n)
            for feature in sorted(_features(kb, m, kinds)):
                offered.setdefault(feature, n)
        # Targets from goals too, but only those about the compared kind: 示范基地 are no talent target.
        goals = [Item(f"{t.text}（{t.year}年）" if t.year else t.text, (cite(m, ""),))
                 for m in clauses for t in m.targets[:2]
                 if not kinds or set(kinds) & set(tag("type", t.subject))] if clauses else []
        lead = tuple(Item(a, tuple(ns)) for a, ns in agencies.items())
        rows.append(((Item(region.name),), tuple(measures) or (Item("未找到"),), tuple(goals), lead))
        offers.append(offered)
    what = "、".join(kinds) if kinds else "各项措施"
    table = Table(("地区", "主要措施", "量化目标", "牵头单位"), tuple(rows))
    lead_in = Paragraph(f"各地在“{what}”方面的措施对比：")
    summary = _summary([r.name for r in regions], [_row_text(row, citations) for row in rows], offers)
    return Answer(parts=(lead_in, table, *summary, Sources()), citations=tuple(citations))
