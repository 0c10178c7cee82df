"""The OpenAI-compatible endpoint: any OpenAI client or chat UI can use the assistant as model `policy-qa`."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from qa.render.plain import plain_text, text_only
from qa.service import Service
from qa.surfaces.http.rest import ready
from qa.surfaces.http.schemas import MAX_QUESTION, MODEL_NAME, ChatMessage, ChatRequest

# Citation fields that identify rather than quote: kept exact, so a client can fetch /api/documents/{doc_id}.
IDENTIFIERS = ("doc_id", "clause_id", "url")


def _shown(citation: Mapping[str, object]) -> dict[str, object]:
    """Return a citation record whose quoted fields a Markdown/HTML client shows as text."""
    return {k: text_only(v) if isinstance(v, str) and k not in IDENTIFIERS else v for k, v in citation.items()}


def _question_and_history(messages: list[ChatMessage]) -> tuple[str, list[str]]:
    """Return the last user message and the earlier user messages of an OpenAI conversation."""
    def text(m: ChatMessage) -> str:
        if isinstance(m.content, list):
            return "".join(str(part.get("text", "")) for part in m.content if part.get("type") == "text")
        return m.content or ""

    users = [text(m) for m in messages if m.role == "user"]
    if not users or not users[-1].strip():
        raise HTTPException(422, "messages 中需要至少一条非空的 user 消息")
    return users[-1][:MAX_QUESTION], users[:-1][-20:]


def openai_router(service: Service, authorised: Callable[[Request], None]) -> APIRouter:
    """Return /v1/models and /v1/chat/completions."""
    router = APIRouter(prefix="/v1", dependencies=[Depends(authorised)], tags=["openai"])

    @router.get("/models")
    def models() -> dict[str, Any]:
        """List the one model this endpoint serves (OpenAI format)."""
        model = {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "policy-qa"}
        return {"object": "list", "data": [model]}

    @router.post("/chat/completions")
    def chat_completions(body: ChatRequest) -> Any:
        """OpenAI-compatible chat completions; citations are in the text and in an extra `citations` field."""
        ready(service)
        question, history = _question_and_history(body.messages)
        answer = service.ask("openai", "", question, history)
        # Chat UIs (Open WebUI, LobeChat, NextChat) render content as Markdown, some with HTML: a document's
        # <img onerror> or [x](javascript:…) must show as the words it is, not run. Full-width look-alikes rather
        # than backslash escapes: they read the same in Chinese text and in a client that renders nothing.
        text = text_only(plain_text(answer))
        citations = [_shown(c.to_json()) for c in answer.citations]
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": body.model}
        if not body.stream:
            return {**base, "object": "chat.completion",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": len(question), "completion_tokens": len(text),
                              "total_tokens": len(question) + len(text)},
                    "citations": citations}

        def events() -> Iterator[str]:
            # Only the verified answer is streamed: a client cannot take back text it has already shown.
            def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
                payload = {**base, "object": "chat.completion.chunk",
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
                return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

            yield chunk({"role": "assistant", "content": ""})
            for i in range(0, len(text), 24):
                yield chunk({"content": text[i : i + 24]})
            yield chunk({}, "stop", citations=citations)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return router
