"""Which measures apply to me: the measure finder, a company profile checklist, and region comparison."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from index.lexical import tokenize
from index.measures import tag, vocabulary
from index.regions import Region, gazetteer
from index.store import KnowledgeBase
from qa.answer.base import cite_line, make_citation
from qa.answer.extractive import best_sentences
from qa.models import Answer, Citation, Measure, ScoredClause
from qa.query import Query
from qa.retrieve import content_tokens, coverage

PROFILE = re.compile(r"^(?:我|我们|本公司|我司|我单位)(?:是|为|属于)|(?:我|我们)(?:公司|企业)是")
COMPARE = re.compile(r"比较|对比|不同|区别|差异|异同|有什么不一样")
SIZE_WORDS = {"中小企业": ("中小", "小微", "初创"), "高新技术企业": ("高新技术企业", "高企")}


@dataclass(frozen=True)
class Profile:
    """Who is asking: region, industries, kinds of beneficiary, measure types of interest."""

    regions: tuple[Region, ...] = ()
    industries: tuple[str, ...] = ()
    beneficiaries: tuple[str, ...] = ()
    types: tuple[str, ...] = ()


def parse_profile(text: str) -> Profile:
    """Return the profile stated in text such as "我是深圳的一家动漫中小企业"."""
    beneficiaries = set(tag("beneficiary", text))
    for value, words in SIZE_WORDS.items():
        if any(w in text for w in words):
            beneficiaries.add(value)
    if re.search(r"企业|公司", text):
        beneficiaries.add("文化科技企业")
    return Profile(tuple(gazetteer().find(text)), tag("industry", text), tuple(sorted(beneficiaries)),
                   tag("type", text))


def in_region(kb: KnowledgeBase, measure: Measure, regions: Sequence[Region]) -> bool:
    """Return True when a measure's document covers one of the regions (itself or its province)."""
    return not regions or any(measure.region in (r.name, r.province) for r in regions)


def find_measures(kb: KnowledgeBase, region: str | None = None, kind: str | None = None,
                  industry: str | None = None, beneficiary: str | None = None) -> list[Measure]:
    """Return the measures matching every given filter (region by name or short form, e.g. 深圳)."""
    regions = [r for r in [gazetteer().get(region)] if r] if region else []
    if region and not regions:
        return []
    return [m for m in kb.measures
            if in_region(kb, m, regions)
            and (not kind or kind in m.types)
            and (not industry or industry in m.industries)
            and (not beneficiary or beneficiary in m.beneficiaries)]


def applicable(kb: KnowledgeBase, profile: Profile) -> tuple[list[Measure], list[Measure]]:
    """Return (measures for the profile's region, the same kind of measures elsewhere for reference)."""
    def fits(m: Measure) -> bool:
        if profile.types and not set(profile.types) & set(m.types):
            return False
        # A measure naming industries or beneficiaries applies only to them; one naming none applies widely.
        industry_ok = not m.industries or not profile.industries or bool(set(m.industries) & set(profile.industries))
        who_ok = not m.beneficiaries or bool(set(m.beneficiaries) & set(profile.beneficiaries))
        return industry_ok and who_ok and m.types != ("其他",)

    def rank(m: Measure) -> tuple[int, int]:
        # Measures naming the asker's industry first, then those naming their kind of organisation.
        return (-len(set(m.industries) & set(profile.industries)),
                -len(set(m.beneficiaries) & set(profile.beneficiaries)))

    chosen = sorted((m for m in kb.measures if fits(m)), key=rank)
    local = [m for m in chosen if in_region(kb, m, profile.regions)]
    elsewhere = [m for m in chosen if not in_region(kb, m, profile.regions)] if profile.regions else []
    return local, elsewhere


def _citation(kb: KnowledgeBase, measure: Measure, query: Query) -> Citation:
    """Return the citation of a measure, quoting its sentence that best matches the question."""
    clause = kb.clauses[measure.clause_id]
    quote = "".join(best_sentences(query, clause.text, clause.heading, limit=1)) or measure.summary
    return make_citation(ScoredClause(clause, kb.docs[measure.doc_id], 0.0), quote)


def _contact(measure: Measure) -> str:
    lead = "、".join(measure.lead_agencies)
    return f"（牵头单位：{lead}）" if lead else ""


def checklist_answer(kb: KnowledgeBase, query: Query, question: str, profile: Profile,
                     limit_per_type: int = 4) -> Answer:
    """Return the applicable measures grouped by type, each cited, other regions listed as reference."""
    local, elsewhere = applicable(kb, profile)
    who = "、".join([*(r.name for r in profile.regions), *profile.industries, *profile.beneficiaries]) or "您"
    citations: list[Citation] = []
    lines = [f"根据已收录的政策文件，适用于“{who}”的支持措施如下（按类型分组）："]

    def listing(measures: Iterable[Measure]) -> list[str]:
        out: list[str] = []
        by_type: dict[str, list[Measure]] = defaultdict(list)
        for m in measures:
            by_type[m.types[0]].append(m)
        for kind in vocabulary()["type"]:
            if kind not in by_type:
                continue
            out.append(f"\n【{kind}】")
            for m in by_type[kind][:limit_per_type]:
                citation = _citation(kb, m, query)
                if citation.clause_id not in {c.clause_id for c in citations}:
                    citations.append(citation)
                n = next(i for i, c in enumerate(citations, 1) if c.clause_id == citation.clause_id)
                out.append(f"- {m.title or m.label}：{citation.quote}{_contact(m)}【{n}】")
        return out

    lines += listing(local) or ["\n已收录的文件中没有找到与您的情况直接对应的措施。"]
    if elsewhere:
        lines.append("\n以下为其他地区的同类措施，仅供参考：")
        lines += listing(elsewhere[:6])
    lines.append("")
    lines += [f"【{i}】{cite_line(c)}" for i, c in enumerate(citations, 1)]
    return Answer(question=question, query=query.text, text="\n".join(lines), answerable=bool(citations),
                  citations=tuple(citations))


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
    rows = []
    for region in query.regions:
        own = [m for m in kb.measures if m.region == region.name] or [m for m in kb.measures
                                                                       if m.region == region.province]
        fitting = [m for m in own if not kinds or set(kinds) & set(m.types)]
        # The measures most about the asked topic first, as retrieval would rank them.
        fitting.sort(key=lambda m: -coverage(kb, topic, kb.clauses[m.clause_id].text))
        cells, goals = [], []
        agencies: dict[str, list[int]] = defaultdict(list)
        for m in fitting[:per_region]:
            citations.append(_citation(kb, m, query))
            n = len(citations)
            cells.append(f"{m.title or m.label}：{citations[-1].quote}【{n}】")
            goals += [f"{t.text}（{t.year}年）【{n}】" if t.year else f"{t.text}【{n}】" for t in m.targets[:2]]
            for agency in m.lead_agencies:
                agencies[agency].append(n)
        lead = "；".join(f"{a}" + "".join(f"【{n}】" for n in ns) for a, ns in agencies.items())
        rows.append((region.name, " ".join(cells) or "未找到", "；".join(goals) or "—", lead or "—"))
    what = "、".join(kinds) if kinds else "各项措施"
    table = ["| 地区 | 主要措施 | 量化目标 | 牵头单位 |", "|---|---|---|---|"]
    table += [f"| {r} | {m} | {t} | {a} |" for r, m, t, a in rows]
    text = "\n".join([f"各地在“{what}”方面的措施对比：", "", *table, "",
                      *[f"【{i}】{cite_line(c)}" for i, c in enumerate(citations, 1)]])
    return Answer(question=question, query=query.text, text=text, answerable=bool(citations),
                  citations=tuple(citations))


def measure_row(kb: KnowledgeBase, m: Measure) -> dict[str, object]:
    """Return a measure as a flat record for tables, JSON and the API, with its citation."""
    doc = kb.docs[m.doc_id]
    return {
        "region": m.region or "", "types": list(m.types), "title": m.title or m.label, "summary": m.summary,
        "beneficiaries": list(m.beneficiaries), "industries": list(m.industries),
        "targets": [t.text + (f"（{t.year}年）" if t.year else "") for t in m.targets],
        "lead_agencies": list(m.lead_agencies), "partner_agencies": list(m.partner_agencies),
        "doc_title": doc.title, "clause": m.label, "clause_id": m.clause_id, "doc_id": m.doc_id,
        "date_or_period": doc.date_or_period,
        "citation": cite_line(make_citation(ScoredClause(kb.clauses[m.clause_id], doc, 0.0), m.summary)),
    }
