"""Which measures apply to me: who is asking (a profile), and the measures that fit a filter or a profile."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainSerializer, TypeAdapter

from index.knowledge import KnowledgeBase
from index.lang.regions import Region, gazetteer
from index.lang.sentences import split_sentences_without
from index.lang.terms import AGENCY, OTHER, tag, values
from index.records import Measure, MeasureQuery
from qa.errors import FilterError
from qa.records import Citation
from qa.understand.query import Query
from qa.understand.wording import ASKS

PROFILE = re.compile(r"^(?:我|我们|本公司|我司|我单位)(?:是|为|属于)|(?:我|我们)(?:公司|企业)是")
SIZE_WORDS = {"中小企业": ("中小", "小微", "初创", "小企业", "小公司"), "高新技术企业": ("高新技术企业", "高企")}
# Filter name -> vocabulary field, and what the filter is called in messages.
FILTERS = {"type": "类型", "industry": "行业", "beneficiary": "对象"}


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


def filter_values(field: str) -> tuple[str, ...]:
    """Return the values a filter accepts: the vocabulary's, and 其他 for a type no keyword names."""
    offered = values(field)
    return (*offered, OTHER) if field == "type" else offered


def check_filter(field: str, value: str | None) -> None:
    """Raise FilterError naming the valid values when a filter value is not in the vocabulary."""
    if value and value not in filter_values(field):
        valid = "、".join(filter_values(field))
        raise FilterError(f"未知的{FILTERS[field]}“{value}”；可选的{FILTERS[field]}：{valid}")


def own_first(measures: list[Measure], regions: Sequence[Region]) -> list[Measure]:
    """Return the measures with those of the named places before those of their provinces (stable)."""
    names = {r.name for r in regions}
    return sorted(measures, key=lambda m: bool(names) and m.region not in names)


def find_measures(kb: KnowledgeBase, region: str | None = None, kind: str | None = None,
                  industry: str | None = None, beneficiary: str | None = None) -> list[Measure]:
    """Return the measures matching every given filter (region by name or short form, e.g. 深圳): the place's own
    measures first, then its province's, which apply to it too. Raises FilterError for an unknown value."""
    for field, value in (("type", kind), ("industry", industry), ("beneficiary", beneficiary)):
        check_filter(field, value)
    regions = [r for r in [gazetteer().get(region)] if r] if region else []
    if region and not regions:
        return []
    places = tuple(dict.fromkeys(p for r in regions for p in (r.name, r.province))) if regions else None
    having = tuple((field, (value,)) for field, value in (("type", kind), ("industry", industry),
                                                            ("beneficiary", beneficiary)) if value)
    return own_first(list(kb.measures_where(MeasureQuery(places, granting=True, having=having))), regions)


def matching_sentence(kb: KnowledgeBase, measure: Measure, focus: Mapping[str, str | Sequence[str]],
                      query: Query | None = None) -> str:
    """Return the clause sentence that matches the focus (field -> value(s)), e.g. the one about 用地 for a
    用地/用房 filter, among equals the one sharing most words with the query; the measure's first sentence when
    nothing is asked for or nothing matches."""
    wanted = {f: {v} if isinstance(v, str) else set(v) for f, v in focus.items() if v}
    if not wanted:
        return measure.summary
    clause = kb.clauses[measure.clause_id]
    sentences = split_sentences_without(clause.text, clause.heading)
    words = [t for t in query.text_tokens if len(t) > 1] if query is not None else []

    def score(sentence: str) -> tuple[int, int]:
        content = AGENCY.sub("", sentence)
        hits = sum(bool(values & set(tag(field, content))) for field, values in wanted.items())
        return hits, sum(len(w) for w in words if w in sentence)

    best = max(sentences, key=score, default="")
    return best if best and score(best)[0] else measure.summary


def offered_kinds(kb: KnowledgeBase, measure: Measure) -> dict[str, list[str]]:
    """Return what a measure offers, kind by kind: measure type -> the clause sentences that offer it (a sentence
    offers its first type: "市……专项资金向文化与科技领域倾斜" 资金/补贴, "……享受……税收优惠政策" 税收), in type order."""
    clause = kb.clauses[measure.clause_id]
    by_kind: dict[str, list[str]] = {}
    for sentence in split_sentences_without(clause.text, clause.heading):
        kinds = [t for t in tag("type", AGENCY.sub("", sentence)) if t in measure.types]
        if kinds:
            by_kind.setdefault(kinds[0], []).append(sentence)
    return {t: by_kind[t] for t in measure.types if t in by_kind}


def tag_weights(profile: Profile) -> dict[tuple[str, str], int]:
    """Return how much each tag of a measure says it names the asker: their industry or size twice, being an
    enterprise the measures are for (文化科技企业) once."""
    return {("industry", v): 2 for v in profile.industries} | {
        ("beneficiary", v): 1 if v == "文化科技企业" else 2 for v in profile.beneficiaries}


def specificity(m: Measure, profile: Profile) -> int:
    """Return how specifically a measure names the asker: the weights of its tags (what `applicable` ranks by)."""
    weights = tag_weights(profile)
    return (sum(weights.get(("industry", v), 0) for v in set(m.industries))
            + sum(weights.get(("beneficiary", v), 0) for v in set(m.beneficiaries)))


def applicable(kb: KnowledgeBase, profile: Profile) -> tuple[list[int], list[int]]:
    """Return (measures for the profile's region, most specific first; the same kind of measures elsewhere) as the
    numbers `kb.measures_at` reads them by: at a million clauses a profile fits ~a quarter of the measures, ranked
    from their tags without being read."""
    # A clause with no measure type (其他) grants nothing one could apply for. A measure naming industries or
    # beneficiaries applies only to them; one naming none applies widely.
    fits = MeasureQuery(granting=True, without=(("type", OTHER),),
                        having=(("type", profile.types),) if profile.types else (),
                        open_to=((("industry", profile.industries),) if profile.industries else ())
                        + (("beneficiary", profile.beneficiaries),))
    names = {r.name for r in profile.regions}
    places = names | {r.province for r in profile.regions}
    # Among equally specific measures the city's own come before its province's.
    chosen = sorted(kb.measure_scores(fits, tag_weights(profile)),
                    key=lambda m: (-m[2], bool(names) and m[1] not in names))
    local = [n for n, region, _ in chosen if not profile.regions or region in places]
    elsewhere = [n for n, region, _ in chosen if region not in places] if profile.regions else []
    return local, elsewhere


@dataclass(frozen=True)
class MeasureRow:
    """A measure as a flat row for tables, JSON and the API, with its citation and clause text."""

    region: str
    applies_to: str  # the asked place when this is its province's measure ("深圳市"), else ""
    types: tuple[str, ...]
    title: str
    summary: str  # the clause's sentence that matches the filter, else its first sentence
    text: str
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
    # Data, as every citation is; its JSON form (the API, `measures --json`) is the human source line.
    citation: Annotated[Citation, PlainSerializer(lambda c: c.source, return_type=str)]

    @classmethod
    def of(cls, kb: KnowledgeBase, m: Measure, place: str | None = None,
           focus: Mapping[str, str | None] | None = None) -> MeasureRow:
        """Return the row of a measure found for a place (e.g. 深圳) and filters (field -> value)."""
        doc = kb.docs[m.doc_id]
        asked = gazetteer().get(place) if place else None
        summary = matching_sentence(kb, m, {k: v for k, v in (focus or {}).items() if v})
        return cls(
            region=m.region or "", applies_to=asked.name if asked and m.region != asked.name else "",
            types=m.types, title=m.title or m.label, summary=summary, text=kb.clauses[m.clause_id].text,
            beneficiaries=m.beneficiaries, industries=m.industries,
            targets=tuple(t.text + (f"（{t.year}年）" if t.year else "") for t in m.targets),
            lead_agencies=m.lead_agencies, partner_agencies=m.partner_agencies, doc_title=doc.title,
            clause=m.label, clause_id=m.clause_id, doc_id=m.doc_id, date_or_period=doc.date_or_period,
            citation=Citation.of(kb.clauses[m.clause_id], doc, summary),
        )

    def to_json(self) -> dict[str, Any]:
        """Return the row as JSON data: the form the API serves (the field list is the schema)."""
        row: dict[str, Any] = ROW_JSON.dump_python(self, mode="json")
        return row


ROW_JSON = TypeAdapter(MeasureRow)


def measure_rows(kb: KnowledgeBase, region: str | None = None, kind: str | None = None,
                 industry: str | None = None, beneficiary: str | None = None) -> list[MeasureRow]:
    """Return the rows of the measures matching the filters, each summarised by its sentence about the filter."""
    focus = {"type": kind, "industry": industry, "beneficiary": beneficiary}
    return [MeasureRow.of(kb, m, region, focus) for m in find_measures(kb, region, kind, industry, beneficiary)]
