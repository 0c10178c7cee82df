"""Which measures apply to an enterprise ("我是深圳的一家动漫中小企业"): a checklist grouped by what it can apply
for, most specific first, each cited with the agency to contact."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from index.knowledge import KnowledgeBase
from index.lang.terms import AGENCY, keywords, tag
from index.records import Measure
from qa.answer.base import Answerer
from qa.answer.citing import cite_once, measure_citation
from qa.finder import Profile, applicable, matching_sentence, offered_kinds, parse_profile
from qa.records import Answer, Citation, Heading, Item, Paragraph, Part, ScoredClause, Sources
from qa.understand.query import Query

if TYPE_CHECKING:
    from qa.plan import Plan

# Enough for two entries of each kind of support a place typically offers (seven for 深圳 with 广东's).
MAX_LOCAL = 16
MAX_REFERENCE = 3
# A few measures of each kind, so that one long list of one kind does not hide the others.
MAX_PER_GROUP = 2
# Checklists kept for the questions being answered (a plan and then its answer use each one).
REMEMBERED = 8


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


def _fit(sentence: str, kind: str, focus: Mapping[str, Sequence[str]]) -> tuple[int, int]:
    """Return how well a sentence about a kind of support suits the asker: the profile fields it names, then how
    much it says about the kind (专项资金……配套资金 before 加大财政……投入)."""
    content = AGENCY.sub("", sentence)
    hits = sum(bool(set(values) & set(tag(field, content))) for field, values in focus.items() if values)
    return hits, sum(word in content for word in keywords("type")[kind])


def _entries(kb: KnowledgeBase, measure: Measure, profile: Profile) -> list[tuple[str, str]]:
    """Return (kind, quoted sentence) for each kind of support a measure offers that the asker may want: a clause
    with 专项资金 and 税收优惠 is listed under both, each time quoting its sentence about that kind."""
    focus = {"industry": profile.industries, "beneficiary": profile.beneficiaries}
    offered = {k: v for k, v in offered_kinds(kb, measure).items() if not profile.types or k in profile.types}
    if not offered:
        sentence = matching_sentence(kb, measure, {**focus, "type": profile.types})
        return [(_group(measure, sentence), sentence)]
    return [(kind, max(sentences, key=lambda s: _fit(s, kind, focus))) for kind, sentences in offered.items()]


def _pick(entries: list[tuple[Measure, str]]) -> list[tuple[Measure, str]]:
    """Return at most MAX_PER_GROUP of a group's ranked entries, in rank order, with each region's best among them:
    the city's own measures and its province's both apply, so neither hides the other."""
    best = [i for i, (m, _) in enumerate(entries) if all(o.region != m.region for o, _ in entries[:i])]
    keep = set((best + [i for i in range(len(entries)) if i not in best])[:MAX_PER_GROUP])
    return [e for i, e in enumerate(entries) if i in keep]


class Checklists:
    """The checklist of each profile question, made once: the plan takes the clauses it cites as its evidence and
    the answerer the whole answer (at a million clauses one takes ~10 s; made for each, a profile took 20 s)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._made: dict[Query, Answer] = {}
        self._lock = threading.Lock()

    def of(self, query: Query) -> Answer:
        """Return the checklist for the profile the question states."""
        with self._lock:
            made = self._made.get(query)
        if made is None:
            made = checklist_answer(self.kb, query, parse_profile(query.text))
            with self._lock:
                if len(self._made) >= REMEMBERED:
                    del self._made[next(iter(self._made))]  # the oldest
                self._made[query] = made
        return made

    def evidence(self, query: Query) -> tuple[ScoredClause, ...]:
        """Return the clauses a checklist may cite: those it cites. Every applicable measure's clause (and
        document) was ~a quarter of a million-clause corpus's measures, read and held for each profile question."""
        kb = self.kb
        return tuple(ScoredClause(kb.clauses[c.clause_id], kb.docs[c.doc_id], 0.0) for c in self.of(query).citations)


class ChecklistAnswerer(Answerer):
    """Lists the measures that apply to an enterprise that introduces itself ("我是深圳的一家动漫企业")."""

    def __init__(self, checklists: Checklists) -> None:
        self.checklists = checklists

    def answer(self, plan: Plan) -> Answer:
        """Return the checklist for the profile the question states."""
        return self.checklists.of(plan.query)


def checklist_answer(kb: KnowledgeBase, query: Query, profile: Profile) -> Answer:
    """Return the applicable measures grouped by what the enterprise can apply for, the most specific group and
    measure first; the city's own measures before its province's; other regions' measures as reference."""
    local, elsewhere = applicable(kb, profile)
    place = "、".join(r.name for r in profile.regions)
    who = "、".join([*profile.industries, *(b for b in profile.beneficiaries if b != "文化科技企业")]) or "企业"
    provinces = {r.province for r in profile.regions if r.province != r.name}
    citations: list[Citation] = []

    def listing(measures: Iterable[Measure], limit: int, every_kind: bool) -> list[Part]:
        # Groups appear in the order of their most specific measure (the measures come ranked).
        groups: dict[str, list[tuple[Measure, str]]] = {}

        def full(kind: str, region: str | None) -> bool:
            # _pick never shows more than MAX_PER_GROUP of a group, so a region's further entries cannot show; nor
            # can any once MAX_PER_GROUP regions have one (_pick keeps the first regions' best), which spares reading
            # the clauses of a large corpus's every other region.
            entries = groups.get(kind, [])
            return (sum(o.region == region for o, _ in entries) >= MAX_PER_GROUP
                    or len({o.region for o, _ in entries}) >= MAX_PER_GROUP)

        for m in measures:
            if all(full(k, m.region) for k in m.types):
                continue  # spares reading the sentences of a large corpus's every clause
            for kind, sentence in _entries(kb, m, profile)[: None if every_kind else 1]:
                if not full(kind, m.region):
                    groups.setdefault(kind, []).append((m, sentence))
        picked = {kind: _pick(entries) for kind, entries in groups.items()}
        # Every kind of support gets its best entry before any kind gets a second: the limit never hides a kind
        # (资金/补贴) behind more of another.
        shown: dict[str, list[tuple[Measure, str]]] = {kind: [] for kind in picked}
        for rank in range(MAX_PER_GROUP):
            for kind, entries in picked.items():
                if rank < len(entries) and sum(map(len, shown.values())) < limit:
                    shown[kind].append(entries[rank])
        groups = {kind: entries for kind, entries in shown.items() if entries}
        out: list[Part] = []
        for kind, entries in groups.items():
            out.append(Heading(kind))
            for m, sentence in entries:
                citation = measure_citation(kb, m, query, sentence)
                n = cite_once(citations, citation)
                cited = citations[n - 1]
                # A clause listed under two kinds quotes two sentences: its citation marks both, in clause order.
                if sentence and sentence not in cited.quote.split("……"):
                    quotes = sorted([*cited.quote.split("……"), sentence], key=cited.text.find)
                    citations[n - 1] = Citation.of(kb.clauses[m.clause_id], kb.docs[m.doc_id], "……".join(quotes))
                where = f"{m.region}措施，适用于{place}；" if m.region in provinces else ""
                ask = contact(kb, m)
                note = f"（{where}{ask}）" if where or ask else ""
                out.append(Item(f"{m.title or m.label}：{citation.quote}{note}", (n,)))
        return out

    whom = f"{place}的{who}" if place else who
    parts: list[Part] = [Paragraph(f"根据已收录的政策文件，{whom}可以关注以下支持措施（按可申请的支持分组，"
                                   "与您情况最相关的在前；括号内为可咨询的单位）：")]
    # The asker's own measures under every kind they offer; other regions' only for a glimpse, each clause once.
    own = listing(kb.measures_at(local), MAX_LOCAL, every_kind=True)
    parts += own or [Paragraph("已收录的文件中没有找到与您的情况直接对应的措施。")]
    if elsewhere:
        parts.append(Paragraph("以下为其他地区的同类措施，仅供参考："))
        parts += listing(kb.measures_at(elsewhere), MAX_REFERENCE, every_kind=False)
    return Answer(parts=(*parts, Sources()), citations=tuple(citations))
