"""The question as understood carries what every stage reads of it, computed once."""

from __future__ import annotations

import pytest

from index.lang.tokens import tokenize
from qa.understand.query import parse_query


@pytest.mark.parametrize("question", ["江苏有哪些文化产业基金可以用？", "你好，我想问一下深圳的动漫企业有补贴吗？谢谢",
                                      "谢谢", "那江苏呢？", "Hello", ""])
def test_query_carries_its_tokens(question: str) -> None:
    """`tokens` are the words searched for (the focus's, the whole text's when the question has no focus) and
    `text_tokens` the whole text's: segmented once, when the question is parsed, not again by every stage."""
    query = parse_query(question)
    assert query.tokens == tuple(tokenize(query.focus or query.text))
    assert query.text_tokens == tuple(tokenize(query.text))
