"""What the assistant will do with a question (`Intent`), decided once, from the question's words against the
knowledge base, before anything is searched."""

from __future__ import annotations

from enum import Enum

from index.knowledge import KnowledgeBase
from qa.answer.comparison import is_comparison
from qa.answer.overview import find_section
from qa.finder import PROFILE, profile_question
from qa.understand.query import Query, asks_in_general, is_vague, names_only_places
from qa.understand.wording import plain


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


def intent_of(kb: KnowledgeBase, query: Query, doc_ids: set[str] | None = None) -> Intent:
    """Return what a question asks for: REFUSE when nothing is left to ask, PROFILE, COMPARE, CLARIFY, FACTS or
    SECTION when its words say so, else ANSWER; the clauses found may still make an ANSWER related clauses or a
    refusal (qa/decide), and a FACTS question whose document states none of the facts is read again without it."""
    if not query.text:
        return Intent.REFUSE
    # "我是深圳的一家动漫企业（，有哪些政策可以申请？）" asks which measures apply; a story that ends in a specific
    # question ("…能不能纳入科技计划支持？") asks that question.
    if kb.measures and PROFILE.search(query.text) and asks_in_general(plain(profile_question(query.text))):
        return Intent.PROFILE
    if kb.measures and is_comparison(query, kb):
        return Intent.COMPARE
    if is_vague(query) or names_only_places(query):
        return Intent.CLARIFY
    if query.about_document:
        return Intent.FACTS
    if find_section(kb, query, doc_ids) is not None:
        return Intent.SECTION
    return Intent.ANSWER
