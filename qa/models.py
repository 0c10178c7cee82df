"""Records that cross module boundaries: PolicyDoc -> Clause -> Chunk -> ScoredClause -> Answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

HALF_WIDTH_BRACKETS = str.maketrans("（）", "()")


@dataclass(frozen=True)
class SourceText:
    """A document file read from disk: its text layer and any metadata the file or its sidecar gives."""

    path: str
    text: str
    fmt: str
    content_hash: str
    meta: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyDoc:
    """One policy document with its metadata and cleaned text."""

    doc_id: str
    title: str
    text: str
    source: str
    content_hash: str
    issuer: str | None = None
    doc_number: str | None = None
    issue_date: date | None = None
    region: str | None = None
    province: str | None = None
    period: tuple[int, int] | None = None
    target_year: int | None = None

    @property
    def date_or_period(self) -> str:
        """Return a short Chinese phrase naming the issue date and/or plan period."""
        parts = []
        if self.issue_date:
            d = self.issue_date
            parts.append(f"{d.year}年{d.month}月{d.day}日印发")
        if self.period:
            parts.append(f"规划期{self.period[0]}—{self.period[1]}年")
        return "，".join(parts)


@dataclass(frozen=True)
class Clause:
    """One numbered unit of a document (a node of its clause tree)."""

    clause_id: str
    doc_id: str
    label: str
    path: tuple[str, ...]
    heading: str
    text: str
    title: str
    start: int
    end: int
    level: int
    parent_id: str | None = None
    lead_agencies: tuple[str, ...] = ()
    partner_agencies: tuple[str, ...] = ()
    children: tuple[str, ...] = ()

    @property
    def is_retrievable(self) -> bool:
        """Return True when the clause has text of its own beyond a bare heading."""
        def bare(s: str) -> str:
            return "".join(s.split()).translate(HALF_WIDTH_BRACKETS).rstrip("。.：:")

        own = bare(self.text)
        return bool(own) and (own != bare(self.heading) or not self.children)


@dataclass(frozen=True)
class Target:
    """A quantitative target stated in a clause: "建成12家左右……示范基地" by 2025."""

    text: str
    value: float
    unit: str
    qualifier: str
    subject: str
    year: int | None


@dataclass(frozen=True)
class Measure:
    """A support measure extracted from one clause: what kind, for whom, in which industries, who leads."""

    clause_id: str
    doc_id: str
    label: str
    title: str
    summary: str
    types: tuple[str, ...]
    beneficiaries: tuple[str, ...]
    industries: tuple[str, ...]
    region: str | None
    province: str | None
    issuer: str | None
    lead_agencies: tuple[str, ...]
    partner_agencies: tuple[str, ...]
    targets: tuple[Target, ...]
    period: tuple[int, int] | None


@dataclass(frozen=True)
class Chunk:
    """One retrieval unit: a clause or a sentence-aligned piece of a long clause."""

    chunk_id: str
    clause_id: str
    doc_id: str
    label: str
    text: str
    indexed_text: str
    content_hash: str


@dataclass(frozen=True)
class ScoredClause:
    """A retrieved clause with its fused score and the signals behind it."""

    clause: Clause
    doc: PolicyDoc
    score: float
    lexical: float = 0.0
    dense: float = 0.0
    coverage: float = 0.0


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

    def to_json(self) -> dict[str, str]:
        """Return the citation as the batch/API output record."""
        return {
            "doc_title": self.doc_title,
            "clause": self.clause,
            "text": self.text,
            "quote": self.quote,
            "clause_id": self.clause_id,
            "doc_id": self.doc_id,
        }


@dataclass(frozen=True)
class Answer:
    """The assistant's reply: text, whether it answered, its citations and the ranked evidence."""

    question: str
    query: str
    text: str
    answerable: bool
    citations: tuple[Citation, ...] = ()
    retrieved: tuple[ScoredClause, ...] = ()
    notices: tuple[str, ...] = field(default_factory=tuple)
    suggestions: tuple[str, ...] = ()
    traditional: bool = False

    def to_json(self, qid: str | None = None) -> dict[str, object]:
        """Return the batch output record of this answer."""
        out: dict[str, object] = {} if qid is None else {"id": qid}
        out.update(
            answer=self.text,
            answerable=self.answerable,
            citations=[c.to_json() for c in self.citations],
            retrieved=[
                {
                    "doc_title": s.doc.title,
                    "clause": s.clause.label,
                    "text": s.clause.text,
                    "score": round(s.score, 6),
                    "clause_id": s.clause.clause_id,
                }
                for s in self.retrieved
            ],
        )
        if qid is not None or self.query != self.question:
            out["query"] = self.query
        if self.suggestions:
            out["suggestions"] = list(self.suggestions)
        return out
