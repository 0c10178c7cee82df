"""Middleware and guards shared by the HTTP routes: the body cap, the bearer-token check, the admin gate."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_TOKEN_NEEDED = "需要管理员令牌（Authorization: Bearer …）"
# uvicorn has no body-read timeout: a client trickling a body one byte a minute would hold a worker for ever.
BODY_READ_TIMEOUT = 15.0


def bearer_matches(headers: Headers, token: str) -> bool:
    """Return True when the headers carry `Authorization: Bearer <token>`, compared in constant time.

    Bytes, not str: hmac.compare_digest raises TypeError on non-ASCII str (a 500), and Starlette decodes header
    bytes as latin-1, so encoding back gives exactly the bytes the client sent."""
    sent = headers.get("authorization", "").encode("latin-1")
    return hmac.compare_digest(sent, f"Bearer {token}".encode())


def bearer_guard(token: str, message: str) -> Callable[[Request], None]:
    """Return a FastAPI dependency that refuses requests without `Authorization: Bearer <token>` (none if empty)."""
    def authorised(request: Request) -> None:
        if token and not bearer_matches(request.headers, token):
            raise HTTPException(401, message, {"WWW-Authenticate": "Bearer"})

    return authorised


class AdminGate:
    """Refuse /admin/* without the admin token before a byte of the body is read.

    FastAPI reads (and spools) a multipart body before it runs any dependency, so the router's own check alone
    lets anyone make the server receive a 20 MB upload per request."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and self.token and scope["path"].startswith("/admin/")
                and not bearer_matches(Headers(scope=scope), self.token)):
            # Connection: close, as the unread body would otherwise be taken for the next request.
            response = JSONResponse({"detail": ADMIN_TOKEN_NEEDED}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer", "Connection": "close"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyTooLarge(StarletteHTTPException):
    """Raised inside a request whose body grows past the cap.

    An HTTPException so FastAPI's body reader lets it through (fastapi/routing.py re-raises HTTPException)
    instead of turning it into 400 "There was an error parsing the body"."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(413, _too_large(size, limit))


def _too_large(size: int, limit: int) -> str:
    return f"请求体已超过 {size} 字节，超过上限 {limit} 字节；请缩短内容"


class LimitBody:
    """Refuse request bodies over the cap (by Content-Length up front, and while reading a chunked body) and
    bodies that stall for BODY_READ_TIMEOUT seconds between two chunks (408)."""

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
        body_done = False

        async def counted() -> Message:
            nonlocal seen, body_done
            if body_done:  # later receives wait for a disconnect (streamed answers): no deadline for those
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), BODY_READ_TIMEOUT)
            except TimeoutError:
                raise StarletteHTTPException(408, f"请求体发送超时：{BODY_READ_TIMEOUT:.0f} 秒内没有收到数据") from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(seen, limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except StarletteHTTPException as exc:  # raised outside a FastAPI route (the mounted page): answer it here
            if started or exc.status_code not in (408, 413):
                raise
            await JSONResponse({"detail": exc.detail}, status_code=exc.status_code)(scope, receive, send)

    @staticmethod
    async def _refuse(send: Send, scope: Scope, receive: Receive, size: int, limit: int) -> None:
        detail = f"请求体 {size} 字节，超过上限 {limit} 字节"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
