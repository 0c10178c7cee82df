"""Gradio chat UI: a thin adapter over the qa API. `make run` serves it on 127.0.0.1:7860."""

from __future__ import annotations

import argparse
import atexit
import functools
import inspect
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gradio as gr
from fastapi import FastAPI

from index.measures import vocabulary
from qa import Answer, Settings, load_settings
from qa.finder import PROFILE, measure_rows
from qa.render.markdown import answer_markdown, citation_choices, clause_panel_html, documents_html, escape
from qa.scopes import groups_of
from qa.server import AssistantLoader, create_app
from qa.server.feedback import FeedbackStore
from qa.server.serving import uvicorn_options

CITIZEN_EXAMPLES = [
    "深圳文化科技型企业用房有什么政策？",
    "廣東對文化科技企業有哪些金融支持？",
    "江苏的文化大数据要怎么做安全保护？",
]
ENTERPRISE_EXAMPLES = [
    "江苏有哪些文化产业基金可以用？",
    "广东对文化科技企业上市有什么支持？",
    "深圳文化科技型企业能享受哪些税收优惠？",
]
PANEL_HINT = "<p class='hint'>点击回答下方的引用条款，在此查看条款原文。</p>"
ALL = "全部文件"
ANY = "全部"
CSS = files("qa").joinpath("static", "app.css").read_text(encoding="utf-8")
STREAM_STEP = 24
FAILED = "查询时出现问题，请稍后再试。"
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


def build_ui(loader: AssistantLoader, feedback: FeedbackStore) -> gr.Blocks:
    """Return the chat page."""

    @guarded
    def status() -> tuple[dict, dict, dict, dict]:
        ready = loader.ready
        text = "" if ready else f"⏳ {loader.status}"
        docs = documents_html(loader.assistant.kb.docs.values()) if loader.assistant else ""
        scopes = list(_scopes(loader))
        return (gr.update(value=text, visible=not ready), gr.update(value=docs),
                gr.update(choices=scopes), gr.update(active=not ready))

    @guarded
    def respond(message: str, chat: list[dict], questions: list[str], scope: str
                ) -> Iterator[tuple[list[dict], str, list[str], Answer | None, dict, str]]:
        message = (message or "").strip()
        chat = [*chat, {"role": "user", "content": escape(message)}]
        if loader.assistant is None:
            reply = f"⏳ {loader.status}，请稍候再问。"
            yield [*chat, {"role": "assistant", "content": reply}], "", questions, None, gr.update(), ""
            return
        draft = ""
        answer: Answer | None = None
        started = time.monotonic()
        for part in loader.assistant.stream(message, questions, _scopes(loader).get(scope)):
            if isinstance(part, Answer):
                answer = part
                break
            # An LLM draft shows as it is written; the verified answer replaces it below.
            draft += part
            yield [*chat, {"role": "assistant", "content": escape(draft)}], "", questions, None, gr.update(), ""
        assert answer is not None
        loader.log("web", "", answer, time.monotonic() - started)
        text = answer_markdown(answer)
        if not draft:
            # The extractive answer is final at once; show it in steps so a long quote reads naturally.
            for end in range(STREAM_STEP, len(text), STREAM_STEP):
                if text[end - 1] != "\\":
                    yield [*chat, {"role": "assistant", "content": text[:end]}], "", questions, None, gr.update(), ""
        chips = citation_choices(answer)
        panel = _panel(answer, 0) if chips else ""
        yield ([*chat, {"role": "assistant", "content": text}], "", [*questions, message], answer,
               gr.update(choices=chips, value=chips[0][1] if chips else None, visible=bool(chips)), panel)

    def _panel(answer: Answer | None, index: int) -> str:
        if answer is None or loader.assistant is None or index >= len(answer.citations):
            return ""
        citation = answer.citations[index]
        kb = loader.assistant.kb
        return clause_panel_html(kb.clauses[citation.clause_id], kb.docs[citation.doc_id], citation.quote,
                                 file_link(loader, citation.doc_id))

    @guarded
    def show_clause(choice: str | None, answer: Answer | None) -> str:
        return _panel(answer, int(choice)) if choice is not None else ""

    def new_chat() -> tuple[list, list, None, dict, str, str]:
        return [], [], None, gr.update(choices=[], value=None, visible=False), PANEL_HINT, ""

    @guarded
    def give_feedback(rating: str, comment: str, answer: Answer | None) -> str:
        if answer is None:
            return "请先提问，再对回答进行评价。"
        feedback.record(answer, rating, comment)
        return "感谢您的反馈！"

    # delete_cache: files Gradio keeps (none expected) go after a day, checked hourly.
    with gr.Blocks(title="政策问答助手", analytics_enabled=False, delete_cache=(3600, 86_400)) as demo:
        questions = gr.State([])
        last_answer = gr.State(None)
        gr.Markdown("## 政策问答助手\n回答均摘自已收录的政策原文，并注明出处条款。", elem_id="header")
        progress = gr.Markdown("", elem_id="build-status")
        with gr.Tab("政策问答", elem_id="tab-chat"), gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                scope = gr.Dropdown([ALL], value=ALL, label="查询范围", elem_id="scope")
                chatbot = gr.Chatbot(height=460, buttons=["copy"], elem_id="chat", show_label=False,
                                     placeholder="请输入您想了解的政策问题，回答会注明依据的条款。")
                with gr.Row():
                    box = gr.Textbox(placeholder="例如：江苏有哪些文化产业基金可以用？", show_label=False, scale=5,
                                     elem_id="question", submit_btn="发送")
                chips = gr.Radio([], label="引用条款（点击查看原文）", visible=False, elem_id="citations",
                                 elem_classes=["chips"])
                with gr.Row():
                    new = gr.Button("新对话", elem_id="new-chat", size="sm")
                    up = gr.Button("有帮助", elem_id="helpful", size="sm")
                    down = gr.Button("没帮助", elem_id="unhelpful", size="sm")
                comment = gr.Textbox(placeholder="可选：告诉我们哪里可以改进", show_label=False, elem_id="comment")
                thanks = gr.Markdown("", elem_id="feedback-status")
            with gr.Column(scale=2, min_width=300):
                panel = gr.HTML(PANEL_HINT, elem_id="clause-panel")
                with gr.Accordion("知识库收录的文件", open=False):
                    docs = gr.HTML("", elem_id="documents")
                # In the chat column's flow, so on a phone the clause panel comes right after the chat.
                gr.Examples([[q] for q in CITIZEN_EXAMPLES], inputs=[box], label="市民常问")
                gr.Examples([[q] for q in ENTERPRISE_EXAMPLES], inputs=[box], label="企业常问")
        with gr.Tab("政策速查", elem_id="tab-finder") as finder:
            finder_tab(loader, finder)
        timer = gr.Timer(1.0)
        timer.tick(status, outputs=[progress, docs, scope, timer])
        demo.load(status, outputs=[progress, docs, scope, timer])
        box.submit(respond, [box, chatbot, questions, scope], [chatbot, box, questions, last_answer, chips, panel])
        chips.change(show_clause, [chips, last_answer], [panel])
        new.click(new_chat, outputs=[chatbot, questions, last_answer, chips, panel, thanks])
        up.click(lambda c, a: give_feedback("up", c, a), [comment, last_answer], [thanks])
        down.click(lambda c, a: give_feedback("down", c, a), [comment, last_answer], [thanks])
    return demo


def create_server(settings: Settings) -> FastAPI:
    """Return one ASGI app: the HTTP API, OpenAI and WeChat endpoints, with the chat UI mounted at /."""
    _private_gradio_files()
    loader = AssistantLoader(settings).start()
    app = create_app(settings, loader)
    # show_error=False: exception text never reaches the browser (handlers are guarded). No footer links (the
    # "use via API" page), no run history: the page's programmatic routes are gated in qa/server/web_gate.py.
    return gr.mount_gradio_app(app, build_ui(loader, FeedbackStore(settings.feedback_db)), path="/", css=CSS,
                               show_error=False, footer_links=[], run_history=False)


FINDER_COLUMNS = ["地区", "类型", "措施", "要点", "适用对象", "牵头单位", "依据"]


def finder_tab(loader: AssistantLoader, tab: gr.Tab) -> None:
    """Add the measure finder: filters, a sortable table with citations, and a profile checklist."""
    rows_state = gr.State([])

    def options(field: str) -> list[str]:
        return [ANY, *vocabulary()[field]]

    def regions() -> dict:
        return gr.update(choices=[ANY, *(groups_of(loader.assistant.kb).regions if loader.assistant else [])])

    @guarded
    def search(region: str, kind: str, industry: str, who: str) -> tuple[list[list[str]], list[str], str]:
        if loader.assistant is None:
            return [], [], f"⏳ {loader.status}"
        pick = [None if v == ANY else v for v in (region, kind, industry, who)]
        rows = measure_rows(loader.assistant.kb, *pick)
        # Measures with no type (其他) are not something to apply for; list them only when asked.
        rows = [r for r in rows if kind == "其他" or r.types != ("其他",)]
        table = [[r.region + (f"（适用于{r.applies_to}）" if r.applies_to else ""), "、".join(r.types), r.title,
                  r.summary, "、".join(r.beneficiaries), "、".join(r.lead_agencies), r.citation] for r in rows]
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
            return f"⏳ {loader.status}"
        text = profile.strip() or "我是一家文化科技企业"
        return answer_markdown(loader.assistant.ask(text if PROFILE.search(text) else f"我是{text}"))

    with gr.Row():
        region = gr.Dropdown([ANY], value=ANY, label="地区", allow_custom_value=True, elem_id="finder-region")
        kind = gr.Dropdown(options("type"), value=ANY, label="类型", elem_id="finder-type")
        industry = gr.Dropdown(options("industry"), value=ANY, label="行业", elem_id="finder-industry")
        who = gr.Dropdown(options("beneficiary"), value=ANY, label="对象/规模", elem_id="finder-beneficiary")
    go = gr.Button("查询", variant="primary", elem_id="finder-search")
    count = gr.Markdown("")
    table = gr.Dataframe(headers=FINDER_COLUMNS, interactive=False, wrap=True, elem_id="finder-table",
                         column_widths=["8%", "12%", "14%", "30%", "12%", "10%", "14%"])
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
    app = create_server(settings)
    print(f"政策问答助手：http://{settings.host}:{settings.port}/  （API 文档：/docs）", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", **uvicorn_options())


if __name__ == "__main__":
    main()
