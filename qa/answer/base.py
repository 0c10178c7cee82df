"""The answerer interface, shared citation building and the refusal."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator, Sequence
from itertools import chain

from qa.models import Answer, Citation, PolicyDoc, ScoredClause
from qa.prompts import load_prompt
from qa.query import Query


class Answerer(ABC):
    """Writes the answer to a query from the clauses judged relevant."""

    @abstractmethod
    def answer(self, query: Query, question: str, evidence: Sequence[ScoredClause],
               retrieved: Sequence[ScoredClause]) -> Answer:
        """Return an answer citing only clauses from `evidence`."""

    def stream(self, query: Query, question: str, evidence: Sequence[ScoredClause],
               retrieved: Sequence[ScoredClause]) -> Iterator[str | Answer]:
        """Yield text as it is produced, then the final Answer (by default: just the Answer)."""
        yield self.answer(query, question, evidence, retrieved)


def cite_line(citation: Citation) -> str:
    """Return the human citation: 依据《文件》三、（一）2.（规划期2021—2025年）."""
    when = f"（{citation.date_or_period}）" if citation.date_or_period else ""
    title = f"“{citation.title}”" if citation.title else ""
    number = f"（{citation.doc_number}）" if citation.doc_number else ""
    # "关于……的若干措施" does not say whose: name the region unless the title already does.
    region = citation.region if citation.region and citation.region[:2] not in citation.doc_title else ""
    return f"依据{region}《{citation.doc_title}》{number}{citation.clause}{title}{when}"


def make_citation(item: ScoredClause, quote: str) -> Citation:
    """Return the citation record of a clause and the sentence quoted from it."""
    return Citation(
        doc_id=item.doc.doc_id, doc_title=item.doc.title, clause_id=item.clause.clause_id,
        clause=item.clause.label, text=item.clause.text, quote=quote, title=item.clause.title,
        date_or_period=item.doc.date_or_period, doc_number=item.doc.doc_number or "", region=item.doc.region or "",
    )


# A refusal lists at most this many documents: all of a small knowledge base, a sample of a large one.
MAX_LISTED_DOCS = 8


def coverage_list(docs: Collection[PolicyDoc], nearest: Iterable[PolicyDoc] = ()) -> str:
    """Return a bullet list of the documents covered: all, or a few (nearest first) and the total."""
    # Reads at most MAX_LISTED_DOCS documents: a refusal's cost must not grow with the knowledge base.
    if len(docs) <= MAX_LISTED_DOCS:
        shown = list(docs)
    else:
        picked: dict[str, PolicyDoc] = {}
        for doc in chain(nearest, docs):
            picked.setdefault(doc.doc_id, doc)
            if len(picked) >= MAX_LISTED_DOCS:
                break
        shown = list(picked.values())
    lines = []
    for doc in shown:
        facts = "，".join(x for x in (doc.region, doc.doc_number, doc.date_or_period) if x)
        lines.append(f"- 《{doc.title}》" + (f"（{facts}）" if facts else ""))
    if len(docs) > len(shown):
        lines.append(f"等共 {len(docs)} 个文件")
    return "\n".join(lines)


def refusal(query: Query, question: str, docs: Collection[PolicyDoc], reason: str,
            retrieved: Sequence[ScoredClause] = (), suggestions: Sequence[str] = ()) -> Answer:
    """Return the plain refusal: nothing relevant was found, what the knowledge base covers, what to ask."""
    ideas = "".join(f"\n- {s}" for s in suggestions)
    tail = f"您可以试试这样问：{ideas}" if ideas else "您可以换个问法，或询问以上文件涉及的内容。"
    documents = coverage_list(docs, (s.doc for s in retrieved))
    text = load_prompt("refusal").render(reason=reason, documents=documents, next_step=tail)["text"]
    return Answer(question=question, query=query.text, text=text, answerable=False, retrieved=tuple(retrieved),
                  suggestions=tuple(suggestions))
