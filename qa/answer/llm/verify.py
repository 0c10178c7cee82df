"""Check an LLM answer against the clauses it cites: unknown citations removed, every stated fact found."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

CITE = re.compile(r"[【\[]\s*C(\d+)\s*[】\]]")
SENTENCE = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]|\n|$)")
# Facts that must appear verbatim in the cited clause: counts, amounts, dates, percentages, years.
NUMBER = re.compile(
    r"\d+(?:\.\d+)?\s*(?:%|％|‰)?(?:多|余)?(?:万|亿|千|百)?\s*"
    r"(?:元|家|个|项|所|人|名|年|月|日|批|条|类|座|份|倍|户|平方米|亩|公里|小时|天)?"
)
CN_QUANTITY = re.compile(
    r"[一二两三四五六七八九十][一二两三四五六七八九十百千万亿]*(?:元|家|个|项|所|人|名|批|条|类|座|倍)"
)
LIST_MARKER = re.compile(r"^\s*(?:\d{1,2}[.、．)]|[（(]\d{1,2}[)）]|[-*•])\s*")
ORGANISATION = re.compile(
    r"[\u4e00-\u9fff]{1,16}?(?:厅|局|委员会|办公室|办公厅|管委会|人民政府|政府|银行|基金|交易所|研究院|中心|总台)"
)
UNVERIFIED = "（未核实）"


@dataclass(frozen=True)
class CheckedSentence:
    """A sentence of the answer with the clauses it cites and what the check found."""

    text: str
    cited: tuple[int, ...]
    status: str  # "verified", "unverified" (no citation, no facts) or "dropped" (a fact not in its clauses)
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verification:
    """The checked answer."""

    sentences: tuple[CheckedSentence, ...]
    unknown_citations: tuple[int, ...]

    @property
    def verified(self) -> tuple[CheckedSentence, ...]:
        """Return the sentences whose citations and facts checked out."""
        return tuple(s for s in self.sentences if s.status == "verified")

    @property
    def dropped(self) -> tuple[CheckedSentence, ...]:
        """Return the sentences removed because a fact was not in the cited clauses."""
        return tuple(s for s in self.sentences if s.status == "dropped")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def facts(sentence: str) -> list[str]:
    """Return the numbers, quantities and organisation names stated in a sentence."""
    found = [m.group(0).strip() for m in NUMBER.finditer(sentence) if m.group(0).strip()]
    found += [m.group(0) for m in CN_QUANTITY.finditer(sentence)]
    found += [m.group(0) for m in ORGANISATION.finditer(sentence)]
    return [_squash(f) for f in found if f]


def _org_found(org: str, source: str) -> bool:
    """Return True when an organisation name, or its tail after a leading verb or 由/和, is in the source."""
    # The lazy match can start inside the preceding verb ("支持省科技厅"); accept any suffix of length >= 3.
    return any(org[i:] in source for i in range(0, max(1, len(org) - 2)))


def check(text: str, sources: Mapping[int, str]) -> Verification:
    """Return each sentence of `text` checked against the clauses (by number) it cites."""
    unknown: set[int] = set()
    out: list[CheckedSentence] = []
    squashed = {k: _squash(v) for k, v in sources.items()}
    for m in SENTENCE.finditer(text):
        raw = m.group(0).strip()
        if not raw or not CITE.sub("", raw).strip(" ：:。\n-*"):
            continue
        numbers = [int(n) for n in CITE.findall(raw)]
        unknown.update(n for n in numbers if n not in sources)
        cited = tuple(dict.fromkeys(n for n in numbers if n in sources))
        body = CITE.sub("", raw).strip()
        stated = facts(LIST_MARKER.sub("", body))
        corpus = "".join(squashed[n] for n in cited)
        missing = [f for f in stated if not (f in corpus or (ORGANISATION.fullmatch(f) and _org_found(f, corpus)))]
        if stated and (not cited or missing):
            problems = tuple(missing) if cited else ("未标注依据条款",)
            out.append(CheckedSentence(body, cited, "dropped", problems))
        elif cited:
            out.append(CheckedSentence(body, cited, "verified"))
        else:
            out.append(CheckedSentence(body, cited, "unverified"))
    return Verification(tuple(out), tuple(sorted(unknown)))
