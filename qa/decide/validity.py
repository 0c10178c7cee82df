"""Whether a document may be out of date, judged against today's date."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from index.records import PolicyDoc

OLD_AFTER_YEARS = 5
LATEST = "请以主管部门最新文件为准。"


def _reason(doc: PolicyDoc, today: date) -> tuple[str, str] | None:
    """Return why a document may be out of date ("规划期为2021—2025年，已经结束") and what may have happened to it,
    or None."""
    if doc.period and doc.period[1] < today.year:
        return f"规划期为{doc.period[0]}—{doc.period[1]}年，已经结束", "可能已被新政策替代"
    if doc.target_year and doc.target_year < today.year:
        return f"目标年份为{doc.target_year}年", "可能已被新政策替代"
    if doc.issue_date and today.year - doc.issue_date.year > OLD_AFTER_YEARS:
        return f"距今已超过{OLD_AFTER_YEARS}年", "可能已被修订或替代"
    return None


def _note(doc: PolicyDoc, reason: str, replaced: str) -> str:
    issued = f"发布于{doc.issue_date.year}年，" if doc.issue_date else ""
    return f"提示：《{doc.title}》{issued}{reason}，{replaced}，{LATEST}"


def validity_note(doc: PolicyDoc, today: date) -> str | None:
    """Return a warning when the document's plan period or target year has passed or it is old, else None."""
    found = _reason(doc, today)
    return _note(doc, *found) if found else None


def validity_notes(docs: Iterable[PolicyDoc], today: date) -> list[str]:
    """Return the warnings for the cited documents: one line however many documents it names."""
    dated = [(d, r) for d in docs if (r := _reason(d, today))]
    if len(dated) <= 1:
        return [_note(d, *r) for d, r in dated]
    listed = "；".join(f"《{d.title}》（{f'{d.issue_date.year}年发布，' if d.issue_date else ''}{r[0]}）"
                      for d, r in dated)
    return [f"提示：以下文件可能已被新政策替代或修订，{LATEST[:-1]}：{listed}。"]
