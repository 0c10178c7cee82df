"""Boilerplate is not content: a notice's issuer header, 文号, addressees, the sentence that transmits it, the
signature and date block, 版记 (主题词/抄送/印发) and a web page's furniture (reprint and copyright notices, 责任编辑).
They stay in the document (its metadata says who issued it and when) but are never ranked or quoted as a clause."""

from __future__ import annotations

import re
from collections.abc import Callable

# Whole lines that are furniture, whatever clause they sit in.
LINE = re.compile(
    r"^(?:"
    r"文件|主题词[:：].*|抄送[:：].*|主送[:：].*|分送[:：].*|发送[:：].*|联系人[:：].*|联系电话[:：].*"
    r"|.{0,40}\d{4}年\d{1,2}月\d{1,2}日\s*印发|[（(]?印\d+份[）)]?"
    r"|[（(]此件[^（）()]{0,10}[）)]|[（(]?(?:此件|本件)(?:公开发布|主动公开|依申请公开|不予公开)[）)]?"
    r"|\S{1,12}〔\d{4}〕\d+号"  # 文号
    r"|(?:\d{4}|[〇○零一二三四五六七八九]{4})年[\d一二三四五六七八九十]{1,3}月[\d一二三四五六七八九十]{1,3}日"
    r"|各[^。；]{0,80}[:：]"  # addressees: 各区人民政府，市政府直属各单位：
    r"|(?:关于)?(?:印发|转发)[^。；，,]{0,60}"  # the notice's own title: 印发关于……的通知
    r"|[^。；，,]{0,40}的通知"
    r"|.*(?:凡本网注明|版权所有|责任编辑|本网转载|转载请注明|打印本页|关闭窗口|分享到|扫一扫|当前位置[:：]|字体[:：]?\s*【).*"
    r")$"
)
# A line made only of issuing bodies' names: the header above a notice and the signature below it.
AGENCY = re.compile(
    r"^(?:(?:中共)?[\u4e00-\u9fff]{1,20}?(?:人民政府|政府|办公厅|办公室|委员会|党委|部|厅|局|委|办|署|院|总台|中心|银行|监管局|分局|管委会)"
    r"(?:[、，,\s]+|$))+$"
)
# The sentence that hands the document on ("现予印发，请遵照执行"): the notice around a policy, not the policy.
TRANSMIT = re.compile(r"现予印发|现印发给你们|印发给你们|现将[^。]{0,80}印发|请遵照执行|"
                      r"请认真贯彻执行|请认真贯彻落实|请认真组织实施")
NAME_ONLY = re.compile(r"^(?:文件|\S{1,12}〔\d{4}〕\d+号)$")
# A clause with less content than this once its furniture is gone is boilerplate as a whole.
MIN_CONTENT_CHARS = 12
CJK = re.compile(r"[\u3400-\u9fff]")
LABELS = frozenset({"版记"})


def is_furniture(line: str) -> bool:
    """Return True for a printed line that is a notice's or a web page's furniture, not policy."""
    line = line.strip()
    return bool(line) and bool(LINE.match(line) or AGENCY.match(line) or TRANSMIT.search(line))


def content(text: str, source: str | None = None) -> str:
    """Return the text without its furniture lines; `source` is the clause a passage comes from, whose printed
    lines tell what is furniture when the passage has lost its line breaks."""
    return _without(text, source, is_furniture)


def statements(text: str, source: str | None = None) -> str:
    """Return the text without the lines that only name: issuing bodies, 文件, 文号 (what a question about who
    issued a document is answered from, without the header's names run together)."""
    return _without(text, source, lambda line: bool(AGENCY.match(line.strip()) or NAME_ONLY.match(line.strip())))


def _without(text: str, source: str | None, drop: Callable[[str], bool]) -> str:
    """Return the text's printed lines that are not dropped; a passage of `source` that lost its line breaks gets
    them back from the source (the part of each source line the passage spans, as the passage writes it), or is
    kept whole if it is not found there."""
    if source is None:
        return "\n".join(line for line in text.split("\n") if line.strip() and not drop(line))
    lines = [line for line in source.split("\n") if line.strip()]
    # Passage and source are matched without whitespace; the parts returned keep the passage's own characters.
    kept = [i for i, ch in enumerate(text) if not ch.isspace()]
    flat = "".join(text[i] for i in kept)
    joined = "".join(re.sub(r"\s+", "", line) for line in lines)
    start = joined.find(flat) if flat else -1
    if start < 0:
        return text
    parts, offset = [], 0
    for line in lines:
        width = len(re.sub(r"\s+", "", line))
        lo, hi = max(start, offset), min(start + len(flat), offset + width)
        if lo < hi and not drop(line):
            parts.append(text[kept[lo - start]: kept[hi - start - 1] + 1])
        offset += width
    return "\n".join(parts)


def is_boilerplate(label: str, text: str) -> bool:
    """Return True for a clause that is furniture as a whole (版记, a transmitting notice, a signature block); a
    heading without text of its own is not."""
    if label in LABELS:
        return True
    kept = content(text)
    return kept != text.strip() and len(CJK.findall(kept)) < MIN_CONTENT_CHARS
