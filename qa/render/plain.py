"""Answers as plain text: numbered citations for the CLI, the API and OpenAI clients, and for chat apps."""

from __future__ import annotations

from collections.abc import Callable

from qa.records import Answer, Heading, Item, Notice, Paragraph, Part, Quote, Sources, Table
from qa.render.script import in_users_script

# Parts that continue the block before them on the next line instead of after a blank line.
JOINED = {(Paragraph, Paragraph), (Notice, Notice), (Item, Item), (Heading, Item)}
# 【】 in plain text are ours alone (citation marks, headings): in a document's words they become 〔〕, so a
# document cannot write "【2】依据国务院《…》" that reads like one of our citations in WeChat's plain text.
OWN_BRACKETS = str.maketrans("【】", "〔〕")
# What a Markdown or HTML renderer would turn into a tag, an image or a link, as the full-width signs that look
# alike in Chinese text and render as themselves.
MARKUP = str.maketrans("<>[]", "＜＞［］")


def text_only(text: str) -> str:
    """Return text that a client rendering Markdown or HTML shows as written: no tag, image or link."""
    return text.translate(MARKUP)


def _words(text: str) -> str:
    """Return a document's (or a model's) words with 【】 replaced, so only our own marks use them."""
    return text.translate(OWN_BRACKETS)


def marks(cites: tuple[int, ...]) -> str:
    """Return the citation marks 【1】【2】."""
    return "".join(f"【{n}】" for n in cites)


def cell_text(cell: tuple[Item, ...]) -> str:
    """Return a table cell's entries, each with its citation marks; "—" for an empty cell."""
    return "；".join(_words(e.text) + marks(e.cites) for e in cell) or "—"


def _table(part: Table) -> str:
    lines = ["| " + " | ".join(map(_words, part.columns)) + " |", "|" + "---|" * len(part.columns)]
    lines += ["| " + " | ".join(cell_text(c) for c in row) + " |" for row in part.rows]
    return "\n".join(lines)


def _table_as_lines(part: Table) -> str:
    # A chat app shows a Markdown table as a wall of pipes: one block per row, one line per column.
    rows = []
    for head, *rest in part.rows:
        lines = [f"【{cell_text(head)}】"]
        lines += [f"{_words(name)}：{cell_text(c)}" for name, c in zip(part.columns[1:], rest, strict=True)]
        rows.append("\n".join(lines))
    return "\n\n".join(rows)


def _render(answer: Answer, table: Callable[[Table], str]) -> str:
    answer, titles = in_users_script(answer)
    sources = [_words(s) for s in titles]

    def one(part: Part) -> str:
        if isinstance(part, Paragraph):
            return _words(part.text) + marks(part.cites)
        if isinstance(part, Quote):
            return f"{_words(part.lead)}{_words(part.text)}\n【{part.cite}】{sources[part.cite - 1]}"
        if isinstance(part, Heading):
            return f"【{_words(part.text)}】"
        if isinstance(part, Item):
            return f"- {_words(part.text)}{marks(part.cites)}"
        if isinstance(part, Table):
            return table(part)
        if isinstance(part, Sources):
            return "\n".join(f"【{i}】{s}" for i, s in enumerate(sources, 1))
        return _words(part.text)

    out = ""
    previous: type | None = None
    for part in answer.parts:
        if out:
            out += "\n" if (previous, type(part)) in JOINED else "\n\n"
        out += one(part)
        previous = type(part)
    return out


def plain_text(answer: Answer) -> str:
    """Return the answer as plain text, tables in Markdown, each quote followed by its numbered source."""
    return _render(answer, _table)


def chat_text(answer: Answer) -> str:
    """Return the answer for a chat app (WeChat, WeCom): plain text, tables as one block per row."""
    return _render(answer, _table_as_lines)
