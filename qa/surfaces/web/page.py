"""What the chat page shows, computed without Gradio: progress in plain words, the steps of an arriving answer,
the clause panel, what the browser keeps of a turn, the finder's table."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from index.lang.script import to_traditional
from qa.records import Answer
from qa.render.markdown import citation_choices, clause_panel_html, lead_citation
from qa.service import Service
from qa.service.front import FinderRow
from qa.settings import Settings

CITIZEN_EXAMPLES = [
    "深圳文化科技型企业用房有什么政策？",
    "廣東對文化科技企業有哪些金融支持？",
    "江苏的文化大数据要怎么做安全保护？",
]
ENTERPRISE_EXAMPLES = [
    "江苏有哪些文化产业基金可以用？",
    "广东和江苏在金融支持上有什么不同？",
    "我是深圳的一家动漫中小企业",
]
PANEL_HINT = "<p class='hint'>点击回答中的【1】等引用标记或下方的引用条款，在此查看条款原文。</p>"
# What happened when an answer cites nothing, by the answer's outcome; the suggestions in the answer send when
# clicked.
UNCITED_HINTS = {
    "clarify": "这次助手请您把问题说得更具体一些（哪个地区、哪一类支持），所以没有引用条款。"
               "点击回答里的示例问题即可直接提问。",
    "refuse": "这次的回答没有引用条款：已收录的文件中没有找到相关规定。点击回答里建议的问题即可直接提问，"
              "或展开“知识库收录的文件”看看收录了哪些文件。",
}
TRADITIONAL_NOTE = "<p class='hint'>原文為簡體字，此處以繁體顯示。</p>"
# The conversation kept in the browser (a reload, or WeChat bringing the page back, shows it again).
EMPTY_SAVED: dict[str, list] = {"chat": [], "questions": [], "turns": []}
ALL = "全部文件"
ANY = "全部"
STREAM_STEP = 24
BUILD_POLL_SECONDS = 0.5
# The first start's build stages (index/build.py) in a citizen's words.
STAGE_WORDS = {"读取文件": "读取政策文件", "识别扫描件": "识别扫描的文件", "计算向量": "分析文件内容"}
# 联系部门 as the chat's checklist names it: the measure's lead agencies, else the issuer of its document.
FINDER_COLUMNS = ["地区", "类型", "措施", "要点", "适用对象", "联系部门", "依据"]


def _minutes(seconds: float) -> str:
    """Return a remaining time in plain words: 不到 1 分钟, 约 3 分钟."""
    return "不到 1 分钟" if seconds < 60 else f"约 {math.ceil(seconds / 60)} 分钟"


def progress_text(service: Service) -> str:
    """Return what the server is doing before it can answer, in plain words with the time it still needs."""
    if service.error:
        return service.error
    progress = service.progress
    if progress is None:
        return "正在打开知识库，请稍候……"
    stage = STAGE_WORDS.get(progress.stage.split(" ")[0], progress.stage)
    remaining = progress.remaining(time.monotonic())
    when = "正在估算剩余时间" if remaining is None else f"这一步预计还需{_minutes(remaining)}"
    return (f"首次启动，正在整理已收录的政策文件以便查找：{stage}（{progress.done}/{progress.total}），{when}。")


def waiting(service: Service) -> Iterator[str]:
    """Yield what a question shows while it waits for the first build, every BUILD_POLL_SECONDS, until the service
    is ready; the last is why it failed, when it did."""
    while not service.ready:
        if service.error:
            yield service.error
            return
        yield f"{progress_text(service)}整理好后会自动回答您的问题，请稍候。"
        time.sleep(BUILD_POLL_SECONDS)


def scopes(service: Service) -> dict[str, set[str] | None]:
    """Return the scope choices: everything, each region, each document (for a corpus of up to 200)."""
    return {ALL: None, **service.scopes()}


def steps(text: str) -> Iterator[str]:
    """Yield the growing beginnings of a final answer's Markdown, so a long quote reads as it arrives; none cuts a
    tag or an escape in two."""
    for end in range(STREAM_STEP, len(text), STREAM_STEP):
        if text[end - 1] != "\\" and "<" not in text[text.rfind(">", 0, end) + 1 : end]:
            yield text[:end]


def file_link(settings: Settings, doc_id: str) -> str:
    """Return the page's download link for a document's original file; none behind an API token, which a
    browser link cannot carry."""
    if settings.api_token.get_secret_value():
        return ""
    return f"/api/documents/{quote(doc_id)}/file"


def turn_record(answer: Answer, turn: int) -> dict[str, Any]:
    """Return what the page keeps of an answer (in the browser, as JSON): its citations and chips, its outcome,
    its script."""
    chips = citation_choices(answer, turn)
    if answer.traditional:
        chips = [(to_traditional(label), value) for label, value in chips]
    return {"cites": [[c.doc_id, c.clause_id, c.quote] for c in answer.citations], "chips": chips,
            "lead": lead_citation(answer), "outcome": answer.outcome, "traditional": answer.traditional}


def uncited_hint(outcome: str) -> str:
    """Return the panel's note for an answer that cites nothing, saying why by its outcome."""
    return f"<p class='hint'>{UNCITED_HINTS.get(outcome, UNCITED_HINTS['refuse'])}</p>"


def citation_panel(service: Service, turns: list[dict], turn: int, index: int) -> str:
    """Return the panel showing citation `index` of answer `turn`: the clause with its quote marked, in the
    answer's script; a hint when the clause is gone since (a rebuild), nothing for a citation that is not there."""
    if not service.ready or not 0 <= turn < len(turns) or not 0 <= index < len(turns[turn]["cites"]):
        return ""
    doc_id, clause_id, quote = turns[turn]["cites"][index]
    clause, doc = service.clause(clause_id), service.document(doc_id)
    if clause is None or doc is None:  # kept from before a rebuild
        return PANEL_HINT
    html = clause_panel_html(clause, doc, quote, file_link(service.settings, doc_id))
    # A traditional-script reader reads the clause in that script too, told that the original is simplified.
    return TRADITIONAL_NOTE + to_traditional(html) if turns[turn]["traditional"] else html


def measure_panel(service: Service, clause_id: str) -> str:
    """Return the panel showing a measure's clause, as the finder's table links it."""
    clause = service.clause(clause_id)
    doc = service.document(clause.doc_id) if clause else None
    if clause is None or doc is None:
        return ""
    return clause_panel_html(clause, doc, file_url=file_link(service.settings, clause.doc_id))


def finder_line(found: FinderRow) -> list[str]:
    """Return a measure's line of the finder's table, in FINDER_COLUMNS order."""
    r = found.row
    return [r.region + (f"（适用于{r.applies_to}）" if r.applies_to else ""), "、".join(r.types), r.title, r.summary,
            "、".join(r.beneficiaries), found.contact, r.citation.source]
