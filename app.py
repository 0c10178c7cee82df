"""Gradio chat UI: a thin adapter over qa.Assistant. `make run` serves it on 127.0.0.1:7860."""

from __future__ import annotations

import logging

import gradio as gr

from qa.answer.base import coverage_list
from qa.assistant import Assistant
from qa.render import answer_markdown, escape
from qa.settings import Settings, load_settings

EXAMPLES = [
    "广东要培育多少家文化和科技融合特色企业？",
    "江苏有哪些文化产业基金可以用？",
    "深圳文化科技型企业用房有什么政策？",
]


def build_ui(assistant: Assistant) -> gr.Blocks:
    """Return the chat page."""

    def respond(message: str, history: list[dict]) -> str:
        earlier = [str(m["content"]) for m in history if m.get("role") == "user" and isinstance(m.get("content"), str)]
        return answer_markdown(assistant.ask(message, earlier))

    docs = escape(coverage_list(list(assistant.kb.docs.values())))
    with gr.Blocks(title="政策问答") as demo:
        gr.Markdown("## 政策问答助手\n回答均摘自已收录的政策原文，并注明出处条款。")
        gr.ChatInterface(
            respond,
            chatbot=gr.Chatbot(height=520, buttons=["copy"], placeholder="请输入您想了解的政策问题"),
            textbox=gr.Textbox(placeholder="例如：江苏有哪些文化产业基金可以用？", scale=7),
            examples=EXAMPLES,
        )
        with gr.Accordion("知识库收录的文件", open=False):
            gr.Markdown(docs)
    return demo


def main(settings: Settings | None = None) -> None:
    """Open (building on first start) the index, then serve the chat UI."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = settings or load_settings()
    assistant = Assistant.open(settings)
    build_ui(assistant).launch(server_name=settings.host, server_port=settings.port)


if __name__ == "__main__":
    main()
