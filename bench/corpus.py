"""A synthetic policy corpus of any size, recombined from the real clauses of data/policies, repeatable from a seed.

`python -m bench.corpus OUT --clauses 100k [--seed 7]` writes .txt documents in the style the parser reads
(title block, 文号, 一、/（一）/1. numbering, issuer and date), with regions, titles, years and counts varied.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bench.report import ROOT
from index.lang.regions import Region, gazetteer
from index.loading import discover, load_file
from index.parsed import parse_document

REAL_CORPUS = ROOT / "data" / "policies"
# The regions the real documents are about; their names in a reused clause become the generated region's.
SOURCE_REGIONS = ("江苏省", "广东省", "深圳市")
DOC_TYPES = ("实施意见", "若干措施", "实施方案", "工作方案", "指导意见", "行动计划")
SECTIONS_WITH_BODY = ("总体要求", "指导思想", "主要目标", "基本原则", "发展目标")
COUNTED = re.compile(r"(\d+)(?=\s*(?:家|个|项|所|批|万|亿|%|人|名|座|支|类|户))")
# The sentence of a preamble that says what the document is for ("为贯彻落实……，制定本措施。").
PURPOSE = re.compile(r"为(?:贯彻|加强|促进|推动)[^。]*。")
YEAR = re.compile(r"20[0-3]\d(?=\s*年)")
FILES_PER_FOLDER = 1000
CN_DIGITS = "〇一二三四五六七八九"
SUB_NUMBERS = "一二三四五六七八九十"


def parse_size(text: str) -> int:
    """Return a clause count from 1000, 10k or 1M."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


@dataclass(frozen=True)
class Pool:
    """Real material to recombine: section titles, leaf clauses (title, body) and preambles."""

    sections: tuple[str, ...]
    body_sections: tuple[tuple[str, str], ...]
    groups: tuple[str, ...]
    leaves: tuple[tuple[str, str], ...]
    preambles: tuple[str, ...]


def _body(text: str, heading: str) -> str:
    """Return a clause's text without its heading line or heading sentence, on one line."""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    first = lines[0] if lines else ""
    marker_free = re.sub(r"^\S*?[、.）)]\s*", "", first, count=1)
    if first.replace(" ", "").rstrip("。") == heading.replace(" ", "").rstrip("。"):
        lines = lines[1:]
    elif marker_free.startswith(re.sub(r"^\S*?[、.）)]\s*", "", heading, count=1)):
        lines[0] = marker_free.split("。", 1)[1] if "。" in marker_free else ""
    return "".join(lines).strip()


@cache
def real_pool() -> Pool:
    """Return the recombinable material of the real documents, parsed by the real pipeline."""
    sections: set[str] = set()
    groups: set[str] = set()
    preambles: set[str] = set()
    body_sections: set[tuple[str, str]] = set()
    leaves: set[tuple[str, str]] = set()
    for path in discover(REAL_CORPUS):
        _, clauses = parse_document(path.stem, load_file(path, 10**8))
        for c in clauses:
            if c.label == "前言":
                found = PURPOSE.search(c.text.replace("\n", ""))
                preambles.update([found.group(0)] if found else [])
                continue
            if not c.title or len(c.title) > 30:
                continue
            body = _body(c.text, c.heading)
            if c.children and not body:
                (sections if c.level == 1 or (c.path[0].startswith("附件") and c.level == 2) else groups).add(c.title)
            elif not c.children and len(body) > 30:
                if c.path[-1].startswith(tuple(SUB_NUMBERS)) and any(s in c.title for s in SECTIONS_WITH_BODY):
                    body_sections.add((c.title, body))
                else:
                    leaves.add((c.title.rstrip("。"), body))
    return Pool(tuple(sorted(sections)), tuple(sorted(body_sections)), tuple(sorted(groups)), tuple(sorted(leaves)),
                tuple(sorted(preambles)))


def _regions() -> list[Region]:
    """Return every region of the gazetteer, provinces and cities."""
    return sorted(gazetteer().by_name.values(), key=lambda r: r.name)


def localise(text: str, region: Region) -> str:
    """Return real text about Jiangsu, Guangdong or Shenzhen rewritten to be about another region."""
    gaz = gazetteer()
    for name in SOURCE_REGIONS:
        source = gaz.by_name[name]
        text = text.replace(source.name, region.name).replace(source.short, region.short)
    return text


def vary_numbers(text: str, rng: random.Random, year_shift: int) -> str:
    """Return the text with counts scaled and target years shifted, so documents do not repeat each other."""
    text = YEAR.sub(lambda m: str(int(m.group(0)) + year_shift), text)
    return COUNTED.sub(lambda m: str(max(1, round(int(m.group(1)) * rng.uniform(0.5, 2.0)))), text)


def _cn_year(year: int) -> str:
    return "".join(CN_DIGITS[int(d)] for d in str(year))


def _sub_label(n: int) -> str:
    """Return （一）..（二十九） for a subsection number."""
    tens, ones = divmod(n, 10)
    text = ("" if tens <= 1 else SUB_NUMBERS[tens - 1]) + ("十" if tens else "")
    return f"（{text}{SUB_NUMBERS[ones - 1] if ones else ''}）"


def _section_label(n: int) -> str:
    return _sub_label(n)[1:-1] + "、"


def document(rng: random.Random, pool: Pool, number: int, clauses: int) -> tuple[str, int]:
    """Return one document's text with about `clauses` numbered units, and how many it has."""
    region = rng.choice(_regions())
    year = rng.randint(2012, 2024)
    shift = year - 2020
    topic = rng.choice(pool.leaves)[0]
    kind = rng.choice(DOC_TYPES)
    title = f"{region.name}关于{topic}的{kind}"
    lines = []
    if rng.random() < 0.5:
        lines += [f"{region.name}人民政府办公厅", "文件", f"{region.short[:2]}政办发〔{year}〕{rng.randint(1, 200)}号"]
    lines.append(title)
    if kind in ("实施方案", "行动计划"):
        lines.append(f"({year + 1}-{year + 5}年)")
    date = f"{year}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
    if rng.random() < 0.2:
        date = f"{_cn_year(year)}年{SUB_NUMBERS[rng.randint(0, 8)]}月{SUB_NUMBERS[rng.randint(0, 8)]}日"
    lines.append(date)
    preamble = rng.choice(pool.preambles)
    lines.append(vary_numbers(localise(preamble, region), rng, shift))
    units, section = 0, 0

    def leaf_text() -> tuple[str, str]:
        title, body = rng.choice(pool.leaves)
        # Half of the clauses take a second real clause's sentences too, so bodies are new combinations.
        if rng.random() < 0.5:
            other = [s for s in re.split(r"(?<=。)", rng.choice(pool.leaves)[1]) if s]
            body += "".join(other[: rng.randint(1, 2)])
        return title, vary_numbers(localise(body, region), rng, shift)

    for name, body in rng.sample(pool.body_sections, k=min(2, len(pool.body_sections))):
        section += 1
        units += 1
        lines += [f"{_section_label(section)}{name}", vary_numbers(localise(body, region), rng, shift)]
    item = 0
    while units < clauses:
        section += 1
        units += 1
        lines.append(f"{_section_label(section)}{rng.choice(pool.sections)}")
        for sub in range(1, rng.randint(2, 5) + 1):
            if units >= clauses:
                break
            units += 1
            lines.append(f"{_sub_label(sub)}{rng.choice(pool.groups)}")
            for _ in range(rng.randint(1, 4)):
                if units >= clauses:
                    break
                units += 1
                item += 1
                name, body = leaf_text()
                lines += [f"{item}. {name}。", body]
    lines.append(f"{region.name}人民政府办公厅")
    return "\n\n".join(lines) + "\n", units


def generate(out: Path, clauses: int, seed: int = 7) -> tuple[int, int]:
    """Write documents totalling about `clauses` numbered units into `out` (emptied first); return (files, units)."""
    if out.exists():
        shutil.rmtree(out)
    rng = random.Random(seed)
    pool = real_pool()
    total = files = 0
    while total < clauses:
        # Real documents have 10 to 60 numbered units; so do these.
        size = min(rng.randint(10, 60), max(clauses - total, 3))
        text, units = document(rng, pool, files, size)
        path = out / f"part-{files // FILES_PER_FOLDER:04d}" / f"doc-{files:07d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        total += units
        files += 1
    return files, total


def change(corpus: Path, fraction: float, seed: int = 7) -> list[Path]:
    """Edit one clause in a repeatable `fraction` of the documents; return the edited files."""
    paths = discover(corpus)
    chosen = random.Random(seed).sample(paths, k=max(1, round(len(paths) * fraction)))
    for path in chosen:
        text = path.read_text(encoding="utf-8")
        # The end of the body paragraph of the first numbered item: the edit lands inside that clause.
        at = text.find("。\n", text.find("\n", text.find("\n1. ") + 1) + 1)
        path.write_text(text[:at] + "，并定期评估实施效果" + text[at:], encoding="utf-8")
    return chosen


def main() -> None:
    """Write a corpus of the requested size."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--clauses", default="10k", help="about how many clauses: 1k, 10k, 100k, 1M")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    files, units = generate(args.out, parse_size(args.clauses), args.seed)
    print(f"{files} documents, {units} numbered clauses in {args.out}")


if __name__ == "__main__":
    main()
