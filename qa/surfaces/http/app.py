"""One ASGI app for every programmatic channel: REST API, OpenAI-compatible endpoint, WeChat and WeCom callbacks,
admin actions. The chat page (app.py) is mounted on top of it."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from qa.service import Service
from qa.service.redact import register_settings
from qa.settings import Settings
from qa.stores.factory import open_conversations, open_nonces
from qa.surfaces.errors import CallbackInvalid, CallbackRejected
from qa.surfaces.http.admin import admin_router
from qa.surfaces.http.headers import SecurityHeaders
from qa.surfaces.http.middleware import AdminGate, LimitBody, bearer_guard
from qa.surfaces.http.openai_compat import openai_router
from qa.surfaces.http.rest import rest_router
from qa.surfaces.web.gate import WebGate, WebPolicy
from qa.surfaces.wechat.bridge import ChatBridge
from qa.surfaces.wechat.protocol import Incoming, OfficialAccount, WeCom, official_account_push, wecom_push
from qa.surfaces.wechat.replay import ReplayGuard


def create_app(settings: Settings, service: Service) -> FastAPI:
    """Return the ASGI app: REST API, OpenAI-compatible endpoint, WeChat and WeCom callbacks, admin actions."""
    register_settings(settings)  # and process-wide redaction: uvicorn's and the libraries' log records too
    app = FastAPI(title="policy-qa", version="0.1.0",
                  description="政策文件问答：每个回答都摘录并引用具体条款。")
    # Admin uploads are documents: they get the document size cap, everything else the request cap.
    app.add_middleware(LimitBody, limit=settings.max_request_bytes,
                       admin_limit=settings.max_document_bytes + 65_536)
    # Outside LimitBody: an upload without the admin token is refused before its body is read.
    app.add_middleware(AdminGate, token=settings.admin_token.get_secret_value())
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    # The mounted page's routes obey the API token and origins; its unused routes (upload, file=) are 404.
    app.add_middleware(WebGate, router=app.router,
                       policy=WebPolicy.of(settings.api_token.get_secret_value(), origins, settings.web_public))
    # Always, even with no origin allowed: Gradio's own CORS middleware (gradio/route_utils.py
    # CustomCORSMiddleware) stands down only when the parent app has Starlette's; without it, it grants any
    # Origin, with credentials, as soon as the Host is not localhost.
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type"], expose_headers=["X-Total-Count"])
    app.add_middleware(SecurityHeaders, frame_origins=origins)
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    authorised = bearer_guard(settings.api_token.get_secret_value(), "需要有效的访问令牌（Authorization: Bearer …）")
    app.include_router(rest_router(service, authorised))
    app.include_router(openai_router(service, authorised))
    if settings.admin_token.get_secret_value():
        app.include_router(admin_router(settings, service))
    _add_wechat(app, settings, service)
    return app


async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """Return 422 listing what is wrong, echoing none of the input.

    FastAPI's own handler echoes each error's `input`: a NaN then fails its JSON encoder (allow_nan=False) and a
    lone surrogate fails UTF-8 encoding, both as a 500."""
    errors = [{"type": e.get("type"), "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
               "msg": e.get("msg")} for e in exc.errors()]
    body = json.dumps({"detail": errors}, ensure_ascii=False, allow_nan=False, default=str)
    return Response(body.encode("utf-8", "replace"), status_code=422, media_type="application/json")


def _add_wechat(app: FastAPI, settings: Settings, service: Service) -> None:
    """Add /wechat and /wecom when their tokens are configured."""
    channels: list[tuple[str, type[OfficialAccount] | type[WeCom]]] = []
    if settings.wechat_token.get_secret_value():
        channels.append(("/wechat", OfficialAccount))
    if settings.wecom_token.get_secret_value() and settings.wecom_aes_key.get_secret_value():
        channels.append(("/wecom", WeCom))
    if not channels:
        return
    store = open_conversations(settings)
    replay = ReplayGuard(open_nonces(settings), settings.signature_max_age)
    for path, kind in channels:
        push = official_account_push(settings) if kind is OfficialAccount else wecom_push(settings)
        channel = kind(settings, ChatBridge(service, store, settings, push, channel=path.strip("/")), replay)
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
        except CallbackInvalid as exc:
            raise HTTPException(400, str(exc)) from exc
        return Response(reply, media_type="application/xml" if reply != "success" else "text/plain")

