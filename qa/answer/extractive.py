"""The default answerer without an LLM: quote the most relevant sentences of the best clauses, cited."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from index.lang.boilerplate import content, statements
from index.lang.sentences import split_sentences_without
from index.lang.terms import AGENCY as AGENCY_NAME
from index.lang.text import AGENCY_NOTE
from index.records import PolicyDoc
from qa.answer.base import Answerer
from qa.records import Answer, Citation, Excerpt, Paragraph, Part, Quote
from qa.understand.asks import Ask, holds
from qa.understand.query import Query
from qa.understand.vocabulary import covers

if TYPE_CHECKING:
    from qa.plan import Plan

HAS_NUMBER = re.compile(r"\d|(?!一批)[一二三四五六七八九十百千万亿]+[家个项所批]")
# A sentence that states the kind of fact asked for (a count, the lead agency, a date) gains this much.
HOLDS_BONUS = 0.5
FORMS_BONUS = 0.02
AGENCY = re.compile(AGENCY_NOTE)
# A direct answer is one phrase of the quote: between commas, semicolons or sentence ends.
PHRASE = re.compile(r"[，。；;！？]|……")
YEAR = re.compile(r"\d{4}年|[〇○零一二三四五六七八九]{4}年")
DIRECT_CHARS = 80
SHORTEST = 8
# Kinds of question one sentence answers: it is quoted first, and alone unless another is nearly as good.
DIRECT = frozenset({Ask.AMOUNT, Ask.WHO, Ask.WHEN, Ask.VALIDITY})
# "包括什么 / 有哪些" asks for the whole enumeration.
LIST_LIMIT = 4
LABEL = re.compile(r"^\s*(?:[（(][一二三四五六七八九十百\d]+[）)]|[一二三四五六七八九十百\d]+[、.．])\s*")


def _sentence_scores(query: Query, sentences: list[str]) -> list[float]:
    """Return how well each sentence matches the query: share of query tokens it contains (an everyday word
    through the documents' word for it), more when it states the kind of fact asked for."""
    tokens = list(dict.fromkeys(query.tokens))
    equivalent = query.equivalent
    # A telling word (贷款) outweighs common ones (文化, 企业) when the corpus is known; else longer words count more.
    weights = dict(query.weights) or {t: float(len(t)) for t in tokens}
    total = sum(weights.get(t, len(t)) for t in tokens) or 1.0
    scores = []
    for sentence in sentences:
        lowered = sentence.lower()
        score = sum(weights.get(t, len(t)) * covers(t, lowered, equivalent) for t in tokens) / total
        # Of two sentences that hold an everyday word's official form, the one that holds more of them says more
        # about it ("专项资金……配套资金" over "财政投入").
        score += FORMS_BONUS * sum(f in lowered for t in tokens if t not in lowered for f in equivalent.get(t, ()))
        if holds(query.ask, sentence):
            score += HOLDS_BONUS
        elif query.wants_quantity and HAS_NUMBER.search(sentence):
            score += 0.3
        scores.append(score)
    return scores


def best_sentences(query: Query, text: str, heading: str = "", limit: int = 2, without_figures: bool = False,
                   source: str | None = None, clause: str | None = None) -> Excerpt:
    """Return the excerpt of the sentences of a clause that answer the query, in reading order; only those without
    figures when asked (none when every sentence has one). `source` is the clause a passage comes from, `clause`
    the text whose sentences the excerpt's span counts (default: `source`, else `text`). A heading that is itself
    a rule ("本措施自发布之日起实施") counts as a sentence when it states the fact asked for."""
    whole = clause if clause is not None else source if source is not None else text
    kept = (statements if query.about_document else content)(text, source)
    sentences = split_sentences_without(kept, heading)
    if query.ask is Ask.WHO:
        # Who leads is said in the agency note ("（省科技厅牵头，……按职责分工负责）"), which is otherwise left out.
        sentences += [m.group(0) for m in AGENCY.finditer(kept) if m.group(0) not in sentences]
    title = LABEL.sub("", heading).strip()
    if title and holds(query.ask, title) and query.ask in DIRECT and not any(title in s for s in sentences):
        sentences.insert(0, title + "。")
    if without_figures:
        sentences = [s for s in sentences if not HAS_NUMBER.search(s)]
        if not sentences:
            return Excerpt.of(whole, [])
    if not sentences:
        return Excerpt.of(whole, [text.strip()])
    scores = _sentence_scores(query, sentences)
    top = max(scores)
    if top <= 0:
        return Excerpt.of(whole, sentences[:1])
    if query.ask is Ask.LIST:
        limit = max(limit, LIST_LIMIT)
    ranked = sorted(range(len(sentences)), key=lambda i: scores[i], reverse=True)
    floor = 0.9 if query.ask in DIRECT else 0.6
    chosen = sorted(i for i in ranked[:limit] if scores[i] >= floor * top)
    if query.ask is Ask.WHO and not any(holds(Ask.WHO, sentences[i]) for i in chosen):
        # "……谁负责": the clause's agency note ("（责任单位：省人力社保厅、省财政厅）") says who, whatever else the
        # sentences that repeat the topic's words say.
        notes = [i for i, sentence in enumerate(sentences) if AGENCY.fullmatch(sentence)]
        chosen = sorted({*chosen, *notes[:1]})
    # Sentences that are not next to each other in the clause are joined with an ellipsis, never glued.
    runs: list[str] = []
    for k, i in enumerate(chosen):
        if k and i == chosen[k - 1] + 1:
            runs[-1] += sentences[i]
        else:
            runs.append(sentences[i])
    return Excerpt.of(whole, runs)


def direct(query: Query, quote: str) -> str | None:
    """Return the phrase of a quote that states the fact a count, who or when question asks for (with the year
    phrase before a count: "到2025年，……建成12家左右……"), or None when the question is of another kind or no phrase
    holds the fact; the phrase is the quote's own words."""
    if query.ask not in DIRECT or not quote:
        return None
    phrases = [p for p in PHRASE.split(quote.strip("。…")) if p]
    tokens = list(dict.fromkeys(query.tokens))
    scored = [(sum(covers(t, p, query.equivalent) * len(t) for t in tokens), i) for i, p in enumerate(phrases)
              if holds(query.ask, p)]
    if query.ask is Ask.WHO and any("牵头" in phrases[i] for _, i in scored):
        scored = [(score, i) for score, i in scored if "牵头" in phrases[i]]  # who leads, not who takes part
    if query.ask is Ask.WHO and any(AGENCY_NAME.search(phrases[i]) for _, i in scored):
        # "深圳谁负责": the phrase naming the agencies answers, not "负责统筹协调全市……工作" that repeats the word.
        scored = [(score, i) for score, i in scored if AGENCY_NAME.search(phrases[i])]
    if not scored:
        return None
    _, i = max(scored, key=lambda x: (x[0], -x[1]))
    phrase = _balanced(phrases[i])
    if query.ask is Ask.AMOUNT and i and YEAR.search(phrases[i - 1]) and not YEAR.search(phrase):
        phrase = f"{_balanced(phrases[i - 1])}，{phrase}"
    if len(phrase) < SHORTEST and i + 1 < len(phrases):
        phrase = f"{phrase}，{_balanced(phrases[i + 1])}"  # "到2025年" alone says when, not what
    if phrase[:1] in "（(" and phrase[-1:] in "）)":
        phrase = phrase[1:-1]  # an agency note opens the answer as what it says: "责任单位：省人力社保厅、省财政厅"
    same = phrase.strip("。") == quote.strip("。")
    return phrase if phrase and not same and len(phrase) <= DIRECT_CHARS else None


def _balanced(phrase: str) -> str:
    """Return a phrase without a bracket the comma split left open ("（省科技厅牵头" -> "省科技厅牵头")."""
    phrase = phrase.strip()
    if phrase.count("（") + phrase.count("(") > phrase.count("）") + phrase.count(")"):
        phrase = phrase.lstrip("（(")
    if phrase.count("）") + phrase.count(")") > phrase.count("（") + phrase.count("("):
        phrase = phrase.rstrip("）)")
    return phrase


def within(query: Query, doc: PolicyDoc) -> Query:
    """Return the query as read inside one of its places' own documents: the place's name chose the document and
    says nothing of which sentence answers ("深圳要搞几大工程" is about 工程, not the sentence that says 深圳)."""
    names = {form for r in query.regions if r.name == doc.region for form in (r.name, r.short)}
    if not names:
        return query
    return dataclasses.replace(query, tokens=tuple(t for t in query.tokens if t not in names))


class ExtractiveAnswerer(Answerer):
    """Answers with exact sentences from the clauses, each followed by its citation."""

    def answer(self, plan: Plan) -> Answer:
        """Return the quoted sentences with citations; the plan's evidence must be non-empty."""
        query, evidence = plan.query, plan.evidence
        citations: list[Citation] = []
        lead_in = "根据已收录的政策文件：" if len(evidence) == 1 else "根据已收录的政策文件，相关规定如下："
        parts: list[Part] = [Paragraph(lead_in)]
        # A long clause is quoted from the passage that matched, not from wherever its words recur.
        excerpts = [best_sentences(within(query, item.doc), item.evidence, item.clause.heading.split("\n")[0],
                                   source=item.clause.text) for item in evidence]
        if (short := direct(within(query, evidence[0].doc), excerpts[0].text)) is not None:
            # "多少/谁牵头/什么时候" gets its fact first, in the quote's own words, then the quote it comes from.
            parts = [Paragraph(f"{short}。", cites=(1,))]
        for n, (item, excerpt) in enumerate(zip(evidence, excerpts, strict=True), 1):
            citations.append(Citation.of(item.clause, item.doc, excerpt))
            parts.append(Quote(excerpt.text, n, f"{n}. " if len(evidence) > 1 else ""))
        return Answer(parts=tuple(parts), citations=tuple(citations))
