"""Which measures apply to an enterprise ("我是深圳的一家动漫中小企业"): a checklist grouped by type, each cited."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from index.measures import vocabulary
from index.records import Measure
from index.store import KnowledgeBase
from qa.finder import Profile, applicable, measure_citation
from qa.query import Query
from qa.records import Answer, Citation, Heading, Item, Paragraph, Part, Sources


def _contact(measure: Measure) -> str:
    lead = "、".join(measure.lead_agencies)
    return f"（牵头单位：{lead}）" if lead else ""


def checklist_answer(kb: KnowledgeBase, query: Query, question: str, profile: Profile,
                     limit_per_type: int = 4) -> Answer:
    """Return the applicable measures grouped by type, each cited, other regions listed as reference."""
    local, elsewhere = applicable(kb, profile)
    who = "、".join([*(r.name for r in profile.regions), *profile.industries, *profile.beneficiaries]) or "您"
    citations: list[Citation] = []
    parts: list[Part] = [Paragraph(f"根据已收录的政策文件，适用于“{who}”的支持措施如下（按类型分组）：")]

    def listing(measures: Iterable[Measure]) -> list[Part]:
        out: list[Part] = []
        by_type: dict[str, list[Measure]] = defaultdict(list)
        for m in measures:
            by_type[m.types[0]].append(m)
        for kind in vocabulary()["type"]:
            if kind not in by_type:
                continue
            out.append(Heading(kind))
            for m in by_type[kind][:limit_per_type]:
                citation = measure_citation(kb, m, query)
                if citation.clause_id not in {c.clause_id for c in citations}:
                    citations.append(citation)
                n = next(i for i, c in enumerate(citations, 1) if c.clause_id == citation.clause_id)
                out.append(Item(f"{m.title or m.label}：{citation.quote}{_contact(m)}", (n,)))
        return out

    parts += listing(local) or [Paragraph("已收录的文件中没有找到与您的情况直接对应的措施。")]
    if elsewhere:
        parts.append(Paragraph("以下为其他地区的同类措施，仅供参考："))
        parts += listing(elsewhere[:6])
    return Answer(question=question, query=query.text, parts=(*parts, Sources()), answerable=bool(citations),
                  citations=tuple(citations))


