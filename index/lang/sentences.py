"""Sentences: a text cut at sentence ends (a table row kept whole, none unbounded); a clause's without its heading."""

from __future__ import annotations

import re

from index.lang.text import AGENCY_NOTE, HALF_WIDTH_BRACKETS

# The longest run kept as one sentence: text without sentence ends (a scan's OCR, a pasted table, junk) is cut
# at a comma or space, else at this length, so no chunk, embedding input or quote grows with the file. A real
# sentence is rarely a tenth of it: a list of 96 items in one sentence (700 characters) is still quoted whole.
MAX_SENTENCE = 2000
SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
SOFT_BREAK = re.compile(r"[，,、：:\s]")
WHOLE_AGENCY_NOTE = re.compile(AGENCY_NOTE)
# A table row as the readers write it ("播出平台：省级卫视；奖励标准：每分钟1500元。"): one sentence, since a
# cell quoted without the row's other cells loses what its figure is about.
TABLE_ROW = re.compile(r"^(?:[^：；。\n]{1,40}：[^；\n]*；)+[^：；。\n]{1,40}：[^；\n]*。$")


def split_sentences(text: str) -> list[str]:
    """Return the sentences of a text, each keeping its closing punctuation; a table row is one sentence; none is
    longer than MAX_SENTENCE."""
    return [piece for line in text.split("\n")
            for s in ([line] if TABLE_ROW.match(line) else SENTENCE_END.split(line)) if s.strip()
            for piece in _cut(s.strip())]


def _cut(sentence: str) -> list[str]:
    """Return a sentence in pieces of at most MAX_SENTENCE characters, each ending after its last comma or space
    past the middle when it has one (text without any punctuation is cut at the limit)."""
    if len(sentence) <= MAX_SENTENCE:
        return [sentence]
    pieces, start = [], 0
    while len(sentence) - start > MAX_SENTENCE:
        window = sentence[start : start + MAX_SENTENCE]
        breaks = [m.end() for m in SOFT_BREAK.finditer(window, MAX_SENTENCE // 2)]
        end = start + (breaks[-1] if breaks else MAX_SENTENCE)
        pieces.append(sentence[start:end])
        start = end
    return [*pieces, sentence[start:]]


def _bare(text: str) -> str:
    return re.sub(r"[\s。.：:]", "", text).translate(HALF_WIDTH_BRACKETS)


def split_sentences_without(text: str, heading: str) -> list[str]:
    """Return a clause's sentences without its heading line and its closing agency note."""
    bare = _bare(heading)
    return [s for s in split_sentences(text) if not WHOLE_AGENCY_NOTE.fullmatch(s) and _bare(s) != bare]
