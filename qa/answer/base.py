"""The answerer interface: a strategy that writes one kind of answer from a plan."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING

from qa.records import Answer

if TYPE_CHECKING:
    # Only for annotations: deciding a plan's intent asks predicates that live with the answers (comparison,
    # overview), so the plan cannot be imported by them at run time.
    from qa.plan import Plan


class Answerer(ABC):
    """Writes the answer a plan calls for: its parts, citations and suggestions (the assistant stamps the rest)."""

    @abstractmethod
    def answer(self, plan: Plan) -> Answer:
        """Return an answer citing only clauses from the plan's evidence."""

    def stream(self, plan: Plan) -> Iterator[str | Answer]:
        """Yield text as it is produced, then the final Answer (by default: just the Answer)."""
        yield self.answer(plan)
