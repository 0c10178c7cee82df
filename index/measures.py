"""Support measures from clauses: types, beneficiaries, industries, agencies and quantitative targets."""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache
from pathlib import Path

from index.chunking import split_sentences, split_sentences_without
from index.records import Clause, Measure, PolicyDoc, Target
from index.text import AGENCY_NOTE, TARGET_YEAR

TERMS = Path(__file__).parent / "data" / "measure_terms.tsv"
OTHER = "其他"
# "12家左右", "50家以上", "300家左右", "5800亿元"; the thing counted follows until the next count or phrase end.
COUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(家|个|项|所|批|亿元|万元|元|人|名|座|支|类|户|条)(左右|以上|以内|以下|多)?")
# Clauses that govern the document itself, not a measure anyone can apply for.
NOT_A_MEASURE = re.compile(r"本(措施|办法|方案|意见|规定)(自|由)|负责解释|之日起")
# Clauses that state aims, principles or arrangements and grant nothing, known by their title ("（一）指导思想",
# "加强组织领导") or by the chapter they sit in ("第一章 总则"); kept for the targets they state.
GENERAL_TITLE = re.compile(
    r"指导思想|总体要求|总体思路|基本原则|总体目标|主要目标|发展目标|工作目标|组织领导|组织实施|组织保障|工作机制|"
    r"协调机制|统筹协调|舆论氛围|宣传引导|监督检查|附则|总则|适用范围"
)
GENERAL_CHAPTER = re.compile(r"总则|附则|组织实施|申报与管理|监督管理|法律责任")
DEFINITION = re.compile(r"本(?:措施|办法|方案|意见|规定|政策)所称")
# A sentence that grants something ("给予100万元奖励") states an amount or a condition, not a target to reach.
GRANTING = re.compile(r"给予|奖励|补助|补贴|资助|贴息|最高|不超过|不少于|予以")
MONEY_UNITS = ("亿元", "万元", "元")
LEADS_TO_COUNT = re.compile(r"(?:超过|达到|突破|增加到|增长到|提高到|不低于|为)$")
GOAL = re.compile(r"到\s*\d{4}\s*年|力争|目标|总产出|增加值|总收入")
# Agency names say who acts, not what the measure is: "省文化和旅游厅" is no tourism measure.
AGENCY = re.compile(AGENCY_NOTE + r"|(?:中共)?(?:省|市|区|县)[\u4e00-\u9fff]{1,12}?(?:厅|局|办|委|部)")


@cache
def vocabulary() -> dict[str, dict[str, tuple[str, ...]]]:
    """Return field -> value -> keywords, from index/data/measure_terms.tsv."""
    fields: dict[str, dict[str, tuple[str, ...]]] = defaultdict(dict)
    for line in TERMS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        field, value, words = line.split("\t")
        fields[field][value] = tuple(w for w in words.split(",") if w)
    return dict(fields)


@cache
def _patterns(field: str) -> tuple[tuple[str, re.Pattern[str], re.Pattern[str] | None], ...]:
    # One alternation per value: a single search in C instead of a Python loop over its keywords.
    # "!高标准" lists a phrase that does not count for the value although it contains a keyword.
    out = []
    for value, words in vocabulary()[field].items():
        keep = [w for w in words if not w.startswith("!")]
        drop = [w[1:] for w in words if w.startswith("!")]
        if keep:
            out.append((value, re.compile("|".join(map(re.escape, keep))),
                        re.compile("|".join(map(re.escape, drop))) if drop else None))
    return tuple(out)


def keywords(field: str) -> dict[str, tuple[str, ...]]:
    """Return value -> the keywords that count for it (without the phrases that do not)."""
    return {v: tuple(w for w in words if not w.startswith("!")) for v, words in vocabulary()[field].items()}


def tag(field: str, text: str) -> tuple[str, ...]:
    """Return the values of a field whose keywords occur in the text, in vocabulary order."""
    return tuple(value for value, pattern, drop in _patterns(field)
                 if pattern.search(drop.sub("", text) if drop is not None else text))


def grants(clause: Clause) -> bool:
    """Return False for a clause that states aims, principles, arrangements or definitions and grants nothing."""
    title = clause.title or (clause.path[-1] if clause.path else "")
    return not (GENERAL_TITLE.search(title) or any(GENERAL_CHAPTER.search(p) for p in clause.path[:-1])
                or DEFINITION.search(clause.text[:40]))


def targets(text: str, default_year: int | None) -> tuple[Target, ...]:
    """Return the quantitative targets stated in a text, each with the year it is due."""
    found: list[Target] = []
    for sentence in split_sentences(text):
        if GRANTING.search(sentence):
            continue
        year_match = TARGET_YEAR.search(sentence)
        year = int(year_match.group(1)) if year_match else default_year
        counts = list(COUNT.finditer(sentence))
        for i, m in enumerate(counts):
            # "设立规模10亿元的基金" is the size of a tool; money is a target only in a stated goal.
            if m.group(2) in MONEY_UNITS and not GOAL.search(sentence):
                continue
            end = counts[i + 1].start() if i + 1 < len(counts) else len(sentence)
            subject = re.split(r"[，。；]", sentence[m.end() : end], maxsplit=1)[0].rstrip("、")
            # "3个国家文化和科技融合示范基地（集聚类）": drop trailing brackets, keep the thing counted.
            subject = re.sub(r"[（(][^）)]*[）)]$", "", subject).strip()
            text = m.group(0) + subject
            if not subject:
                # "总产出超过5800亿元，": the thing counted comes first, back to the phrase start.
                before = re.split(r"[，。；：、]", sentence[: m.start()])[-1].strip()
                subject, text = LEADS_TO_COUNT.sub("", before).strip(), before + m.group(0)
            if not subject:
                continue
            found.append(Target(text=text, value=float(m.group(1)), unit=m.group(2),
                                qualifier=m.group(3) or "", subject=subject, year=year))
    return tuple(found)


def extract_measure(doc: PolicyDoc, clause: Clause) -> Measure | None:
    """Return the measure a clause states, or None for a heading, preamble or rule about the document."""
    if (not clause.is_retrievable or clause.label in ("前言", "版记") or re.fullmatch(r"附件\d*", clause.label)
            or NOT_A_MEASURE.search(clause.text)):
        return None
    body = clause.text
    content = AGENCY.sub("", body)
    kinds = tag("type", content) or (OTHER,)
    sentences = split_sentences_without(body, clause.heading)
    summary = sentences[0] if sentences else body.strip()
    return Measure(
        clause_id=clause.clause_id, doc_id=doc.doc_id, label=clause.label, title=clause.title, summary=summary,
        types=kinds, beneficiaries=tag("beneficiary", content), industries=tag("industry", content),
        region=doc.region, province=doc.province, issuer=doc.issuer, lead_agencies=clause.lead_agencies,
        partner_agencies=clause.partner_agencies, targets=targets(body, doc.target_year), period=doc.period,
        grants=grants(clause),
    )


def extract_measures(doc: PolicyDoc, clauses: list[Clause]) -> list[Measure]:
    """Return the measures of a document's clauses."""
    return [m for c in clauses if (m := extract_measure(doc, c)) is not None]


