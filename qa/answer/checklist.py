"""Which measures apply to an enterprise ("我是深圳的一家动漫中小企业"): a checklist grouped by what it can apply
for, most specific first, each cited with the agency to contact."""

from __future__ import annotations

from collections.abc import Iterable

from index.measures import tag
from index.records import Measure
from index.store import KnowledgeBase
from qa.finder import Profile, applicable, cite_once, matching_sentence, measure_citation
from qa.query import Query
from qa.records import Answer, Citation, Heading, Item, Paragraph, Part, Sources

MAX_LOCAL = 8
MAX_REFERENCE = 3
# A few measures of each kind, so that one long list of one kind does not hide the others.
MAX_PER_GROUP = 2


def contact(kb: KnowledgeBase, measure: Measure) -> str:
    """Return who to ask about a measure: its lead agencies, else the issuer of its document."""
    if measure.lead_agencies:
        return f"牵头单位：{'、'.join(measure.lead_agencies)}"
    issuers = (kb.docs[measure.doc_id].issuer or "").split("、")
    return f"发文单位：{issuers[0]}{'等' if len(issuers) > 1 else ''}" if issuers[0] else ""


def _group(measure: Measure, sentence: str) -> str:
    """Return what the quoted sentence offers (its first measure type), else the measure's first type."""
    offered = [t for t in tag("type", sentence) if t in measure.types]
    return (offered or list(measure.types))[0]


def checklist_answer(kb: KnowledgeBase, query: Query, question: str, profile: Profile) -> Answer:
    """Return the applicable measures grouped by what the enterprise can apply for, the most specific group and
    measure first; the city's own measures before its province's; other regions' measures as reference."""
    local, elsewhere = applicable(kb, profile)
    place = "、".join(r.name for r in profile.regions)
    who = "、".join([*profile.industries, *(b for b in profile.beneficiaries if b != "文化科技企业")]) or "企业"
    provinces = {r.province for r in profile.regions if r.province != r.name}
    focus = {"industry": profile.industries, "beneficiary": profile.beneficiaries, "type": profile.types}
    citations: list[Citation] = []

    def listing(measures: Iterable[Measure], limit: int) -> list[Part]:
        # Groups appear in the order of their most specific measure (the measures come ranked).
        groups: dict[str, list[tuple[Measure, str]]] = {}
        for m in measures:
            if sum(map(len, groups.values())) >= limit:
                break
            sentence = matching_sentence(kb, m, focus)
            entries = groups.setdefault(_group(m, sentence), [])
            if len(entries) < MAX_PER_GROUP:
                entries.append((m, sentence))
        out: list[Part] = []
        for kind, entries in groups.items():
            out.append(Heading(kind))
            for m, sentence in entries:
                citation = measure_citation(kb, m, query, sentence)
                n = cite_once(citations, citation)
                where = f"{m.region}措施，适用于{place}；" if m.region in provinces else ""
                ask = contact(kb, m)
                note = f"（{where}{ask}）" if where or ask else ""
                out.append(Item(f"{m.title or m.label}：{citation.quote}{note}", (n,)))
        return out

    whom = f"{place}的{who}" if place else who
    parts: list[Part] = [Paragraph(f"根据已收录的政策文件，{whom}可以关注以下支持措施（按可申请的支持分组，"
                                   "与您情况最相关的在前；括号内为可咨询的单位）：")]
    parts += listing(local, MAX_LOCAL) or [Paragraph("已收录的文件中没有找到与您的情况直接对应的措施。")]
    if elsewhere:
        parts.append(Paragraph("以下为其他地区的同类措施，仅供参考："))
        parts += listing(elsewhere, MAX_REFERENCE)
    return Answer(question=question, query=query.text, parts=(*parts, Sources()), answerable=bool(citations),
                  citations=tuple(citations), outcome="answer" if citations else "refuse")
