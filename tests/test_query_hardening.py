"""Questions from any surface (the page, the CLI, a library caller) that used to break the answering core."""

from __future__ import annotations

import json

import pytest

from qa.assistant import Assistant

QUESTION = "江苏有哪些文化产业基金可以用？"


@pytest.mark.parametrize("where", ["question", "history"])
def test_lone_surrogate_reaches_no_encoder(assistant: Assistant, where: str) -> None:
    """A lone surrogate (a JSON "\\udc00" from a browser, an undecodable argv byte) is replaced, not a crash in
    opencc, SQLite or the JSON response."""
    question, history = (f"\udc00{QUESTION}", []) if where == "question" else (QUESTION, ["\ud800江苏"])
    answer = assistant.ask(question, history)
    json.dumps(answer.to_json()).encode("utf-8")
    answer.text.encode("utf-8")
    assert answer.answerable and "紫金" in answer.text
