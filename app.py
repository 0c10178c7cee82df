"""The chat page and every HTTP channel in one server: `make run` serves them on 127.0.0.1:7860.

A thin adapter: the page (qa/surfaces/web/) and the HTTP app (qa/surfaces/http/) are built over one service."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

import gradio as gr
from fastapi import FastAPI

from qa import PolicyQAError, Settings, load_settings
from qa.service import Service
from qa.stores.factory import open_feedback
from qa.surfaces.http.app import create_app
from qa.surfaces.http.serving import listen, uvicorn_options
from qa.surfaces.web.chat import build_page

STATIC = files("qa.surfaces.web").joinpath("static")
CSS = STATIC.joinpath("app.css").read_text(encoding="utf-8")
HEAD = f"<script>{STATIC.joinpath('app.js').read_text(encoding='utf-8')}</script>"
# Gradio's own chat buttons, in the page's language whatever the browser's (the page is Chinese only).
CHAT_WORDS = {"chatbot.copy_message": "复制回答", "chatbot.copied_message": "已复制", "chatbot.clear": "清空"}
I18N = gr.I18n(**{locale: CHAT_WORDS for locale in ("en", "zh-CN", "zh")},
               **{locale: {**CHAT_WORDS, "chatbot.copy_message": "複製回答", "chatbot.copied_message": "已複製"}
                  for locale in ("zh-TW", "zh-HK")})


def _private_gradio_files() -> None:
    """Keep Gradio's telemetry off and its files in a folder of this process (0700, removed at exit).

    Both are read when the page is built, not when gradio is imported; the shared /tmp/gradio is never cleaned."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if "GRADIO_TEMP_DIR" not in os.environ:
        os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="policy-qa-gradio-")
        atexit.register(shutil.rmtree, os.environ["GRADIO_TEMP_DIR"], True)


def create_server(settings: Settings) -> FastAPI:
    """Return one ASGI app: the HTTP API, OpenAI and WeChat endpoints, with the chat UI mounted at /."""
    _private_gradio_files()
    service = Service(settings).start()
    app = create_app(settings, service)
    # show_error=False: exception text never reaches the browser (handlers are guarded). No footer links (the
    # "use via API" page), no run history: the page's programmatic routes are gated in qa/surfaces/web/gate.py.
    return gr.mount_gradio_app(app, build_page(service, open_feedback(settings)), path="/", css=CSS,
                               head=HEAD, i18n=I18N, show_error=False, footer_links=[], run_history=False)


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
