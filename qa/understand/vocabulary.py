"""Citizens' words and the documents' words for the same thing (qa/data/vocabulary.tsv): a question that says 给钱 or
房租 is also looked for as 资金 or 用房, weighted below the words the user typed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from index.lang.text import CJK_CHARS

# A word found only through an equivalent counts this much of its weight: the user's own word is better evidence.
EQUIVALENT_CREDIT = 0.8
# A question word of this many characters may abbreviate what a text writes out (自贸区: 自由贸易试验区, 人社局:
# 人力资源和社会保障局): its characters in order, at most SPELLED_GAP characters apart within one phrase. Not a
# two-character word: that is too often a word of its own (司机 is no 司法机关).
SPELLED_LENGTHS = range(3, 5)
SPELLED_GAP = 4


@dataclass(frozen=True)
class Group:
    """Words for one thing: how people say it and how documents write it, and where the group comes from."""

    name: str
    everyday: tuple[str, ...]
    official: tuple[str, ...]
    source: str


@cache
def groups() -> tuple[Group, ...]:
    """Return the vocabulary's groups, in file order."""
    text = files("qa").joinpath("data", "vocabulary.tsv").read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#"))
    # Questions are matched lower-cased (the tokenizer lower-cases Latin words: IPO -> ipo).
    return tuple(Group(name, tuple(everyday.lower().split("|")), tuple(official.split("|")), source.strip())
                 for name, everyday, official, source in rows)


@cache
def _forms_of() -> dict[str, tuple[str, ...]]:
    """Return, for every word of the vocabulary, the official forms of every group it belongs to."""
    forms: dict[str, dict[str, None]] = {}
    for group in groups():
        for word in (*group.everyday, *group.official):
            forms.setdefault(word, {}).update(dict.fromkeys(group.official))
    return {word: tuple(f for f in official if f != word) for word, official in forms.items()}


def equivalents(tokens: Iterable[str], text: str) -> dict[str, tuple[str, ...]]:
    """Return the official forms of each question word the vocabulary knows: tokens, and phrases of two or more
    characters written in the question ("评职称", "哪个部门") that the tokenizer splits."""
    known = _forms_of()
    words = list(dict.fromkeys(tokens))
    # A word inside a longer word of the question is not what was asked: 租房 in 公租房 is no office rent.
    longer = [u for u in words if u not in known]

    def inside(word: str) -> bool:
        return any(word in u and u != word for u in longer)

    found = {t: known[t] for t in words if t in known and not inside(t)}
    lowered = text.lower()
    phrases = {w: f for w, f in known.items() if len(w) > 1 and w not in found and w in lowered and not inside(w)}
    found.update(phrases)
    # The tokenizer splits a phrase the vocabulary knows ("晚点交" -> 晚点 + 交): its words are the phrase, and are
    # found where the documents' words for it are (缓缴), unless the vocabulary knows them on their own.
    found.update({t: f for w, f in phrases.items() for t in words if t in w and t != w and t not in found})
    return found


@cache
def spelled_out(word: str) -> re.Pattern[str] | None:
    """Return the pattern of what a word may abbreviate (its characters in order, a few characters of one phrase
    apart), or None for a word that is no such abbreviation."""
    if len(word) not in SPELLED_LENGTHS or not re.fullmatch(f"[{CJK_CHARS}]+", word):
        return None
    return re.compile(f"[{CJK_CHARS}]{{0,{SPELLED_GAP}}}?".join(map(re.escape, word)))


def covers(word: str, text: str, equivalent: Mapping[str, tuple[str, ...]], spelled: bool = False) -> float:
    """Return how fully a text contains a question word: 1 as written, EQUIVALENT_CREDIT through an equivalent or,
    with `spelled` (a word the corpus never uses), written out (自由贸易试验区 for 自贸区)."""
    if word in text:
        return 1.0
    if any(f in text for f in equivalent.get(word, ())):
        return EQUIVALENT_CREDIT
    pattern = spelled_out(word) if spelled else None
    return EQUIVALENT_CREDIT if pattern is not None and pattern.search(text) else 0.0
