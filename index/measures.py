"""Support measures from clauses: types, beneficiaries, industries, agencies and quantitative targets."""

from __future__ import annotations

import re

from index.lang.sentences import split_sentences, split_sentences_without
from index.lang.terms import AGENCY, OTHER, grants, tag
from index.lang.text import TARGET_YEAR
from index.records import Clause, Measure, PolicyDoc, Target

# "12家左右", "50家以上", "300家左右", "5800亿元"; the thing counted follows until the next count or phrase end.
COUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(家|个|项|所|批|亿元|万元|元|人|名|座|支|类|户|条)(左右|以上|以内|以下|多)?")
# Clauses that govern the document itself, not a measure anyone can apply for.
NOT_A_MEASURE = re.compile(r"本(措施|办法|方案|意见|规定)(自|由)|负责解释|之日起")
# A sentence that grants something ("给予100万元奖励") states an amount or a condition, not a target to reach.
GRANTING = re.compile(r"给予|奖励|补助|补贴|资助|贴息|最高|不超过|不少于|予以")
MONEY_UNITS = ("亿元", "万元", "元")
LEADS_TO_COUNT = re.compile(r"(?:超过|达到|突破|增加到|增长到|提高到|不低于|为)$")
GOAL = re.compile(r"到\s*\d{4}\s*年|力争|目标|总产出|增加值|总收入")
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


