"""Which measures apply to me: who is asking (a profile), and the measures that fit a filter or a profile."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from index.measures import tag
from index.records import Measure
from index.regions import Region, gazetteer
from index.store import KnowledgeBase
from qa.answer.extractive import best_sentences
from qa.query import Query
from qa.records import Citation
from qa.wording import ASKS

PROFILE = re.compile(r"^(?:我|我们|本公司|我司|我单位)(?:是|为|属于)|(?:我|我们)(?:公司|企业)是")
SIZE_WORDS = {"中小企业": ("中小", "小微", "初创"), "高新技术企业": ("高新技术企业", "高企")}


@dataclass(frozen=True)
class Profile:
    """Who is asking: region, industries, kinds of beneficiary, measure types of interest."""

    regions: tuple[Region, ...] = ()
    industries: tuple[str, ...] = ()
    beneficiaries: tuple[str, ...] = ()
    types: tuple[str, ...] = ()


def profile_question(text: str) -> str:
    """Return what a message that introduces the asker asks: its phrases that ask, without the introduction
    ("" when it only introduces)."""
    phrases = [s for s in re.split(r"(?<=[，,。！？!?；;])", text) if s.strip()]
    return "".join(s for s in phrases if not PROFILE.search(s) and ASKS.search(s))


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


def measure_citation(kb: KnowledgeBase, measure: Measure, query: Query) -> Citation:
    """Return the citation of a measure, quoting its sentence that best matches the question."""
    clause = kb.clauses[measure.clause_id]
    quote = "".join(best_sentences(query, clause.text, clause.heading, limit=1)) or measure.summary
    return Citation.of(clause, kb.docs[measure.doc_id], quote)



@dataclass(frozen=True)
class MeasureRow:
    """A measure as a flat row for tables, JSON and the API, with its citation."""

    region: str
    types: tuple[str, ...]
    title: str
    summary: str
    beneficiaries: tuple[str, ...]
    industries: tuple[str, ...]
    targets: tuple[str, ...]
    lead_agencies: tuple[str, ...]
    partner_agencies: tuple[str, ...]
    doc_title: str
    doc_id: str
    clause: str
    clause_id: str
    date_or_period: str
    citation: str

    @classmethod
    def of(cls, kb: KnowledgeBase, m: Measure) -> MeasureRow:
        """Return the row of a measure."""
        doc = kb.docs[m.doc_id]
        return cls(
            region=m.region or "", types=m.types, title=m.title or m.label, summary=m.summary,
            beneficiaries=m.beneficiaries, industries=m.industries,
            targets=tuple(t.text + (f"（{t.year}年）" if t.year else "") for t in m.targets),
            lead_agencies=m.lead_agencies, partner_agencies=m.partner_agencies, doc_title=doc.title,
            clause=m.label, clause_id=m.clause_id, doc_id=m.doc_id, date_or_period=doc.date_or_period,
            citation=Citation.of(kb.clauses[m.clause_id], doc, m.summary).source,
        )

    def to_json(self) -> dict[str, object]:
        """Return the row as JSON data."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
