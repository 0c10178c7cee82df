"""Records of answering: ScoredClause (retrieval) -> Citation -> Answer, an answer being structured parts that each
surface renders (plain text, WeChat text, the page's Markdown, JSON: qa/render/); nothing downstream parses prose.
A record's JSON form is a TypedDict declared here once: its `to_json` returns it and the HTTP API's schema is it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict

from index.lang.sentences import split_sentences
from index.records import Clause, PolicyDoc

# A clause longer than a reader takes in at a glance: its citation also names the quoted sentences.
LONG_CLAUSE = 300


class ScoredClauseJSON(TypedDict):
    """A retrieved clause with its score, as the batch/API output record."""

    doc_title: str
    clause: str
    clause_id: str
    text: str
    score: float


@dataclass(frozen=True)
class ScoredClause:
    """A retrieved clause with its fused score and the signals behind it."""

    clause: Clause
    doc: PolicyDoc
    score: float
    lexical: float = 0.0
    dense: float = 0.0
    coverage: float = 0.0
    # The part of a long clause that matched (its best chunk); empty when the clause is one chunk.
    passage: str = ""

    @property
    def evidence(self) -> str:
        """Return the text that matched: the passage of a long clause, else the whole clause."""
        return self.passage or self.clause.text

    def to_json(self) -> ScoredClauseJSON:
        """Return the retrieved clause as the batch/API output record; `text` is the passage that matched."""
        return {"doc_title": self.doc.title, "clause": self.clause.label, "clause_id": self.clause.clause_id,
                "text": self.evidence, "score": round(self.score, 6)}


class CitationJSON(TypedDict):
    """A cited clause, as the batch/API output record."""

    doc_id: str
    doc_title: str
    clause_id: str
    clause: str
    title: str
    text: str
    quote: str
    sentences: Annotated[str, Field(description="长条款中被引用的句子位置，如 第3—4句")]
    source: Annotated[str, Field(description="可直接展示的出处，如 依据《文件》（文号）三、（一）“标题”（日期）")]
    url: Annotated[str, Field(description="文件在政府网站上的原文地址（查看原文）；未知时为空")]


@dataclass(frozen=True)
class Citation:
    """A cited clause: what the answer relies on, with the sentence it quotes."""

    doc_id: str
    doc_title: str
    clause_id: str
    clause: str
    text: str
    quote: str
    title: str = ""
    date_or_period: str = ""
    doc_number: str = ""
    region: str = ""
    # Which sentences of a long clause the quote is ("第3—4句"), so a reader finds them in a long paragraph.
    sentences: str = ""
    url: str = ""  # where the government published the document: shown as 查看原文
    part_of: str = ""  # for an attachment: "《关于印发……的通知》附件1"

    @classmethod
    def of(cls, clause: Clause, doc: PolicyDoc, quote: str | Excerpt) -> Citation:
        """Return the citation of a clause and what is quoted from it: an excerpt knows which of the clause's
        sentences it is; a quote written otherwise (a header line, a section's first sentences) is looked up."""
        if isinstance(quote, Excerpt):
            quoted, span = quote.text, quote.span
        else:
            quoted, span = quote, sentence_span(clause.text, quote) if len(clause.text) > LONG_CLAUSE else ""
        return cls(doc_id=doc.doc_id, doc_title=doc.title, clause_id=clause.clause_id, clause=clause.label,
                   text=clause.text, quote=quoted, title=clause.title, date_or_period=doc.date_or_period,
                   doc_number=doc.doc_number or "", region=doc.region or "", url=doc.url or "",
                   part_of=doc.part_name if doc.part_of else "", sentences=span)

    @property
    def source(self) -> str:
        """Return the human citation: 依据《文件》（文号）三、（一）2.“标题”（规划期2021—2025年）."""
        when = f"（{self.date_or_period}）" if self.date_or_period else ""
        title = f"“{self.title}”" if self.title else ""
        # An attachment is cited by its own title, with the notice it came with: 《办法》（《通知》附件1，文号）.
        number = "，".join(x for x in (self.part_of, self.doc_number) if x)
        number = f"（{number}）" if number else ""
        # "关于……的若干措施" does not say whose: name the region unless the title already does.
        region = self.region if self.region and self.region[:2] not in self.doc_title else ""
        return f"依据{region}《{self.doc_title}》{number}{self.clause}{self.sentences}{title}{when}"

    def to_json(self) -> CitationJSON:
        """Return the citation as the batch/API output record."""
        return {"doc_id": self.doc_id, "doc_title": self.doc_title, "clause_id": self.clause_id,
                "clause": self.clause, "title": self.title, "text": self.text, "quote": self.quote,
                "sentences": self.sentences, "source": self.source, "url": self.url}


@dataclass(frozen=True)
class Excerpt:
    """Sentences chosen from a clause to quote: the quote as shown (runs of adjacent sentences joined by "……")
    and which of the clause's sentences it is ("第3—4句" for a long clause, else "")."""

    text: str
    span: str = ""

    @classmethod
    def of(cls, clause: str, runs: Sequence[str]) -> Excerpt:
        """Return the excerpt of runs of adjacent sentences chosen from a clause's text."""
        quote = "……".join(runs)
        return cls(quote, _span(split_sentences(clause), runs) if len(clause) > LONG_CLAUSE else "")


def sentence_span(text: str, quote: str) -> str:
    """Return the positions of the quoted sentences in a text: "第3句", "第3—4句", "第2、5句"; "" when not found."""
    return _span(split_sentences(text), quote.split("……"))


def _span(sentences: Sequence[str], runs: Sequence[str]) -> str:
    """Return the positions of the sentences that the runs of quoted text are or lie in, as words."""
    found = sorted({i for part in runs if part.strip()
                    for i, s in enumerate(sentences, 1) if part.strip() in s or s in part})
    runs_of: list[list[int]] = []
    for i in found:
        if runs_of and i == runs_of[-1][-1] + 1:
            runs_of[-1].append(i)
        else:
            runs_of.append([i])
    spans = [str(r[0]) if len(r) == 1 else f"{r[0]}—{r[-1]}" for r in runs_of]
    return f"第{'、'.join(spans)}句" if spans else ""


# The parts of an answer. `cites` are 1-based positions in Answer.citations.

@dataclass(frozen=True)
class Paragraph:
    """Prose written for the answer (a lead-in, a verified LLM sentence, a refusal), with what it relies on."""

    text: str
    cites: tuple[int, ...] = ()
    # Spans of the text that are the user's own words (a refusal echoing the question): shown exactly as typed,
    # never converted to traditional script with the rest.
    literal: tuple[str, ...] = ()


@dataclass(frozen=True)
class Quote:
    """Sentences quoted verbatim from one cited clause, shown with its source right after."""

    text: str
    cite: int
    lead: str = ""  # what the quote answers, e.g. "1. 强化政策引导："


@dataclass(frozen=True)
class Heading:
    """A group heading inside a list (a measure type in a checklist)."""

    text: str


@dataclass(frozen=True)
class Item:
    """One entry of a list."""

    text: str
    cites: tuple[int, ...] = ()


@dataclass(frozen=True)
class Table:
    """A table, e.g. regions side by side: each cell is a list of entries, each entry with its own citations."""

    columns: tuple[str, ...]
    rows: tuple[tuple[tuple[Item, ...], ...], ...]


@dataclass(frozen=True)
class Sources:
    """The list of every citation's source, here."""


@dataclass(frozen=True)
class Notice:
    """Something the reader must know about the answer (a shortened question, an out-of-date document)."""

    text: str


Part = Paragraph | Quote | Heading | Item | Table | Sources | Notice


class Outcome(StrEnum):
    """What became of a question: what the decision leads to and what the answer is."""

    # A str enum: the JSON, the stores and the page keep the words they have always had ("answer", …).
    ANSWER = "answer"  # a cited answer
    RELATED = "related"  # no clear provision: the closest clauses, cited as related
    REFUSE = "refuse"  # nothing relevant: say what was searched
    CLARIFY = "clarify"  # too vague to search: a question back
    COURTESY = "courtesy"  # thanks or a greeting, answered politely without a search


@dataclass(frozen=True)
class Answer:
    """The assistant's reply: its parts, what became of the question, its citations and the ranked evidence.

    `traditional` asks every rendering to be in traditional characters; the parts stay as the documents say. An
    answerer writes the parts and citations; the assistant stamps the question, query, ranked evidence and outcome."""

    question: str = ""
    query: str = ""
    parts: tuple[Part, ...] = ()
    citations: tuple[Citation, ...] = ()
    retrieved: tuple[ScoredClause, ...] = ()
    suggestions: tuple[str, ...] = ()
    traditional: bool = False
    outcome: Outcome = Outcome.ANSWER

    @property
    def answerable(self) -> bool:
        """Return True when the answer cites clauses as the answer or as related to it."""
        return self.outcome in (Outcome.ANSWER, Outcome.RELATED)


    @property
    def notices(self) -> tuple[str, ...]:
        """Return the notices of the answer."""
        return tuple(p.text for p in self.parts if isinstance(p, Notice))
