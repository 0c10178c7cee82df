"""HTTP surfaces over the assistant: REST API, an OpenAI-compatible endpoint and the WeChat callbacks."""

from __future__ import annotations

import hmac
import json
import time
import uuid
from collections.abc import Collection, Iterator
from itertools import islice
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.admin import admin_router
from qa.assistant import Assistant
from qa.chat_bridge import ChatBridge
from qa.conversations import ConversationStore
from qa.measures import find_measures, measure_row
from qa.models import Answer, Citation
from qa.scopes import docs_in_place, filtered_doc_ids
from qa.service import AssistantLoader
from qa.settings import Settings
from qa.wechat import CallbackRejected, Incoming, OfficialAccount, WeCom, official_account_push, wecom_push

MODEL_NAME = "policy-qa"
MAX_QUESTION = 20_000
# A page of /api/documents: the whole of a provincial corpus, a bounded response for a national one.
MAX_PAGE = 1000
PAGE_HELP = f"本页最多返回的文件数（不超过 {MAX_PAGE}）；总数见响应头 X-Total-Count"
REGION_HELP = "只列出该地区（如 江苏省、深圳市）的文件；填省份时也列出省内城市的文件"


class Filters(BaseModel):
    """Restrict the answer to some documents or regions."""

    doc_ids: list[str] | None = Field(None, description="只在这些文件中查找")
    region: str | None = Field(None, description="只在该地区（如 江苏省、深圳市）的文件中查找")


class AskRequest(BaseModel):
    """A question, with earlier questions of the conversation."""

    question: str = Field(..., max_length=MAX_QUESTION, examples=["江苏有哪些文化产业基金可以用？"])
    history: list[str] = Field(default_factory=list, max_length=20, description="本轮对话中之前的问题，按时间顺序")
    filters: Filters | None = None


class CitationOut(BaseModel):
    """A cited clause."""

    doc_id: str
    doc_title: str
    clause_id: str
    clause: str
    title: str
    text: str
    quote: str


class RetrievedOut(BaseModel):
    """A retrieved clause with its score."""

    doc_title: str
    clause: str
    clause_id: str
    text: str
    score: float


class AskResponse(BaseModel):
    """The assistant's answer: the batch output record."""

    answer: str
    answerable: bool
    query: str
    citations: list[CitationOut]
    retrieved: list[RetrievedOut]
    suggestions: list[str] = []


class DocumentOut(BaseModel):
    """A document of the knowledge base."""

    doc_id: str
    title: str
    region: str | None
    issuer: str | None
    doc_number: str | None
    issue_date: str | None
    period: list[int] | None
    clauses: int


class ClauseOut(BaseModel):
    """A clause with its document."""

    clause_id: str
    label: str
    title: str
    path: list[str]
    text: str
    lead_agencies: list[str]
    partner_agencies: list[str]
    document: DocumentOut


class MeasureOut(BaseModel):
    """A support measure with its citation."""

    region: str
    types: list[str]
    title: str
    summary: str
    beneficiaries: list[str]
    industries: list[str]
    targets: list[str]
    lead_agencies: list[str]
    partner_agencies: list[str]
    doc_title: str
    doc_id: str
    clause: str
    clause_id: str
    date_or_period: str
    citation: str


class Health(BaseModel):
    """Whether the service can answer."""

    status: Literal["ok", "loading", "error"]
    detail: str
    documents: int = 0
    clauses: int = 0
    dense: bool = False
    llm: bool = False


class ChatMessage(BaseModel):
    """An OpenAI chat message."""

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The subset of OpenAI's chat-completions request the assistant uses."""

    model: str = MODEL_NAME
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False


class BodyTooLarge(Exception):
    """Raised inside a request whose body grows past the cap."""


class LimitBody:
    """Refuse request bodies over the cap: by Content-Length up front, and while reading a chunked body."""

    def __init__(self, app: ASGIApp, limit: int, admin_limit: int) -> None:
        self.app = app
        self.default = limit
        self.admin_limit = admin_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.admin_limit if scope["path"].startswith("/admin/") else self.default
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await self._refuse(send, scope, receive, int(length), limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, scope, receive, seen, limit)

    @staticmethod
    async def _refuse(send: Send, scope: Scope, receive: Receive, size: int, limit: int) -> None:
        detail = f"请求体 {size} 字节，超过上限 {limit} 字节"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


def _citation(c: Citation) -> CitationOut:
    return CitationOut(doc_id=c.doc_id, doc_title=c.doc_title, clause_id=c.clause_id, clause=c.clause,
                       title=c.title, text=c.text, quote=c.quote)


def _ask_response(answer: Answer) -> AskResponse:
    return AskResponse(
        answer=answer.text, answerable=answer.answerable, query=answer.query,
        citations=[_citation(c) for c in answer.citations],
        retrieved=[RetrievedOut(doc_title=s.doc.title, clause=s.clause.label, clause_id=s.clause.clause_id,
                                text=s.clause.text, score=round(s.score, 6)) for s in answer.retrieved],
        suggestions=list(answer.suggestions),
    )


def _document(assistant: Assistant, doc_id: str) -> DocumentOut:
    d = assistant.kb.docs[doc_id]
    return DocumentOut(doc_id=d.doc_id, title=d.title, region=d.region, issuer=d.issuer, doc_number=d.doc_number,
                       issue_date=d.issue_date.isoformat() if d.issue_date else None,
                       period=list(d.period) if d.period else None, clauses=len(assistant.kb.clauses_of(d.doc_id)))


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


def create_app(settings: Settings, loader: AssistantLoader) -> FastAPI:
    """Return the ASGI app: REST API, OpenAI-compatible endpoint, WeChat and WeCom callbacks."""
    app = FastAPI(title="policy-qa", version="0.1.0",
                  description="政策文件问答：每个回答都摘录并引用具体条款。")
    # Admin uploads are documents: they get the document size cap, everything else the request cap.
    app.add_middleware(LimitBody, limit=settings.max_request_bytes,
                       admin_limit=settings.max_document_bytes + 65_536)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], expose_headers=["X-Total-Count"])
    token = settings.api_token.get_secret_value()

    def authorised(request: Request) -> None:
        if token and not hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {token}"):
            raise HTTPException(401, "需要有效的访问令牌（Authorization: Bearer …）", {"WWW-Authenticate": "Bearer"})

    def ready() -> Assistant:
        if loader.assistant is None:
            raise HTTPException(503, loader.status, {"Retry-After": "5"})
        return loader.assistant

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> Health:
        """Return whether the service is ready, and what it serves."""
        a = loader.assistant
        if a is None:
            return Health(status="error" if loader.error else "loading", detail=loader.status)
        return Health(status="ok", detail="就绪", documents=len(a.kb.docs), clauses=len(a.kb.clauses),
                      dense=a.kb.dense is not None, llm=a.model is not None)

    @app.post("/api/ask", response_model=AskResponse, dependencies=[Depends(authorised)], tags=["api"])
    def ask(body: AskRequest) -> AskResponse:
        """Answer a question with cited clauses (the `batch` output record)."""
        assistant = ready()
        f = body.filters
        doc_ids = filtered_doc_ids(assistant.kb, f.doc_ids, f.region) if f is not None else None
        return _ask_response(loader.ask("api", "", body.question, body.history, doc_ids))

    @app.get("/api/documents", response_model=list[DocumentOut], dependencies=[Depends(authorised)], tags=["api"],
             responses={200: {"headers": {"X-Total-Count": {"description": "符合条件的文件总数（不受分页影响）",
                                                            "schema": {"type": "integer"}}}}})
    def documents(response: Response, offset: Annotated[int, Query(ge=0, description="跳过的文件数")] = 0,
                  limit: Annotated[int, Query(ge=1, description=PAGE_HELP)] = MAX_PAGE,
                  region: Annotated[str | None, Query(description=REGION_HELP)] = None) -> list[DocumentOut]:
        """List the documents the knowledge base covers, a page at a time; X-Total-Count gives the total."""
        if limit > MAX_PAGE:
            raise HTTPException(422, f"limit={limit} 超过上限 {MAX_PAGE}；请分页读取：offset=0&limit={MAX_PAGE}，"
                                     f"再 offset={MAX_PAGE}&limit={MAX_PAGE}，依此类推")
        assistant = ready()
        ids: Collection[str] = assistant.kb.docs if not region else docs_in_place(assistant.kb, region)
        response.headers["X-Total-Count"] = str(len(ids))
        return [_document(assistant, d) for d in islice(ids, offset, offset + limit)]

    @app.get("/api/clauses/{clause_id}", response_model=ClauseOut, dependencies=[Depends(authorised)],
             tags=["api"], responses={404: {"description": "没有这个条款"}})
    def clause(clause_id: str) -> ClauseOut:
        """Return one clause with its document."""
        assistant = ready()
        c = assistant.kb.clauses.get(clause_id)
        if c is None:
            raise HTTPException(404, f"没有编号为 {clause_id} 的条款")
        return ClauseOut(clause_id=c.clause_id, label=c.label, title=c.title, path=list(c.path), text=c.text,
                         lead_agencies=list(c.lead_agencies), partner_agencies=list(c.partner_agencies),
                         document=_document(assistant, c.doc_id))

    @app.get("/api/measures", response_model=list[MeasureOut], dependencies=[Depends(authorised)], tags=["api"])
    def measures(region: str | None = None, type: str | None = None, industry: str | None = None,
                 beneficiary: str | None = None) -> list[MeasureOut]:
        """List support measures filtered by region (e.g. 深圳), type (e.g. 资金/补贴), industry, beneficiary."""
        assistant = ready()
        found = find_measures(assistant.kb, region, type, industry, beneficiary)
        return [MeasureOut(**measure_row(assistant.kb, m)) for m in found]  # type: ignore[arg-type]

    @app.get("/v1/models", dependencies=[Depends(authorised)], tags=["openai"])
    def models() -> dict[str, Any]:
        """List the one model this endpoint serves (OpenAI format)."""
        model = {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "policy-qa"}
        return {"object": "list", "data": [model]}

    @app.post("/v1/chat/completions", dependencies=[Depends(authorised)], tags=["openai"])
    def chat_completions(body: ChatRequest) -> Any:
        """OpenAI-compatible chat completions; citations are in the text and in an extra `citations` field."""
        ready()
        question, history = _question_and_history(body.messages)
        answer = loader.ask("openai", "", question, history)
        citations = [_citation(c).model_dump() for c in answer.citations]
        base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": body.model}
        if not body.stream:
            return {**base, "object": "chat.completion",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": answer.text}}],
                    "usage": {"prompt_tokens": len(question), "completion_tokens": len(answer.text),
                              "total_tokens": len(question) + len(answer.text)},
                    "citations": citations}

        def events() -> Iterator[str]:
            # Only the verified answer is streamed: a client cannot take back text it has already shown.
            def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
                payload = {**base, "object": "chat.completion.chunk",
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
                return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

            yield chunk({"role": "assistant", "content": ""})
            for i in range(0, len(answer.text), 24):
                yield chunk({"content": answer.text[i : i + 24]})
            yield chunk({}, "stop", citations=citations)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    if settings.admin_token.get_secret_value():
        app.include_router(admin_router(settings, loader))
    _add_wechat(app, settings, loader)
    return app


def _add_wechat(app: FastAPI, settings: Settings, loader: AssistantLoader) -> None:
    """Add /wechat and /wecom when their tokens are configured."""
    channels: list[tuple[str, type[OfficialAccount] | type[WeCom]]] = []
    if settings.wechat_token.get_secret_value():
        channels.append(("/wechat", OfficialAccount))
    if settings.wecom_token.get_secret_value() and settings.wecom_aes_key.get_secret_value():
        channels.append(("/wecom", WeCom))
    if not channels:
        return
    store = ConversationStore(settings.conversations_db, settings.conversation_ttl)
    for path, kind in channels:
        push = official_account_push(settings) if kind is OfficialAccount else wecom_push(settings)
        channel = kind(settings, ChatBridge(loader, store, settings, push))
        _wechat_routes(app, path, channel)


def _incoming(signature: str = "", msg_signature: str = "", timestamp: str = "", nonce: str = "",
              echostr: str = "", encrypt_type: str = "") -> Incoming:
    """Return the signed query string of a WeChat callback."""
    return Incoming(signature, msg_signature, timestamp, nonce, echostr, encrypt_type)


Signed = Annotated[Incoming, Depends(_incoming)]


def _wechat_routes(app: FastAPI, path: str, channel: OfficialAccount | WeCom) -> None:
    @app.get(path, response_class=PlainTextResponse, include_in_schema=False)
    def verify(q: Signed) -> str:
        try:
            return channel.verify_url(q)
        except CallbackRejected as exc:
            raise HTTPException(403, str(exc)) from exc

    @app.post(path, response_class=PlainTextResponse, include_in_schema=False)
    async def receive(request: Request, q: Signed) -> Response:
        body = await request.body()
        try:
            # The bridge blocks up to the reply window; run it off the event loop.
            reply = await run_in_threadpool(channel.handle, q, body)
        except CallbackRejected as exc:
            raise HTTPException(403, str(exc)) from exc
        return Response(reply, media_type="application/xml" if reply != "success" else "text/plain")

