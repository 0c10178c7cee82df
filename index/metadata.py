"""Document metadata from the text: title, issuer, 文号, issue date, region, plan period, target year."""

from __future__ import annotations

import re
from datetime import date

from index.lang.numbering import CN_NUM, cn_digits_to_int, cn_to_int
from index.lang.regions import gazetteer
from index.lang.text import TARGET_YEAR
from index.records import Clause, PolicyDoc, SourceText

DOC_TYPES = ("实施方案", "实施意见", "若干措施", "若干意见", "方案", "意见", "措施", "办法", "规定", "条例", "通知",
             "决定", "规划", "细则", "纲要", "法", "指引", "计划", "公告", "通告", "批复", "要点", "政策", "指南")
TITLE_END = re.compile(rf"(?:{'|'.join(DOC_TYPES)})(?:[（(][^（）()]{{2,20}}[）)])?$")
DOC_NUMBER = re.compile(r"^[\u4e00-\u9fff]{1,12}[〔\[【(（]\s*\d{4}\s*[〕\]】)）]\s*第?\d{1,4}\s*号$")
ARABIC_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
CN_DATE = re.compile(rf"([〇○零O一二三四五六七八九]{{4}})年([{CN_NUM}]{{1,3}})月([{CN_NUM}]{{1,3}})日")
PERIOD = re.compile(r"[（(]\s*(\d{4})\s*[-—–－~至到]+\s*(\d{4})\s*年?\s*[)）]")
FIVE_YEAR = re.compile(r"“?十([一二三四五])五”?")
ORG = re.compile(r"^[\u4e00-\u9fff（）]{2,30}(厅|局|部|委|办|委员会|政府|办公厅|办公室|总台|院|会|中心|政府办公厅)$")
ADDRESSEES = re.compile(r"^各.{0,120}[：:]$|.*新疆生产建设兵团")
ISSUED = re.compile(r"^(\S{2,30}?(?:办公厅|办公室|政府|委员会|厅|局))\s*\d{4}\s*年.*印发")


def _parse_date(text: str) -> date | None:
    """Return the first date written in Arabic or Chinese numerals in the text."""
    for pattern, year_of in ((ARABIC_DATE, int), (CN_DATE, cn_digits_to_int)):
        m = pattern.search(text)
        if m:
            y, mo, d = year_of(m.group(1)), cn_to_int(m.group(2)), cn_to_int(m.group(3))
            try:
                return date(y, mo, d) if y and mo and d else None
            except ValueError:
                continue
    return None


def _front_lines(text: str, clauses: list[Clause]) -> list[str]:
    """Return the paragraphs before the first numbered clause (title block, notice, signatures)."""
    first = next((c for c in clauses if c.label not in ("前言",)), None)
    head = text[: first.start] if first is not None and first.start > 0 else text[:600]
    lines = [x.strip() for x in head.split("\n") if x.strip()]
    # A title broken over two short lines ("印发关于……" / "若干措施的通知") is one title.
    merged: list[str] = []
    for line in lines:
        prev = merged[-1] if merged else ""
        if (prev and not TITLE_END.search(prev) and TITLE_END.search(line) and len(prev) < 30
                and not re.search(r"[，。：:；]", prev + line) and not DOC_NUMBER.match(prev)
                and not _parse_date(prev) and not ORG.match(prev) and prev != "文件"):
            merged[-1] += line
        else:
            merged.append(line)
    return merged


def _title(lines: list[str]) -> str | None:
    """Return the document's own title: the attached document when the front matter is a covering notice."""
    # A web page's breadcrumb ("首页 > 政务公开 > 通知公告") ends like a title but is the site's navigation.
    candidates = [ln for ln in lines if len(ln) <= 80 and not re.search(r"[，。；;>＞›»]", ln) and TITLE_END.search(ln)]
    substantive = [ln for ln in candidates if not ln.endswith("通知")]
    # A covering notice "印发《X》的通知" is about X, whose title is what people cite.
    quoted = [m.group(1) for ln in candidates if (m := re.search(r"印发《([^》]+)》", ln))]
    title = (substantive or quoted or candidates or [None])[0]
    if title is None:
        return None
    i = lines.index(title) if title in lines else len(lines)
    if i + 1 < len(lines) and PERIOD.fullmatch(lines[i + 1]):
        title += "（" + PERIOD.fullmatch(lines[i + 1]).group(0).strip("()（）") + "）"  # type: ignore[union-attr]
    return re.sub(r"\s+", "", title)


def _leading_title(text: str) -> str | None:
    """Return the title a notice written as one paragraph starts with ("关于做好……工作的通知 各区……：")."""
    first = text.split("\n", 1)[0]
    head = re.split(r"[\s：:，,。]", first, maxsplit=1)[0]
    return head if head != first and len(head) <= 60 and TITLE_END.search(head) else None


def _issuer(lines: list[str], text: str, title: str | None) -> str | None:
    """Return the issuing organisation(s) from the letterhead, the notice title, or the 印发 line."""
    letterhead = []
    for line in lines:
        if line in ("文件",) or DOC_NUMBER.match(line):
            break
        if ORG.match(line):
            letterhead.append(line)
        else:
            letterhead = []
    if letterhead and len(letterhead) < len(lines):
        return "、".join(letterhead)
    for line in lines:
        m = re.match(r"^(\S{2,40}?)(?:关于)?印发", line)
        if m and ORG.match(re.sub(r"等(部门|单位)$", "", m.group(1))):
            return m.group(1)
    for line in text.split("\n")[-8:]:
        m = ISSUED.match(line.strip())
        if m:
            return m.group(1)
    return None


def _period(title: str | None, lines: list[str]) -> tuple[int, int] | None:
    """Return the plan period from the title block: (2021-2025年) or a 十四五 plan."""
    for line in ([title] if title else []) + lines[:4]:
        m = PERIOD.search(line)
        if m and int(m.group(1)) < int(m.group(2)):
            return int(m.group(1)), int(m.group(2))
    for line in ([title] if title else []):
        m = FIVE_YEAR.search(line)
        if m:
            start = 2001 + 5 * (cn_to_int(m.group(1)) or 0)  # 十一五 = 2006-2010
            return start, start + 4
    return None


def extract_metadata(doc_id: str, source: SourceText, text: str, clauses: list[Clause]) -> PolicyDoc:
    """Return the document record, sidecar values overriding what the text says."""
    meta = dict(source.meta)
    lines = _front_lines(text, clauses)
    title = str(meta.get("title") or _title(lines) or _leading_title(text) or doc_id)
    numbers = [ln for ln in lines if DOC_NUMBER.match(ln)]
    issuer = meta.get("issuer") or _issuer(lines, text, title)
    dated = [ln for ln in lines if _parse_date(ln) and len(ln) <= 20]
    tail = [ln for ln in text.split("\n")[-6:] if ISSUED.match(ln.strip())]
    issue_date = _parse_date(dated[0]) if dated else (_parse_date(tail[0]) if tail else None)
    if meta.get("issue_date"):
        issue_date = date.fromisoformat(str(meta["issue_date"]))
    gaz = gazetteer()
    region_name = meta.get("region")
    region = gaz.get(str(region_name)) if region_name else None
    if region is None:
        # The addressees of a national notice ("各省、自治区、直辖市人民政府，新疆生产建设兵团：") name places it
        # is sent to, not the place it is about.
        opening = "\n".join(ln for ln in text[:300].split("\n") if not ADDRESSEES.match(ln.strip()))
        for source_text in (str(issuer or ""), title, opening):
            found = gaz.find(source_text)
            if found:
                region = found[0]
                break
    period = _period(title, lines)
    if meta.get("period"):
        raw = meta["period"]
        years = [int(y) for y in (raw if isinstance(raw, list) else re.findall(r"\d{4}", str(raw)))]
        period = (years[0], years[-1]) if years else period
    targets = [int(y) for y in TARGET_YEAR.findall(text)]
    target_year = int(str(meta["target_year"])) if meta.get("target_year") else (max(targets) if targets else None)
    return PolicyDoc(
        doc_id=doc_id, title=title, text=text, source=source.path, content_hash=source.content_hash,
        issuer=str(issuer) if issuer else None,
        doc_number=str(meta.get("doc_number") or (numbers[0] if numbers else "")) or None,
        issue_date=issue_date, region=region.name if region else (str(region_name) if region_name else None),
        province=region.province if region else None, period=period, target_year=target_year,
    )


def notice_title(text: str) -> str | None:
    """Return the title line of a covering notice ("关于印发……的通知") from its first lines, if it has one."""
    for line in [x.strip() for x in text.split("\n")[:12] if x.strip()]:
        if len(line) <= 80 and line.endswith("通知") and not re.search(r"[，。；;：:]", line):
            return re.sub(r"\s+", "", line)
    return None
