"""The default answerer without an LLM: quote the most relevant sentences of the best clauses, cited."""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.chunking import split_sentences_without
from index.lexical import tokenize
from qa.answer.base import Answerer
from qa.query import Query
from qa.records import Answer, Citation, Paragraph, Part, Quote, ScoredClause

HAS_NUMBER = re.compile(r"\d|[一二三四五六七八九十百千万亿]+[家个项所批]")
# "什么时候/何时/多久" asks for a date or a length of time: a sentence that states one is the answer.
WHEN = re.compile(r"什么时候|何时|哪天|哪一天|几号|几月|日期|时间|期限|截止|多久|多长时间")


def _sentence_scores(query: Query, sentences: list[str]) -> list[float]:
    """Return how well each sentence matches the query: share of query tokens it contains."""
    tokens = list(dict.fromkeys(tokenize(query.focus or query.text)))
    scores = []
    for sentence in sentences:
        hit = sum(len(t) for t in tokens if t in sentence.lower())
        score = hit / (sum(len(t) for t in tokens) or 1)
        if (query.wants_quantity or WHEN.search(query.text)) and HAS_NUMBER.search(sentence):
            score += 0.3
        scores.append(score)
    return scores


def best_sentences(query: Query, text: str, heading: str = "", limit: int = 2,
                   without_figures: bool = False) -> list[str]:
    """Return the sentences of a clause that answer the query, in reading order; only those without figures when
    asked (none when every sentence has one)."""
    sentences = split_sentences_without(text, heading)
    if without_figures:
        sentences = [s for s in sentences if not HAS_NUMBER.search(s)]
        if not sentences:
            return []
    if not sentences:
        return [text.strip()]
    scores = _sentence_scores(query, sentences)
    top = max(scores)
    if top <= 0:
        return sentences[:1]
    ranked = sorted(range(len(sentences)), key=lambda i: scores[i], reverse=True)
    chosen = sorted(i for i in ranked[:limit] if scores[i] >= 0.6 * top)
    # Sentences that are not next to each other in the clause are joined with an ellipsis, never glued.
    return [("……" if k and i != chosen[k - 1] + 1 else "") + sentences[i] for k, i in enumerate(chosen)]


class ExtractiveAnswerer(Answerer):
    """Answers with exact sentences from the clauses, each followed by its citation."""

    def answer(self, query: Query, question: str, evidence: Sequence[ScoredClause],
               retrieved: Sequence[ScoredClause]) -> Answer:
        """Return the quoted sentences with citations; evidence must be non-empty."""
        citations: list[Citation] = []
        lead_in = "根据已收录的政策文件：" if len(evidence) == 1 else "根据已收录的政策文件，相关规定如下："
        parts: list[Part] = [Paragraph(lead_in)]
        for n, item in enumerate(evidence, 1):
            # A long clause is quoted from the passage that matched, not from wherever its words recur.
            quote = "".join(best_sentences(query, item.evidence, item.clause.heading.split("\n")[0]))
            citations.append(Citation.of(item.clause, item.doc, quote))
            parts.append(Quote(quote, n, f"{n}. " if len(evidence) > 1 else ""))
        return Answer(question=question, query=query.text, parts=tuple(parts), answerable=True,
                      citations=tuple(citations), retrieved=tuple(retrieved))
