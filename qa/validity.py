"""Whether a document may be out of date, judged against today's date."""

from __future__ import annotations

from datetime import date

from index.records import PolicyDoc

OLD_AFTER_YEARS = 5
LATEST = "请以主管部门最新文件为准。"


def validity_note(doc: PolicyDoc, today: date) -> str | None:
    """Return a warning when the document's plan period or target year has passed or it is old, else None."""
    issued = f"发布于{doc.issue_date.year}年，" if doc.issue_date else ""
    head = f"提示：《{doc.title}》{issued}"
    if doc.period and doc.period[1] < today.year:
        return f"{head}规划期为{doc.period[0]}—{doc.period[1]}年，已经结束，可能已被新政策替代，{LATEST}"
    if doc.target_year and doc.target_year < today.year:
        return f"{head}目标年份为{doc.target_year}年，可能已被新政策替代，{LATEST}"
    if doc.issue_date and today.year - doc.issue_date.year > OLD_AFTER_YEARS:
        return f"{head}距今已超过{OLD_AFTER_YEARS}年，可能已被修订或替代，{LATEST}"
    return None
