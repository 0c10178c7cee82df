"""An answer as its one JSON form, the output record of the CLI (`ask --json`, `batch`) and of `/api/ask`; the
TypedDict is also that route's response schema, so the record and the API cannot drift apart."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict

from index.lang.script import to_traditional
from qa.records import Answer, CitationJSON, Outcome, ScoredClauseJSON
from qa.render.plain import plain_text


class AnswerJSON(TypedDict):
    """The assistant's answer: the batch output record."""

    answer: str
    answerable: bool
    outcome: Annotated[Outcome, Field(
        description="answer：有明确依据；related：没有明确规定，列出可能相关的条款；refuse：没有找到；clarify：问题过于宽泛，"
                    "请补充；courtesy：问候或致谢，礼貌回复，未检索")]
    query: str
    citations: list[CitationJSON]
    retrieved: list[ScoredClauseJSON]
    suggestions: list[str]


class BatchRecord(AnswerJSON):
    """A batch line's answer, with the id of its question first."""

    id: str


def answer_json(answer: Answer) -> AnswerJSON:
    """Return the output record of an answer: its plain text (numbered citations), outcome, citations and evidence."""
    return {"answer": plain_text(answer), "answerable": answer.answerable, "outcome": answer.outcome,
            "query": answer.query, "citations": [c.to_json() for c in answer.citations],
            "retrieved": [s.to_json() for s in answer.retrieved],
            "suggestions": [to_traditional(s) if answer.traditional else s for s in answer.suggestions]}


def batch_record(qid: str, answer: Answer) -> BatchRecord:
    """Return the output record of an answer to the batch question with this id."""
    return {"id": qid, **answer_json(answer)}
