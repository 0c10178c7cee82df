"""A gazetteer of Chinese provinces and prefecture-level cities, for finding regions in text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

GAZETTEER = Path(__file__).parent.parent / "data" / "regions.tsv"


@dataclass(frozen=True)
class Region:
    """A province- or prefecture-level division."""

    name: str
    province: str  # the province-level division it belongs to (itself for a province)
    short: str  # the form people say: 深圳, 广东


@dataclass(frozen=True)
class Gazetteer:
    """Regions by name and a matcher for them in free text."""

    by_name: dict[str, Region]
    by_form: dict[str, str]
    pattern: re.Pattern[str]

    def find(self, text: str) -> list[Region]:
        """Return the regions named in the text, in order of first mention, without repeats."""
        seen: dict[str, Region] = {}
        for m in self.pattern.finditer(text):
            region = self.by_name[self.by_form[m.group(0)]]
            seen.setdefault(region.name, region)
        return list(seen.values())

    def get(self, name: str) -> Region | None:
        """Return a region by its full name or a common short form."""
        full = self.by_form.get(name)
        return self.by_name.get(full) if full else None


@cache
def gazetteer() -> Gazetteer:
    """Return the bundled gazetteer."""
    by_name: dict[str, Region] = {}
    by_form: dict[str, str] = {}
    for line in GAZETTEER.read_text(encoding="utf-8").splitlines()[1:]:
        name, parent, aliases = ([*line.split("\t"), "", ""])[:3]
        forms = [a for a in aliases.split(",") if len(a) >= 2]
        # Single-character abbreviations (粤, 苏, 新) are too ambiguous to find in free text.
        short = forms[0] if forms else name
        by_name[name] = Region(name, parent or name, short)
        for form in [name, *forms]:
            by_form.setdefault(form, name)
    alternation = "|".join(sorted(map(re.escape, by_form), key=len, reverse=True))
    return Gazetteer(by_name, by_form, re.compile(alternation))
