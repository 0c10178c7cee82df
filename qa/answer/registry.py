"""The answerer of every intent, registered in one place."""

from __future__ import annotations

from collections.abc import Callable

from index.knowledge import KnowledgeBase
from qa.answer.base import Answerer
from qa.answer.checklist import ChecklistAnswerer, Checklists
from qa.answer.clarify import ClarifyAnswerer
from qa.answer.comparison import ComparisonAnswerer
from qa.answer.courtesy import CourtesyAnswerer
from qa.answer.facts import FactsAnswerer
from qa.answer.overview import OverviewAnswerer
from qa.answer.refusal import RefusalAnswerer
from qa.answer.related import RelatedAnswerer
from qa.decide.intent import Intent


def answerers(kb: KnowledgeBase, answerer: Answerer, answerable: Callable[[str], bool],
              checklists: Checklists) -> dict[Intent, Answerer]:
    """Return the answerer of each intent: `answerer` (extractive or LLM) answers from the clauses found,
    `answerable` vets the questions a refusal or a question back suggests, and `checklists` are the profile
    questions' checklists, shared with the plans."""
    return {
        Intent.COURTESY: CourtesyAnswerer(),
        Intent.PROFILE: ChecklistAnswerer(checklists),
        Intent.COMPARE: ComparisonAnswerer(kb),
        Intent.CLARIFY: ClarifyAnswerer(kb, answerable),
        Intent.FACTS: FactsAnswerer(kb),
        Intent.SECTION: OverviewAnswerer(kb),
        Intent.ANSWER: answerer,
        Intent.RELATED: RelatedAnswerer(),
        Intent.REFUSE: RefusalAnswerer(kb, answerable),
    }
