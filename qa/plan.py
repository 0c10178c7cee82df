"""The plan of an answer: what the assistant decided to do with a question and what the answer is made from; the
record between the assistant, which makes it, and the answerers, which write from it."""

from __future__ import annotations

from dataclasses import dataclass

from qa.decide.intent import Intent
from qa.records import Outcome, ScoredClause
from qa.understand.query import Query

# What an answer of each intent is; every other intent answers (qa/records.py Outcome.ANSWER).
OUTCOMES = {Intent.COURTESY: Outcome.COURTESY, Intent.CLARIFY: Outcome.CLARIFY, Intent.RELATED: Outcome.RELATED,
            Intent.REFUSE: Outcome.REFUSE}


@dataclass(frozen=True)
class Plan:
    """A question planned: its intent, the query searched, the ranked clauses found (`retrieved`, shown with the
    answer) and the clauses the answer may cite (`evidence`); the section listed (SECTION), the document asked about
    (FACTS) or why nothing is answered (REFUSE)."""

    intent: Intent
    question: str  # as the user typed it
    query: Query
    retrieved: tuple[ScoredClause, ...] = ()
    evidence: tuple[ScoredClause, ...] = ()
    section: str | None = None  # a clause id
    doc_id: str | None = None
    reason: str = ""

    def outcome(self, cited: bool) -> Outcome:
        """Return what the answer to this plan is: an answer that found nothing to cite is a refusal."""
        outcome = OUTCOMES.get(self.intent, Outcome.ANSWER)
        return Outcome.REFUSE if outcome is Outcome.ANSWER and not cited else outcome
