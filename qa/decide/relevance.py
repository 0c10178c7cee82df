"""Decide what the retrieved clauses allow: a cited answer, related clauses, or a refusal that says why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from index.knowledge import KnowledgeBase
from index.lang.text import CJK
from index.lang.tokens import frequency, tokenize
from qa.decide.answerability import Model, signals, uncovered_regions
from qa.records import Outcome, ScoredClause
from qa.retrieve.hybrid import applies, coverage, region_boosts, topic_tokens, without_compounds
from qa.understand.asks import DISPUTE, detail_asked
from qa.understand.query import Query
from qa.understand.vocabulary import covers
from qa.understand.wording import plain

# A further clause is cited only when it is nearly as strong as the best one.
SECOND_RATIO = 0.8
# Related clauses shown when there is no clear provision.
RELATED = 3
EXAMPLE = "江苏有哪些文化产业基金可以用？"
# The share of a question's topic a clause must hold to be shown as related rather than refused.
TOPIC_PRESENT = 0.8
# A word this rare in general Chinese (jieba's dictionary count) is a name (紫金, 苏科贷), not a common word (城市).
NAME_FREQUENCY = 500
# Chunks looked at to tell where the question's most specific word is used.
NAME_HITS = 20
# Sub-questions that each get their own cited clause.
MAX_PARTS = 3


@dataclass(frozen=True)
class Decision:
    """What to do with a question, the clauses to cite, and why (for a refusal)."""

    outcome: Outcome
    probability: float
    evidence: tuple[ScoredClause, ...] = ()
    reason: str = ""
    # The question's most specific word is only in another region's documents ("深圳的紫金文化产业基金").
    named_elsewhere: bool = False
    # The detail asked for (申请办法, 具体日期) that the clause on the topic, the evidence, does not state.
    unstated: str = ""


def not_found(kb: KnowledgeBase, query: Query) -> str:
    """Return the refusal's first sentence: what was searched, and that nothing relevant was found."""
    where = "、".join(r.name for r in query.regions) if region_boosts(kb, query) else ""
    return f"已收录的{where}政策文件中没有找到与“{query.asked}”相关的规定。"


def elsewhere_only(kb: KnowledgeBase, query: Query, regional: dict[str, float],
                   clauses: Sequence[ScoredClause]) -> bool:
    """Return True when the question's most specific topic word (the rarest one the corpus uses) is in none of
    the clauses, in its words or the documents' words for it, and only in documents of other regions (a name
    such as 紫金 that belongs elsewhere)."""
    words = [t for t in topic_tokens(kb, query, query.tokens) if kb.lexical.idf(t) is not None]
    names = [t for t in words if frequency(t) < NAME_FREQUENCY]
    if len(words) < 2 or not names:
        return False
    rarest = max(names, key=lambda t: (kb.lexical.idf(t) or 0.0, t))
    texts = [f"{s.doc.title}\n{' '.join(s.clause.path)}\n{s.clause.text}".lower() for s in clauses]
    # A compound is also named through its parts: 文物保护 is in "水下文物……保护修复", not only in another region.
    parts = [t for t in without_compounds(words) if t in rarest and t != rarest]
    if any(covers(rarest, text, query.equivalent) or (parts and all(covers(t, text, query.equivalent) for t in parts))
           for text in texts):
        return False
    found = [kb.chunks[chunk_id].doc_id for chunk_id, _ in kb.lexical.search([rarest], NAME_HITS)]
    return bool(found) and not any(applies(regional, kb.docs[doc_id]) for doc_id in found)


def decide(kb: KnowledgeBase, query: Query, retrieved: Sequence[ScoredClause], limit: int, model: Model) -> Decision:
    """Return the outcome for a question from its retrieved clauses, best first."""
    if not query.text_tokens:
        return Decision(Outcome.REFUSE, 0.0, reason=f"请输入您想咨询的具体政策问题，例如“{EXAMPLE}”。")
    if not CJK.search(query.text):
        return Decision(Outcome.REFUSE, 0.0,
                        reason=f"目前只能回答中文提问，请用中文描述您的问题，例如“{EXAMPLE}”。")
    missing = uncovered_regions(kb, query)
    # National documents apply to every region: without any, a question about an uncovered region is unanswerable.
    if missing and len(missing) == len(query.regions) and not kb.docs_in_region(""):
        return Decision(Outcome.REFUSE, 0.0,
                        reason=f"已收录的政策文件中没有关于{'、'.join(missing)}的政策，无法回答“{query.asked}”。")
    regional = region_boosts(kb, query)
    # Only documents that apply to the named region (its own, its province's, or national ones without a region)
    # may be cited for a question about it, and only they tell whether it is answered.
    candidates = [s for s in retrieved if applies(regional, s.doc, bool(query.regions))]
    found = signals(kb, query, candidates)
    probability = model.probability(found)
    outcome = model.outcome(probability)
    # A clause that holds the question's topic (in its words or the documents' words for them) in a document about
    # the place asked about, or as close in meaning as a typical answer, is never "not found": at least it is shown
    # as possibly related. A national law that happens to hold the words is not about the place.
    if outcome is Outcome.REFUSE and found.coverage >= TOPIC_PRESENT and (
            any((s.doc.doc_id in regional or not query.regions) for s in candidates[:RELATED]
                if s.coverage >= TOPIC_PRESENT)
            or found.dense >= model.typical("dense")):
        outcome = Outcome.RELATED
    if outcome is Outcome.REFUSE or not candidates:
        return Decision(Outcome.REFUSE, probability, reason=not_found(kb, query))
    # The detail must be stated where the answer would quote from: the best clause, or one nearly as strong (a
    # clause further down that says "符合条件的" or "新材料" does not state the papers or the conditions).
    if (detail := detail_asked(query.text)) is not None and not any(
            detail[1].search(s.clause.text) for s in candidates[:RELATED]
            if s.score >= SECOND_RATIO * candidates[0].score):
        top = candidates[0]
        return Decision(Outcome.REFUSE, probability, (top,), unstated=detail[0], reason=(
            f"已收录的政策文件中没有写明“{query.asked}”所问的{detail[0]}。相近的内容见《{top.doc.title}》"
            f"{top.clause.label}，但其中没有{detail[0]}，请以主管部门发布的申报通知或办事指南为准。"))
    if outcome is Outcome.RELATED and DISPUTE.search(query.text) and not any(
            DISPUTE.search(s.clause.text) for s in candidates[:RELATED]):
        # Possibly related clauses that never speak of a dispute do not help with one: say where help is.
        return Decision(Outcome.REFUSE, probability, reason=(
            f"“{query.asked}”是个人之间的法律纠纷问题，已收录的政策文件中没有相关规定。可以咨询律师，或拨打12348公共法律服务热线。"))
    if regional and elsewhere_only(kb, query, regional, candidates[:RELATED]):
        # The question's most specific word (紫金 in "深圳的紫金文化产业基金") is in another region's documents but in
        # none of these clauses: they are about something near it, and the other region's answer is named.
        return Decision(Outcome.RELATED, probability, tuple(candidates[:RELATED]), named_elsewhere=True)
    if outcome is Outcome.RELATED:
        return Decision(outcome, probability, tuple(candidates[:RELATED]))
    top = candidates[0]
    evidence = [top]
    for item in candidates[1:]:
        if len(evidence) >= limit:
            break
        if item.score >= SECOND_RATIO * top.score:
            evidence.append(item)
    # Several questions in one ("A？B？"): each gets the clause that covers it best, cited too.
    for part in query.parts[:MAX_PARTS]:
        words = topic_tokens(kb, query, tokenize(plain(part)))
        best = max(candidates, key=lambda s: coverage(kb, words, s.clause.text, query.equivalent)) if words else None
        if best is not None and best not in evidence and coverage(kb, words, best.clause.text, query.equivalent) > 0:
            evidence.append(best)
    return Decision(outcome, probability, tuple(evidence))

