"""The chat page (Gradio): the 政策问答 tab's chat, citations, clause panel and feedback, and the 政策速查 tab.

Every handler returns {component: value} for what it changes; what it leaves out stays as it is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from qa.records import Answer
from qa.render.markdown import answer_markdown, documents_html, escape
from qa.service import Service
from qa.stores.base import Feedback
from qa.surfaces.web.finder import finder_tab
from qa.surfaces.web.guard import guarded
from qa.surfaces.web.page import (
    ALL,
    CITIZEN_EXAMPLES,
    EMPTY_SAVED,
    ENTERPRISE_EXAMPLES,
    PANEL_HINT,
    citation_panel,
    progress_text,
    scopes,
    steps,
    turn_record,
    uncited_hint,
    waiting,
)


def build_page(service: Service, feedback: Feedback) -> gr.Blocks:
    """Return the chat page over the service, rating answers into `feedback`."""
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
            finder_tab(service, finder)
        timer = gr.Timer(1.0)

        @guarded
        def status() -> dict:
            ready = service.ready
            text = "" if ready else escape(progress_text(service))
            listed = documents_html(service.documents()) if ready else ""
            return {progress: gr.update(value=text, visible=not ready), docs: gr.update(value=listed),
                    scope: gr.update(choices=list(scopes(service))), timer: gr.update(active=not ready)}

        def chips_for(turns: list[dict], turn: int, index: int | None = None) -> dict:
            shown = [tuple(c) for c in turns[turn]["chips"]]
            pick = turns[turn]["lead"] if index is None else index
            return gr.update(choices=shown, value=shown[pick][1] if shown else None, visible=bool(shown))

        def unrated() -> dict:
            return {up: gr.update(variant="secondary", value="有帮助"),
                    down: gr.update(variant="secondary", value="没帮助")}

        def cleared() -> dict:
            return {chatbot: [], questions: [], turns: [], answers: [], saved: EMPTY_SAVED,
                    chips: gr.update(choices=[], value=None, visible=False), panel: PANEL_HINT,
                    feedback_box: gr.update(visible=False), thanks: "", comment: "", rated: None, **unrated()}

        # The conversation each page session is on: 新对话 starts the next one, and an answer still arriving (or still
        # waiting for the first build) for an older one stops at its next step. Otherwise that step put the old
        # conversation back into the emptied chat. Gradio's own `cancels` needs routes the web gate keeps closed.
        conversation: dict[str, int] = {}

        @guarded
        def respond(message: str, chat: list[dict], asked: list[str], kept: list[dict], given: list[Answer],
                    within: str, request: gr.Request) -> Iterator[dict]:
            session = request.session_hash or ""
            number = conversation.get(session, 0)
            for update in answer_turn(message, chat, asked, kept, given, within):
                if conversation.get(session, 0) != number:
                    # A step computed just before 新对话 may still reach the page after its empty chat (each is sent
                    # when it is ready): the last step shows the new conversation again, and Gradio resends it as
                    # the end.
                    yield cleared()
                    return
                yield update
            if conversation.get(session, 0) != number:
                # 新对话 came while the last step was on its way: Gradio would resend that step as the end.
                yield cleared()

        # A turn: the question moves to the chat, the answer arrives, and it gets its citations, its panel and a
        # feedback box of its own (no thanks, no comment, no row, no button marked).
        def answer_turn(message: str, chat: list[dict], asked: list[str], kept: list[dict], given: list[Answer],
                        within: str) -> Iterator[dict]:
            message = (message or "").strip()
            if not message:
                yield gr.skip()  # an empty submit changes nothing
                return
            chat = [*chat, {"role": "user", "content": escape(message)}]

            # Only the first step empties the box: a reader may type the next question while this answer arrives.
            def step(reply: str | None, emptied: bool = False) -> dict:
                shown = chat if reply is None else [*chat, {"role": "assistant", "content": reply}]
                return {chatbot: shown, **({box: ""} if emptied else {}), feedback_box: gr.update(visible=False),
                        thanks: "", rated: None, **unrated()}

            yield step(None, emptied=True)  # the question moves from the box to the chat at once
            # First start: the question waits for the index, with its progress shown, and is answered when ready.
            for note in waiting(service):
                yield step(escape(note))
            if not service.ready:
                return
            draft = ""
            answer: Answer | None = None
            for part in service.stream("web", "", message, asked, scopes(service).get(within)):
                if isinstance(part, Answer):
                    answer = part
                    break
                # An LLM draft shows as it is written; the verified answer replaces it below.
                draft += part
                yield step(escape(draft))
            assert answer is not None
            turn = len(kept)
            kept = [*kept, turn_record(answer, turn)]
            text = answer_markdown(answer, turn)
            if not draft:
                # The extractive answer is final at once; show it in steps so a long quote reads naturally.
                for shown in steps(text):
                    yield step(shown)
            chat = [*chat, {"role": "assistant", "content": text}]
            asked = [*asked, message]
            lead = citation_panel(service, kept, turn, kept[turn]["lead"]) if answer.citations else None
            yield {chatbot: chat, questions: asked, turns: kept, answers: [*given, answer],
                   saved: {"chat": chat, "questions": asked, "turns": kept}, chips: chips_for(kept, turn),
                   panel: uncited_hint(answer.outcome) if lead is None else lead,
                   feedback_box: gr.update(visible=True), thanks: "", comment: "", rated: None, **unrated()}

        @guarded
        def show_clause(choice: str | None, kept: list[dict]) -> str:
            if not choice or ":" not in choice:
                return gr.skip()
            turn, index = map(int, choice.split(":"))
            return citation_panel(service, kept, turn, index)

        @guarded
        def open_citation(clicked: str, kept: list[dict]) -> dict:
            # "turn-n-nonce" from a click on 【n】 in an answer: the chips show that answer's citations.
            try:
                turn, n = map(int, clicked.split("-")[:2])
            except ValueError:
                return gr.skip()
            if not 0 <= turn < len(kept) or not 1 <= n <= len(kept[turn]["cites"]):
                return gr.skip()
            return {chips: chips_for(kept, turn, n - 1), panel: citation_panel(service, kept, turn, n - 1)}

        def example_text(event: gr.SelectData) -> str:
            return str(event.value["text"])

        def asked_text(clicked: str) -> str:
            # "nonce:question" from a click on a suggested question in an answer (the nonce makes a repeat a change).
            return clicked.partition(":")[2].strip() or gr.skip()

        def forget(request: gr.Request) -> None:
            conversation.pop(request.session_hash or "", None)  # the page was closed

        def new_chat(request: gr.Request) -> dict:
            session = request.session_hash or ""
            conversation[session] = conversation.get(session, 0) + 1
            return cleared()

        def restore(kept: dict | None) -> tuple[list, list, list]:
            # The conversation this browser kept; its answers can be read and their clauses opened, not rated again.
            kept = kept if isinstance(kept, dict) else EMPTY_SAVED
            return kept.get("chat", []), kept.get("questions", []), kept.get("turns", [])

        @guarded
        def give_feedback(rating: str, text: str, given: list[Answer], row: int | None) -> dict:
            if not given:
                return {thanks: "请先提问，再对回答进行评价。", rated: None, **unrated()}
            # One row per answer: rating it again changes that row.
            if row is None:
                row = feedback.record(given[-1], rating, text)
            else:
                feedback.update(row, rating, text)
            said = "有帮助" if rating == "up" else "没帮助"
            # The chosen button stays marked (and says so to a screen reader), so a reader sees what they chose.
            return {thanks: f"感谢您的反馈！已记录：{said}（可再次点击更改）。", rated: row,
                    up: gr.update(variant="primary" if rating == "up" else "secondary",
                                  value="有帮助（已选）" if rating == "up" else "有帮助"),
                    down: gr.update(variant="primary" if rating == "down" else "secondary",
                                    value="没帮助（已选）" if rating == "down" else "没帮助")}

        shown_status = [progress, docs, scope, timer]
        timer.tick(status, outputs=shown_status)
        demo.load(status, outputs=shown_status)
        demo.load(restore, [saved], [chatbot, questions, turns])
        turn_outputs: list[Any] = [chatbot, box, questions, turns, answers, saved, chips, panel, feedback_box, thanks,
                                   comment, rated, up, down]
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
