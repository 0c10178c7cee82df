"""Typos and homophones in questions: words the corpus never uses, replaced by the corpus word they sound like."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import cache

from index.lang.text import CJK_CHARS

# Sounds that input methods treat as one ("模糊音"): users who do not tell them apart type either.
FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"))
FUZZY_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))
CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
LONGEST = 4
# A dictionary word this many times rarer than the place name it sounds like is taken as a slip for it.
RARE = 10


@cache
def sound(char: str) -> str:
    """Return a character's pinyin without tone, folded so that fuzzy sounds compare equal."""
    from pypinyin import lazy_pinyin

    syllable = lazy_pinyin(char)[0]
    for long, short in FUZZY_INITIALS:
        if syllable.startswith(long):
            syllable = short + syllable[len(long):]
            break
    for long, short in FUZZY_FINALS:
        if syllable.endswith(long):
            syllable = syllable[: -len(long)] + short
            break
    return syllable


def sounds(word: str) -> tuple[str, ...]:
    """Return the folded pinyin of each character of a word."""
    return tuple(sound(c) for c in word)


def _by_sound(words: Iterable[str]) -> dict[tuple[str, ...], list[str]]:
    index: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for word in sorted(set(words)):
        if 2 <= len(word) <= LONGEST and CJK_RUN.fullmatch(word):
            index[sounds(word)].append(word)
    return index


class Speller:
    """Corrects words of a question that the corpus never uses to corpus words or place names that sound the same.

    Only spans that do not cut through a word the corpus uses are considered (民间借贷 holds no typo "间借"), and a
    correction keeps at least one character of the typed span (深证 -> 深圳, 产叶 -> 产业, 江甦 -> 江苏): a homophone
    sharing no character is another word, not a slip of the input method. A span the general dictionary knows is
    taken as meant (阳台 is not 烟台), unless it is rare beside the place name it sounds like (深证 beside 深圳)."""

    def __init__(self, corpus_words: Iterable[str], places: Iterable[str], segment: Callable[[str], list[str]],
                 frequency: Callable[[str], int]) -> None:
        self._corpus = set(corpus_words)
        self._words = _by_sound(self._corpus)
        self._places = _by_sound(places)
        self._segment = segment
        self._frequency = frequency

    def correct(self, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Return the text with slips replaced, and the (typed, corrected) pairs."""
        # A slip leaves a word that neither the corpus nor the dictionary knows (产叶, 基今). Spans are cut at word
        # boundaries and inside such unknown words; only spans holding one may be words mistyped, while any
        # whole-word span may be a mistyped place name (深证, 江甦).
        cuts: list[int] = [0]
        weak: set[int] = set()
        for token in self._segment(text):
            start = cuts[-1]
            unknown = bool(CJK_RUN.fullmatch(token)) and token not in self._corpus and not self._frequency(token)
            if unknown:
                cuts += [start + j for j in range(1, len(token))]
                weak.update(range(start, start + len(token)))
            cuts.append(start + len(token))
        fixes: list[tuple[str, str]] = []
        out: list[str] = []
        i = 0
        while i < len(cuts) - 1:
            start = cuts[i]
            for j in range(min(len(cuts) - 1, i + LONGEST), i, -1):
                typed = text[start : cuts[j]]
                if not 2 <= len(typed) <= LONGEST:
                    continue
                fix = self._fix(typed, any(p in weak for p in range(start, cuts[j])))
                if fix:
                    fixes.append((typed, fix))
                    out.append(fix)
                    i = j
                    break
            else:
                out.append(text[start : cuts[i + 1]])
                i += 1
        return "".join(out), tuple(fixes)

    def _fix(self, typed: str, broken: bool) -> str | None:
        """Return the one word the typed span is a slip for, or None; `broken`: the span holds a broken word."""
        if typed in self._corpus or not CJK_RUN.fullmatch(typed):
            return None
        key = sounds(typed)
        seen = self._frequency(typed)
        places = [w for w in self._places.get(key, ()) if _shares(w, typed) and seen * RARE < self._frequency(w)]
        if places:
            return places[0] if len(places) == 1 else None
        if seen or not broken:
            return None
        words = [w for w in self._words.get(key, ()) if _shares(w, typed)]
        return words[0] if len(words) == 1 else None
def _shares(word: str, typed: str) -> bool:
    return word != typed and any(a == b for a, b in zip(word, typed, strict=True))
