"""Abbreviations: a question that writes out what the documents abbreviate (电子竞技 where they say 电竞). A
four-character word is abbreviated by the first characters of its halves, the way Chinese abbreviations are
commonly formed; only an abbreviation the corpus itself uses is added. (The other way, a two-character word read
as an abbreviation, is too often a word of its own: 司机 is no 司法机关.)"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from index.lang.text import CJK


def abbreviate(word: str) -> str | None:
    """Return the common abbreviation of a four-character word (电子竞技 -> 电竞), or None."""
    return word[0] + word[2] if len(word) == 4 and all(CJK.fullmatch(c) for c in word) else None


class Abbreviations:
    """Finds the corpus's abbreviations of the words a question writes out."""

    def __init__(self, corpus_words: Iterable[str], segment: Callable[[str], list[str]]) -> None:
        self._corpus = set(corpus_words)
        self._segment = segment

    def forms(self, text: str) -> tuple[str, ...]:
        """Return the abbreviations the corpus uses of the text's words it does not use as written."""
        shorts = (abbreviate(w) for w in self._segment(text) if w not in self._corpus)
        return tuple(dict.fromkeys(s for s in shorts if s is not None and s in self._corpus))
