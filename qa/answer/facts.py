"""Questions about a document itself ("文号是多少", "哪个部门发的", "什么时候发的", "现在还有效吗"): answered from
its header, signature and 版记 lines, each fact quoted from the line that states it and cited."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from index.knowledge import KnowledgeBase
from index.lang.boilerplate import AGENCY
from index.records import Clause, PolicyDoc
from qa.answer.base import Answerer
from qa.records import Answer, Citation, Paragraph, Part, Quote, ScoredClause
from qa.retrieve.hybrid import coverage, topic_tokens, without_compounds
from qa.understand.query import Query

if TYPE_CHECKING:
    from qa.plan import Plan

NUMBER = re.compile(r"文号|字号|发文号|文件号|编号")
ISSUER = re.compile(r"哪个部门|哪些部门|哪几个部门|什么部门|哪个单位|哪些单位|谁发|谁出|谁制定|谁印发|发给|一起出|联合")
DATE = re.compile(r"什么时候|啥时候|何时|哪年|哪一年|几几年|日期|哪天|几月")
VALID = re.compile(r"有效|过期|失效|管用|还适用|还执行|到期|开始|生效|施行")
ADDRESSEES = re.compile(r"发给|主送|下发|发到|给谁|哪些单位")
INTERPRETER = re.compile(r"负责解释|解释权|谁解释|谁来解释|部门解释")
INTERPRETS = re.compile(r"[^。；]{0,20}由[^。]{0,40}负责解释|[^。；]{0,20}解释权[^。]{0,30}")
BASIS = re.compile(r"根据哪|依据哪|根据什么|依据什么|哪个文件定|依据的|根据的")
ADDRESSED = re.compile(r"^各[^。]{0,80}[:：]$")
FOUNDED = re.compile(r"《[^》]+》")
FOUNDING = re.compile(r"贯彻落实|根据|依据")
DATED = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")
WRITTEN_YEAR = re.compile(r"^[〇○零一二三四五六七八九]{4}年[一二三四五六七八九十]{1,2}月[一二三四五六七八九十]{1,3}日$")
SIGNED = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日\s*印发")
# The lines that state when a document took effect or who issued it.
PERIOD = re.compile(r"[（(]\s*\d{4}\s*[-—–－至]+\s*\d{4}\s*年?\s*[)）]")
IN_FORCE = re.compile(r"自[^。]{0,12}之日起[^。]{0,6}(?:施行|实施|执行)|有效期[^。]{0,30}|(?:施行|实施)期限[^。]{0,30}")


def names_document(kb: KnowledgeBase, query: Query, doc: PolicyDoc) -> bool:
    """Return True when the question is about this document: what it says of its topic is in the document's title
    ("江苏文化科技那个文件的文号"), or it says nothing but the document's place ("江苏的文件是哪年发的"); a question
    about something else ("一带一路倡议是哪一年提出的") is not about a document that happens to rank first."""
    topic = without_compounds([t for t in topic_tokens(kb, query, query.tokens) if not DOCUMENT_WORDS.search(t)])
    # "深圳的措施啥时候开始实施的" is about Shenzhen's own document: a national law that ranks first is not it.
    if query.regions and doc.region not in {r.name for r in query.regions}:
        return False
    return not topic or coverage(kb, topic, f"{doc.title}{doc.region or ''}") >= TITLE_SHARE


def stated_facts(kb: KnowledgeBase, query: Query, doc: PolicyDoc) -> list[tuple[str, Clause, str]]:
    """Return (kind, clause, line) for each fact about the document the question asks for that its own lines state."""
    clauses = kb.clauses_of(doc.doc_id)
    text = query.text
    # "啥时候开始实施的" is answered by the 实施 rule first, then the date it counts from.
    kinds = (("number", NUMBER), ("to", ADDRESSEES), ("basis", BASIS), ("interpreter", INTERPRETER),
             ("issuer", ISSUER), ("valid", VALID), ("date", DATE))
    wanted = [kind for kind, pattern in kinds if pattern.search(text)]
    for asked in ("to", "interpreter"):
        if asked in wanted and "issuer" in wanted:
            wanted.remove("issuer")  # "发给哪些单位", "哪个部门负责解释" ask who receives or interprets it
    found: list[tuple[str, Clause, str]] = []
    for kind in wanted:
        fact = _fact(kind, doc, clauses)
        if fact is None and kind in FALLBACK:
            kind = FALLBACK[kind]
            fact = _fact(kind, doc, clauses)
        if fact is not None:
            found.append((kind, *fact))
    return found


def facts_evidence(kb: KnowledgeBase, query: Query, doc: PolicyDoc) -> tuple[ScoredClause, ...]:
    """Return the clauses that state the facts asked for, each once, as ranked first."""
    stating = dict.fromkeys(c for _, c, _ in stated_facts(kb, query, doc))
    return tuple(ScoredClause(c, doc, 1.0, 0.0, 0.0, 1.0) for c in stating)


class FactsAnswerer(Answerer):
    """Answers a question about a document itself from the lines that state each fact."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def answer(self, plan: Plan) -> Answer:
        """Return the facts asked for about the plan's document, each with the line that states it."""
        doc = self.kb.docs[plan.doc_id or ""]
        parts: list[Part] = [Paragraph(f"关于《{doc.title}》：")]
        citations: list[Citation] = []
        for n, (kind, clause, line) in enumerate(stated_facts(self.kb, plan.query, doc), 1):
            citations.append(Citation.of(clause, doc, line))
            parts.append(Quote(line, n, f"{LABELS[kind]}："))
        return Answer(parts=tuple(parts), citations=tuple(citations))


# Words that name a document or what is asked about it, not its topic.
DOCUMENT_WORDS = re.compile(r"文件|文号|字号|政策|措施|意见|方案|通知|办法|规定|部门|单位|印发|发布|发文|出台|制定|"
                            r"有效|过期|失效|施行|实施|管用|适用|执行|时候|时间|日期|期限|到期|截止|哪年|几年|一起|联合|编号|"
                            r"发给|给谁|根据|依据|开始|生效|解释|负责")
TITLE_SHARE = 0.5
LABELS = {"number": "文号", "to": "主送", "basis": "依据", "interpreter": "解释", "issuer": "发文单位",
          "date": "印发日期", "valid": "施行", "written date": "印发日期", "period": "规划期"}
# The line looked for when a document has none of the first kind: the date in words when none is printed in figures
# (figures, with who printed them, read better: "深圳市人民政府办公厅2012年11月2日印发"), and for a plan with no 施行
# rule its period ("（2021-2025年）"), which says how long it runs.
FALLBACK = {"date": "written date", "valid": "period"}


def _fact(kind: str, doc: PolicyDoc, clauses: Sequence[Clause]) -> tuple[Clause, str] | None:
    """Return the clause and the printed line that states one fact about the document, or None."""
    for clause in clauses:
        lines = [line.strip() for line in clause.text.split("\n") if line.strip()]
        if kind == "number" and doc.doc_number:
            hit = next((line for line in lines if doc.doc_number in line), None)
        elif kind == "date" and doc.issue_date:
            year = str(doc.issue_date.year)
            hit = next((line for line in lines if DATED.search(line) and year in line), None)
        elif kind == "issuer":
            # Names printed one per line (a header, a signature) are quoted as those lines, joined by 、.
            names = list(dict.fromkeys(line for line in lines if AGENCY.match(line)))
            hit = "、".join(names) if names else next((line for line in lines if SIGNED.search(line)), None)
        elif kind == "to":
            hit = next((line for line in lines if ADDRESSED.match(line)), None)
        elif kind == "interpreter":
            hit = next((m.group(0) for line in lines if (m := INTERPRETS.search(line))), None)
        elif kind == "basis":
            hit = next((line for line in lines if FOUNDED.search(line) and FOUNDING.search(line)), None)
        elif kind == "valid":
            hit = next((m.group(0) for line in lines if (m := IN_FORCE.search(line))), None)
        elif kind == "period":
            hit = next((line for line in lines if PERIOD.search(line)), None)
        elif kind == "written date":
            hit = next((line for line in lines if WRITTEN_YEAR.search(line)), None)
        else:
            hit = None
        if hit:
            return clause, hit
    return None
