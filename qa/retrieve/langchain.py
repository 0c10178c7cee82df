"""The retrieval stage as a langchain retriever: clauses as Documents, usable in any LCEL chain."""

from __future__ import annotations

from collections.abc import Callable

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from qa.records import Citation, ScoredClause
from qa.understand.query import Query


class PolicyRetriever(BaseRetriever):
    """Returns the clauses retrieved for a question, best first, each with its citation as metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    # How the assistant reads a question (slips corrected against its corpus) and searches (reranked when set).
    understand: Callable[[str], Query]
    search: Callable[[Query], list[ScoredClause]]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        """Return a Document per retrieved clause: its text, and its citation fields and score as metadata."""
        return [Document(page_content=s.clause.text, id=s.clause.clause_id,
                         metadata={**Citation.of(s.clause, s.doc, "").to_json(), "score": s.score})
                for s in self.search(self.understand(query))]
