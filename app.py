"""Gradio chat UI: a thin adapter over the qa API. `make run` serves it on 127.0.0.1:7860."""

from __future__ import annotations

import argparse
import atexit
import functools
import inspect
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gradio as gr
from fastapi import FastAPI

from index.lang.script import to_traditional
from index.lang.terms import values
from qa import Answer, PolicyQAError, Settings, load_settings
from qa.answer.checklist import contact
from qa.finder import PROFILE, measure_rows
from qa.render.markdown import (
    answer_markdown,
    citation_choices,
    clause_panel_html,
    documents_html,
    escape,
    lead_citation,
)
from qa.service.loader import AssistantLoader
from qa.stores.feedback import FeedbackStore
from qa.surfaces.http.app import create_app
from qa.surfaces.http.serving import listen, uvicorn_options
from qa.understand.scopes import groups_of

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
STATIC = files("qa.surfaces.web").joinpath("static")
CSS = STATIC.joinpath("app.css").read_text(encoding="utf-8")
HEAD = f"<script>{STATIC.joinpath('app.js').read_text(encoding='utf-8')}</script>"
# Gradio's own chat buttons, in the page's language whatever the browser's (the page is Chinese only).
CHAT_WORDS = {"chatbot.copy_message": "复制回答", "chatbot.copied_message": "已复制", "chatbot.clear": "清空"}
I18N = gr.I18n(**{locale: CHAT_WORDS for locale in ("en", "zh-CN", "zh")},
               **{locale: {**CHAT_WORDS, "chatbot.copy_message": "複製回答", "chatbot.copied_message": "已複製"}
                  for locale in ("zh-TW", "zh-HK")})
STREAM_STEP = 24
TURN_OUTPUTS = 14
BUILD_POLL_SECONDS = 0.5
# The first start's build stages (index/build.py) in a citizen's words.
STAGE_WORDS = {"读取文件": "读取政策文件", "识别扫描件": "识别扫描的文件", "计算向量": "分析文件内容"}


FAILED = "查询时出现问题，请稍后再试。"
EXAMPLE = "示例问题"
log = logging.getLogger(__name__)


def guarded(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Return the handler with any exception logged (redacted) and shown to the user as a fixed message."""
    # show_error=False alone shows Gradio's bare "Error"; an exception's own text (paths, library internals,
    # a URL with its key) must not reach the page either way.
    def fail(exc: Exception) -> gr.Error:
        log.error("页面请求失败", exc_info=exc)
        return gr.Error(FAILED, print_exception=False)

    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from handler(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:
                raise fail(exc) from None
        return stream

    @functools.wraps(handler)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            raise fail(exc) from None
    return call


def _private_gradio_files() -> None:
    """Keep Gradio's telemetry off and its files in a folder of this process (0700, removed at exit).

    Both are read when the page is built, not when gradio is imported; the shared /tmp/gradio is never cleaned."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if "GRADIO_TEMP_DIR" not in os.environ:
        os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="policy-qa-gradio-")
        atexit.register(shutil.rmtree, os.environ["GRADIO_TEMP_DIR"], True)


def _scopes(loader: AssistantLoader) -> dict[str, set[str] | None]:
    """Return the scope choices: everything, each region, each document (for a corpus of up to 200)."""
    if loader.assistant is None:
        return {ALL: None}
    return {ALL: None, **groups_of(loader.assistant.kb).scopes}


def file_link(loader: AssistantLoader, doc_id: str) -> str:
    """Return the page's download link for a document's original file; none behind an API token, which a
    browser link cannot carry."""
    if loader.settings.api_token.get_secret_value():
        return ""
    return f"/api/documents/{quote(doc_id)}/file"


def _minutes(seconds: float) -> str:
    """Return a remaining time in plain words: 不到 1 分钟, 约 3 分钟."""
    return "不到 1 分钟" if seconds < 60 else f"约 {math.ceil(seconds / 60)} 分钟"


def progress_text(loader: AssistantLoader) -> str:
    """Return what the server is doing before it can answer, in plain words with the time it still needs."""
    if loader.error:
        return loader.error
    progress = loader.progress
    if progress is None:
        return "正在打开知识库，请稍候……"
    stage = STAGE_WORDS.get(progress.stage.split(" ")[0], progress.stage)
    remaining = progress.remaining(time.monotonic())
    when = "正在估算剩余时间" if remaining is None else f"这一步预计还需{_minutes(remaining)}"
    return (f"首次启动，正在整理已收录的政策文件以便查找：{stage}（{progress.done}/{progress.total}），{when}。")


def turn_record(answer: Answer, turn: int) -> dict[str, Any]:
    """Return what the page keeps of an answer (in the browser, as JSON): its citations and chips, its outcome,
    its script."""
    chips = citation_choices(answer, turn)
    if answer.traditional:
        chips = [(to_traditional(label), value) for label, value in chips]
    return {"cites": [[c.doc_id, c.clause_id, c.quote] for c in answer.citations], "chips": chips,
            "lead": lead_citation(answer), "outcome": answer.outcome, "traditional": answer.traditional}


def build_ui(loader: AssistantLoader, feedback: FeedbackStore) -> gr.Blocks:
    """Return the chat page."""

    @guarded
    def status() -> tuple[dict, dict, dict, dict]:
        ready = loader.ready
        text = "" if ready else escape(progress_text(loader))
        docs = documents_html(loader.assistant.kb.docs.values()) if loader.assistant else ""
        scopes = list(_scopes(loader))
        return (gr.update(value=text, visible=not ready), gr.update(value=docs),
                gr.update(choices=scopes), gr.update(active=not ready))

    def panel_for(turns: list[dict], turn: int, index: int) -> str:
        if loader.assistant is None or not 0 <= turn < len(turns) or not 0 <= index < len(turns[turn]["cites"]):
            return ""
        doc_id, clause_id, quote = turns[turn]["cites"][index]
        kb = loader.assistant.kb
        if clause_id not in kb.clauses or doc_id not in kb.docs:  # kept from before a rebuild
            return PANEL_HINT
        html = clause_panel_html(kb.clauses[clause_id], kb.docs[doc_id], quote, file_link(loader, doc_id))
        # A traditional-script reader reads the clause in that script too, told that the original is simplified.
        return TRADITIONAL_NOTE + to_traditional(html) if turns[turn]["traditional"] else html

    def uncited_hint(outcome: str) -> str:
        return f"<p class='hint'>{UNCITED_HINTS.get(outcome, UNCITED_HINTS['refuse'])}</p>"

    def chips_for(turns: list[dict], turn: int, index: int | None = None) -> dict:
        chips = [tuple(c) for c in turns[turn]["chips"]]
        pick = turns[turn]["lead"] if index is None else index
        return gr.update(choices=chips, value=chips[pick][1] if chips else None, visible=bool(chips))

    # The conversation each page session is on: 新对话 starts the next one, and an answer still arriving (or still
    # waiting for the first build) for an older one stops at its next step. Otherwise that step put the old
    # conversation back into the emptied chat. Gradio's own `cancels` needs routes the web gate keeps closed.
    conversation: dict[str, int] = {}

    @guarded
    def respond(message: str, chat: list[dict], questions: list[str], turns: list[dict], answers: list[Answer],
                scope: str, request: gr.Request) -> Iterator[tuple]:
        session = request.session_hash or ""
        number = conversation.get(session, 0)
        for update in answer_turn(message, chat, questions, turns, answers, scope):
            if conversation.get(session, 0) != number:
                # A step computed just before 新对话 may still reach the page after its empty chat (each is sent when
                # it is ready): the last step shows the new conversation again, and Gradio resends it as the end.
                empty, *rest = cleared()
                yield (empty, gr.skip(), *rest)
                return
            yield update

    # The outputs of a turn: the chat, the box, the conversation (questions, turns, answers, the browser's copy),
    # the citations, the panel, and the feedback of the new answer (none yet).
    def answer_turn(message: str, chat: list[dict], questions: list[str], turns: list[dict], answers: list[Answer],
                    scope: str) -> Iterator[tuple]:
        message = (message or "").strip()
        if not message:
            yield tuple(gr.skip() for _ in range(TURN_OUTPUTS))  # an empty submit changes nothing
            return
        chat = [*chat, {"role": "user", "content": escape(message)}]
        hidden = gr.update(visible=False)

        # Only the first step empties the box: a reader may type the next question while this answer arrives.
        def step(reply: str | None, box: Any = None) -> tuple:
            shown = chat if reply is None else [*chat, {"role": "assistant", "content": reply}]
            return (shown, gr.skip() if box is None else box, *(gr.skip() for _ in range(6)), hidden, "", gr.skip(),
                    None, *unrated())

        yield step(None, "")  # the question moves from the box to the chat at once
        # First start: the question waits for the index, with its progress shown, and is answered when ready.
        while loader.assistant is None:
            if loader.error:
                yield step(escape(loader.error))
                return
            yield step(escape(f"{progress_text(loader)}整理好后会自动回答您的问题，请稍候。"))
            time.sleep(BUILD_POLL_SECONDS)
        draft = ""
        answer: Answer | None = None
        started = time.monotonic()
        for part in loader.assistant.stream(message, questions, _scopes(loader).get(scope)):
            if isinstance(part, Answer):
                answer = part
                break
            # An LLM draft shows as it is written; the verified answer replaces it below.
            draft += part
            yield step(escape(draft))
        assert answer is not None
        loader.log("web", "", answer, time.monotonic() - started)
        turn = len(turns)
        turns = [*turns, turn_record(answer, turn)]
        text = answer_markdown(answer, turn)
        if not draft:
            # The extractive answer is final at once; show it in steps so a long quote reads naturally.
            for end in range(STREAM_STEP, len(text), STREAM_STEP):
                if text[end - 1] != "\\" and "<" not in text[text.rfind(">", 0, end) + 1 : end]:
                    yield step(text[:end])
        chat = [*chat, {"role": "assistant", "content": text}]
        questions = [*questions, message]
        chips = chips_for(turns, turn)
        panel = panel_for(turns, turn, turns[turn]["lead"]) if answer.citations else uncited_hint(answer.outcome)
        saved = {"chat": chat, "questions": questions, "turns": turns}
        yield (chat, gr.skip(), questions, turns, [*answers, answer], saved, chips, panel, gr.update(visible=True),
               "", "", None, *unrated())

    @guarded
    def show_clause(choice: str | None, turns: list[dict]) -> str:
        if not choice or ":" not in choice:
            return gr.skip()
        turn, index = map(int, choice.split(":"))
        return panel_for(turns, turn, index)

    @guarded
    def open_citation(request: str, turns: list[dict]) -> tuple[dict, str]:
        # "turn-n-nonce" from a click on 【n】 in an answer: the chips show that answer's citations.
        try:
            turn, n = map(int, request.split("-")[:2])
        except ValueError:
            return gr.skip(), gr.skip()
        if not 0 <= turn < len(turns) or not 1 <= n <= len(turns[turn]["cites"]):
            return gr.skip(), gr.skip()
        return chips_for(turns, turn, n - 1), panel_for(turns, turn, n - 1)

    def example_text(event: gr.SelectData) -> str:
        return str(event.value["text"])

    def asked_text(request: str) -> str:
        # "nonce:question" from a click on a suggested question in an answer (the nonce makes a repeat a change).
        return request.partition(":")[2].strip() or gr.skip()

    def forget(request: gr.Request) -> None:
        conversation.pop(request.session_hash or "", None)  # the page was closed

    def cleared() -> tuple:
        return ([], [], [], [], EMPTY_SAVED, gr.update(choices=[], value=None, visible=False), PANEL_HINT,
                gr.update(visible=False), "", "", None, *unrated())

    def new_chat(request: gr.Request) -> tuple:
        session = request.session_hash or ""
        conversation[session] = conversation.get(session, 0) + 1
        return cleared()

    def restore(saved: dict | None) -> tuple:
        # The conversation this browser kept; its answers can be read and their clauses opened, not rated again.
        saved = saved if isinstance(saved, dict) else EMPTY_SAVED
        return saved.get("chat", []), saved.get("questions", []), saved.get("turns", [])

    def unrated() -> tuple[dict, dict]:
        return gr.update(variant="secondary", value="有帮助"), gr.update(variant="secondary", value="没帮助")

    @guarded
    def give_feedback(rating: str, comment: str, answers: list[Answer], rated: int | None
                      ) -> tuple[str, int | None, dict, dict]:
        if not answers:
            return "请先提问，再对回答进行评价。", None, *unrated()
        # One row per answer: rating it again changes that row.
        if rated is None:
            rated = feedback.record(answers[-1], rating, comment)
        else:
            feedback.update(rated, rating, comment)
        said = "有帮助" if rating == "up" else "没帮助"
        # The chosen button stays marked (and says so to a screen reader), so a reader sees what they chose.
        up = gr.update(variant="primary" if rating == "up" else "secondary",
                       value="有帮助（已选）" if rating == "up" else "有帮助")
        down = gr.update(variant="primary" if rating == "down" else "secondary",
                         value="没帮助（已选）" if rating == "down" else "没帮助")
        return f"感谢您的反馈！已记录：{said}（可再次点击更改）。", rated, up, down

    # delete_cache: files Gradio keeps (none expected) go after a day, checked hourly.
    with gr.Blocks(title="政策问答助手", analytics_enabled=False, delete_cache=(3600, 86_400)) as demo:
        questions = gr.State([])
        turns = gr.State([])
        answers = gr.State([])
        rated = gr.State(None)
        saved = gr.BrowserState(EMPTY_SAVED, storage_key="policy-qa-conversation")
        gr.Markdown("## 政策问答助手\n回答均摘自已收录的政策原文，并注明出处条款。", elem_id="header")
        progress = gr.Markdown("", elem_id="build-status")
        with gr.Tab("政策问答", elem_id="tab-chat"), gr.Row(equal_height=False, elem_id="chat-row"):
            with gr.Column(scale=3, min_width=320, elem_id="chat-col"):
                with gr.Row(elem_id="chat-tools"):
                    scope = gr.Dropdown([ALL], value=ALL, label="查询范围", elem_id="scope", scale=4)
                    new = gr.Button("新对话", elem_id="new-chat", size="sm", variant="secondary", scale=1,
                                    min_width=90)
                # autoscroll off: a new answer is shown from its start (app.js), not from its sources at the end.
                chatbot = gr.Chatbot(height=460, buttons=["copy"], elem_id="chat", show_label=False,
                                     label="对话", placeholder="请输入您想了解的政策问题，回答会注明依据的条款。",
                                     autoscroll=False,
                                     examples=[{"text": q} for q in CITIZEN_EXAMPLES[:2] + ENTERPRISE_EXAMPLES[:2]])
                box = gr.Textbox(placeholder="例如：江苏有哪些文化产业基金可以用？", show_label=False,
                                 label="您的问题", elem_id="question", submit_btn="发送")
                chips = gr.Radio([], label="引用条款（点击查看原文）", visible=False, elem_id="citations",
                                 elem_classes=["chips"])
                cite_request = gr.Textbox(visible="hidden", elem_id="cite-request", label="打开引用")
                ask_request = gr.Textbox(visible="hidden", elem_id="ask-request", label="提问建议的问题")
            with gr.Column(scale=2, min_width=300, elem_id="side-col"):
                # Document links (查看原文) go in the panel's facts, where 文件 is named.
                panel = gr.HTML(PANEL_HINT, elem_id="clause-panel")
                with gr.Group(visible=False, elem_id="feedback") as feedback_box:
                    with gr.Row(elem_id="feedback-row"):
                        up = gr.Button("有帮助", elem_id="helpful", size="sm")
                        down = gr.Button("没帮助", elem_id="unhelpful", size="sm")
                    comment = gr.Textbox(placeholder="可选：告诉我们哪里可以改进（点击评价按钮时一并提交）",
                                         show_label=False, label="改进意见", elem_id="comment")
                    thanks = gr.Markdown("", elem_id="feedback-status")
                with gr.Accordion("知识库收录的文件", open=False, elem_id="documents-box"):
                    docs = gr.HTML("", elem_id="documents")
                with gr.Column(elem_id="examples"):
                    # Datasets, not gr.Examples: a click sends the question, as the examples in the chat do.
                    citizen = gr.Dataset(components=[box], samples=[[q] for q in CITIZEN_EXAMPLES],
                                         label="市民常问", elem_id="citizen-examples")
                    enterprise = gr.Dataset(components=[box], samples=[[q] for q in ENTERPRISE_EXAMPLES],
                                            label="企业常问", elem_id="enterprise-examples")
        with gr.Tab("政策速查", elem_id="tab-finder") as finder:
            finder_tab(loader, finder)
        timer = gr.Timer(1.0)
        timer.tick(status, outputs=[progress, docs, scope, timer])
        demo.load(status, outputs=[progress, docs, scope, timer])
        demo.load(restore, [saved], [chatbot, questions, turns])
        # Each answer starts its own feedback: no thanks, no comment, no row, no button marked.
        turn_outputs = [chatbot, box, questions, turns, answers, saved, chips, panel, feedback_box, thanks, comment,
                        rated, up, down]
        assert len(turn_outputs) == TURN_OUTPUTS
        turn_inputs = [box, chatbot, questions, turns, answers, scope]
        # always_last: Enter while an answer is still arriving asks the box's question once that answer is done
        # (Gradio's default dropped it), e.g. a question typed during the first build, or right after 新对话.
        box.submit(respond, turn_inputs, turn_outputs, concurrency_limit=8, trigger_mode="always_last")
        chatbot.example_select(example_text, None, box).then(respond, turn_inputs, turn_outputs,
                                                             concurrency_limit=8)
        for examples in (citizen, enterprise):
            examples.click(lambda sample: sample[0], [examples], [box]).then(respond, turn_inputs, turn_outputs,
                                                                             concurrency_limit=8)
        ask_request.change(asked_text, [ask_request], [box]).then(respond, turn_inputs, turn_outputs,
                                                                  concurrency_limit=8)
        chips.input(show_clause, [chips, turns], [panel])
        cite_request.change(open_citation, [cite_request, turns], [chips, panel])
        fresh = [chatbot, questions, turns, answers, saved, chips, panel, feedback_box, thanks, comment, rated, up,
                 down]
        new.click(new_chat, outputs=fresh)
        chatbot.clear(new_chat, outputs=fresh)  # the chat's own clear button starts over the same way
        demo.unload(forget)
        up.click(lambda c, a, r: give_feedback("up", c, a, r), [comment, answers, rated], [thanks, rated, up, down])
        down.click(lambda c, a, r: give_feedback("down", c, a, r), [comment, answers, rated],
                   [thanks, rated, up, down])
    return demo


def create_server(settings: Settings) -> FastAPI:
    """Return one ASGI app: the HTTP API, OpenAI and WeChat endpoints, with the chat UI mounted at /."""
    _private_gradio_files()
    loader = AssistantLoader(settings).start()
    app = create_app(settings, loader)
    # show_error=False: exception text never reaches the browser (handlers are guarded). No footer links (the
    # "use via API" page), no run history: the page's programmatic routes are gated in qa/surfaces/web/gate.py.
    return gr.mount_gradio_app(app, build_ui(loader, FeedbackStore(settings.feedback_db)), path="/", css=CSS,
                               head=HEAD, i18n=I18N, show_error=False, footer_links=[], run_history=False)


# 联系部门 as the chat's checklist names it: the measure's lead agencies, else the issuer of its document.
FINDER_COLUMNS = ["地区", "类型", "措施", "要点", "适用对象", "联系部门", "依据"]


def finder_tab(loader: AssistantLoader, tab: gr.Tab) -> None:
    """Add the measure finder: filters, a sortable table with citations, and a profile checklist."""
    rows_state = gr.State([])

    def options(field: str) -> list[str]:
        return [ANY, *values(field)]

    def regions() -> dict:
        return gr.update(choices=[ANY, *(groups_of(loader.assistant.kb).regions if loader.assistant else [])])

    @guarded
    def search(region: str, kind: str, industry: str, who: str) -> tuple[list[list[str]], list[str], str]:
        if loader.assistant is None:
            return [], [], progress_text(loader)
        kb = loader.assistant.kb
        pick = [None if v == ANY else v for v in (region, kind, industry, who)]
        rows = measure_rows(kb, *pick)
        measures = {m.clause_id: m for m in kb.measures}
        # Measures with no type (其他) are not something to apply for; list them only when asked.
        rows = [r for r in rows if kind == "其他" or r.types != ("其他",)]
        table = [[r.region + (f"（适用于{r.applies_to}）" if r.applies_to else ""), "、".join(r.types), r.title,
                  r.summary, "、".join(r.beneficiaries), contact(kb, measures[r.clause_id]), r.citation.source]
                 for r in rows]
        return table, [r.clause_id for r in rows], f"共找到 {len(rows)} 项措施，点击某一行查看条款原文。"

    @guarded
    def show(rows: list[str], event: gr.SelectData) -> str:
        if loader.assistant is None or not rows or event.index[0] >= len(rows):
            return ""
        kb = loader.assistant.kb
        clause = kb.clauses[rows[event.index[0]]]
        return clause_panel_html(clause, kb.docs[clause.doc_id], file_url=file_link(loader, clause.doc_id))

    @guarded
    def checklist(profile: str) -> str:
        if loader.assistant is None:
            return progress_text(loader)
        text = profile.strip() or "我是一家文化科技企业"
        return answer_markdown(loader.assistant.ask(text if PROFILE.search(text) else f"我是{text}"))

    with gr.Row():
        region = gr.Dropdown([ANY], value=ANY, label="地区", allow_custom_value=True, elem_id="finder-region")
        kind = gr.Dropdown(options("type"), value=ANY, label="类型", elem_id="finder-type")
        industry = gr.Dropdown(options("industry"), value=ANY, label="行业", elem_id="finder-industry")
        who = gr.Dropdown(options("beneficiary"), value=ANY, label="对象/规模", elem_id="finder-beneficiary")
    go = gr.Button("查询", variant="primary", elem_id="finder-search")
    count = gr.Markdown("", elem_id="finder-count")
    # On a phone the seven columns cannot fit: say that the table scrolls (app.css shows this only there).
    gr.HTML("<p class='hint'>表格较宽，可左右滑动查看全部 7 列；点击某一行可查看条款原文。</p>", elem_id="finder-swipe")
    table = gr.Dataframe(headers=FINDER_COLUMNS, interactive=False, wrap=True, elem_id="finder-table",
                         column_widths=["72px", "96px", "130px", "300px", "110px", "110px", "220px"])
    panel = gr.HTML("<p class='hint'>点击表格中的一行，在此查看条款原文。</p>", elem_id="finder-panel")
    gr.Markdown("### 哪些政策适用于我")
    with gr.Row():
        profile = gr.Textbox(placeholder="例如：我是深圳的一家动漫中小企业", show_label=False, scale=5,
                             elem_id="profile")
        make = gr.Button("生成清单", elem_id="profile-go")
    result = gr.Markdown("", elem_id="profile-result")
    tab.select(regions, outputs=[region])
    go.click(search, [region, kind, industry, who], [table, rows_state, count])
    table.select(show, [rows_state], [panel])
    make.click(checklist, [profile], [result])
    profile.submit(checklist, [profile], [result])


def main(argv: list[str] | None = None) -> None:
    """Serve at once; the index opens (or is built on first start) in the background."""
    import uvicorn

    p = argparse.ArgumentParser(description="政策问答助手：聊天页面、HTTP API、OpenAI 兼容接口和微信回调")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--index", type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = load_settings(host=args.host, port=args.port, index_dir=args.index)
    # The port is taken before anything starts: a port in use is said in Chinese, not as uvicorn's errno line
    # after the page's address has already been printed.
    try:
        sock = listen(settings.host, settings.port)
    except PolicyQAError as exc:
        print(f"无法启动：{exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app = create_server(settings)
    print(f"政策问答助手：http://{settings.host}:{settings.port}/  （API 文档：/docs）", flush=True)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", **uvicorn_options())
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
