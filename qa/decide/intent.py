"""What the assistant will do with a question (`Intent`), decided once, from the question's words against the
knowledge base, before anything is searched."""

from __future__ import annotations

import re
from enum import Enum

from index.knowledge import KnowledgeBase
from index.lang.regions import Region
from index.lang.tokens import tokenize
from index.records import Clause
from qa.finder import PROFILE, profile_question
from qa.retrieve.hybrid import content_tokens, coverage, region_boosts, without_compounds
from qa.understand.query import Query, asks_in_general, is_vague, names_only_places
from qa.understand.wording import plain

# "比较" alone is also an adverb ("资金比较紧张"): only as a verb ("比较一下", "比较广东和江苏") does it compare.
COMPARE = re.compile(r"对比|不同|区别|差异|异同|有什么不一样|相比|比较一下|比一比"
                     r"|比较(?=[\u4e00-\u9fff]{2,}[和与跟同])")
# The share of a section title's words (weighted by rarity) a question must use to be asking for that section.
TITLE_NAMED = 0.5
LISTING = re.compile(r"有哪些|有什么|包括|包含|哪几|哪些方面|主要内容|都有")


class Intent(Enum):
    """The kind of answer a question gets; each has one answerer (qa/answer/registry.py)."""

    COURTESY = "courtesy"  # thanks or a greeting: a polite reply, no search
    PROFILE = "profile"  # an enterprise introduces itself: the measures that apply to it
    COMPARE = "compare"  # regions side by side
    CLARIFY = "clarify"  # too vague to search: a question back
    FACTS = "facts"  # about a document itself: 文号, issuer, date, validity
    SECTION = "section"  # a whole section listed, or one clause referred to by number
    ANSWER = "answer"  # answered from the clauses found
    RELATED = "related"  # no clear provision: the closest clauses, cited as related
    REFUSE = "refuse"  # nothing to answer from: say what was searched


def intent_of(kb: KnowledgeBase, query: Query, doc_ids: set[str] | None = None) -> tuple[Intent, Clause | None]:
    """Return what a question asks for: REFUSE when nothing is left to ask, PROFILE, COMPARE, CLARIFY, FACTS or
    SECTION when its words say so, else ANSWER; the clauses found may still make an ANSWER related clauses or a
    refusal (qa/decide), and a FACTS question whose document states none of the facts is read again without it.
    The section a SECTION question names comes with it (None for every other intent), so it is looked up once."""
    if not query.text:
        return Intent.REFUSE, None
    # "我是深圳的一家动漫企业（，有哪些政策可以申请？）" asks which measures apply; a story that ends in a specific
    # question ("…能不能纳入科技计划支持？") asks that question.
    if kb.measures and PROFILE.search(query.text) and asks_in_general(plain(profile_question(query.text))):
        return Intent.PROFILE, None
    if kb.measures and is_comparison(query, kb):
        return Intent.COMPARE, None
    if is_vague(query) or names_only_places(query):
        return Intent.CLARIFY, None
    if query.about_document:
        return Intent.FACTS, None
    if (section := find_section(kb, query, doc_ids)) is not None:
        return Intent.SECTION, section
    return Intent.ANSWER, None


def regions_covered(query: Query, kb: KnowledgeBase) -> list[Region]:
    """Return the regions the question names that have documents (their own or their province's)."""
    return [r for r in query.regions if kb.docs_in_region(r.name) or kb.docs_in_region(r.province)]


def is_comparison(query: Query, kb: KnowledgeBase) -> bool:
    """Return True for "广东和江苏在金融支持上有什么不同？": two or more covered regions, neither inside the other
    (苏州 and 江苏 are one place asked about twice), and a contrast word."""
    covered = regions_covered(query, kb)
    apart = [r for r in covered if not any(o is not r and o.name == r.province for o in covered)]
    return len(apart) >= 2 and bool(COMPARE.search(query.text))


def find_section(kb: KnowledgeBase, query: Query, doc_ids: set[str] | None = None) -> Clause | None:
    """Return the heading-only section whose title the question names, when it asks for a listing."""
    if not LISTING.search(query.text):
        return None
    topic = without_compounds(content_tokens(query, query.text_tokens))
    allowed = region_boosts(kb, query)
    best: tuple[tuple[float, int, int], Clause] | None = None
    for title, sections in kb.sections_by_title().items():
        # Every topic word of the question must be in the section title ("保障措施" in "四、保障措施"), and the
        # question must name the title, not share one word with it: "金融支持包括什么" is not asking for the
        # section "金融诈骗罪", nor "都有哪些部门" for "卫生行政部门行使下列监督管理职权".
        if not (topic and all(t in title for t in topic) and tokenize(title)):
            continue
        if coverage(kb, content_tokens(query, tokenize(title)), query.text) < TITLE_NAMED:
            continue
        for position, clause in sections:
            if (allowed and clause.doc_id not in allowed) or (doc_ids is not None and clause.doc_id not in doc_ids):
                continue
            # The named region's own document first, then the most specific (shortest) title, then reading order.
            rank = (-allowed.get(clause.doc_id, 1.0), len(title), position)
            if best is None or rank < best[0]:
                best = (rank, clause)
    return best[1] if best else None
