"""An answer in the user's script: every part converted to traditional characters when the question was
written in them, except the user's own words, which are shown as typed."""

from __future__ import annotations

import dataclasses
import re

from index.lang.script import to_traditional
from qa.records import Answer, Heading, Item, Notice, Paragraph, Part, Quote, Table


def _keeping(text: str, literal: tuple[str, ...]) -> str:
    """Return the text converted to traditional script, the literal spans left as they are."""
    if not literal:
        return to_traditional(text)
    spans = re.compile("|".join(re.escape(s) for s in sorted(literal, key=len, reverse=True) if s))
    out, start = [], 0
    for m in spans.finditer(text):
        out += [to_traditional(text[start : m.start()]), m.group(0)]
        start = m.end()
    return "".join([*out, to_traditional(text[start:])])


def _part(part: Part) -> Part:
    if isinstance(part, Paragraph):
        return dataclasses.replace(part, text=_keeping(part.text, part.literal))
    if isinstance(part, Quote):
        return dataclasses.replace(part, text=to_traditional(part.text), lead=to_traditional(part.lead))
    if isinstance(part, Heading | Item | Notice):
        return dataclasses.replace(part, text=to_traditional(part.text))
    if isinstance(part, Table):
        return Table(tuple(map(to_traditional, part.columns)),
                     tuple(tuple(tuple(_part(e) for e in cell) for cell in row) for row in part.rows))  # type: ignore[misc]
    return part


def in_users_script(answer: Answer) -> tuple[Answer, tuple[str, ...]]:
    """Return the answer with its parts in the script the question was written in, and each citation's source
    line (依据《…》…) likewise; the cited clause texts stay as published."""
    sources = tuple(c.source for c in answer.citations)
    if not answer.traditional:
        return answer, sources
    return (dataclasses.replace(answer, parts=tuple(map(_part, answer.parts)), traditional=False),
            tuple(map(to_traditional, sources)))
