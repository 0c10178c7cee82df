"""Render answers for chat surfaces; every piece of document or user text is escaped."""

from __future__ import annotations

import html
import re

from qa.answer.base import cite_line
from qa.models import Answer

MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~])")


def escape(text: str) -> str:
    """Return text that renders literally in Markdown with HTML: no tags, links or emphasis."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=True)).replace("\n", "  \n")


def answer_markdown(answer: Answer) -> str:
    """Return the answer as Markdown: quoted sentences, each with its citation and the full clause on demand."""
    if not answer.answerable or not answer.citations:
        return escape(answer.text)
    parts = [escape(notice) for notice in answer.notices]
    parts.append("根据已收录的政策文件：")
    for i, c in enumerate(answer.citations, 1):
        parts.append(f"**{i}\\.** {escape(c.quote)}  \n—— {escape(cite_line(c))}")
        parts.append(
            f"<details><summary>查看条款原文：{html.escape(c.clause)}</summary>\n\n{escape(c.text)}\n\n</details>"
        )
    return "\n\n".join(parts)
