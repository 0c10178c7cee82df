"""Split a notice from the attachments printed after it (附件1, 附件2…): each becomes a document of its own,
with its own title in citations and clause labels that cannot collide with the notice's."""

from __future__ import annotations

import re
from dataclasses import dataclass

# "附件1" alone on a line, or "附件1：办法名称"; not the notice's list of attachments ("附件：1.申报指南").
ANNEX_LINE = re.compile(r"^附\s*件\s*([0-9一二三四五六七八九十]{0,3})\s*(?:[：:]\s*(?![0-9０-９]+[.．、])(.{2,60}))?$")
MAX_TITLE = 60


@dataclass(frozen=True)
class Part:
    """An attachment cut from a notice: its label ("附件1"), its title and its cleaned text (title line first)."""

    label: str
    title: str
    text: str


def _title_of(lines: list[str], inline: str) -> str:
    if inline:
        return inline.strip()
    first = lines[0] if lines else ""
    return first if len(first) <= MAX_TITLE and not re.search(r"[。；;]$", first) else ""


def split_attachments(text: str) -> tuple[str, list[Part]]:
    """Return the notice's own text and its attachments, or the text whole and [] when it has none to split.

    Each attachment needs a title and a body; anything else (a list of attachment names, a bare 附件 heading with
    nothing under it) leaves the document as it is, and its 附件 stays a clause as before."""
    lines = text.split("\n")
    starts = [(i, m) for i, line in enumerate(lines) if (m := ANNEX_LINE.match(line.strip()))]
    if not starts or starts[0][0] == 0:
        return text, []
    parts: list[Part] = []
    for n, (i, m) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        body = [line for line in lines[i + 1:end] if line.strip()]
        title = _title_of(body, m.group(2) or "")
        if not title or len(body) < (1 if m.group(2) else 2):
            return text, []
        if not m.group(2):
            body = body[1:]  # the title line is the attachment's own heading, kept once below
        label = f"附件{m.group(1)}" if m.group(1) else "附件"
        parts.append(Part(label, title, "\n".join([title, *body])))
    if len({p.label for p in parts}) != len(parts):
        return text, []  # two attachments under one name: not a list of attachments
    return "\n".join(lines[: starts[0][0]]), parts
