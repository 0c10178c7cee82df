"""Middleware and guards shared by the HTTP routes: the body cap and the bearer-token check."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def bearer_guard(token: str, message: str) -> Callable[[Request], None]:
    """Return a FastAPI dependency that refuses requests without `Authorization: Bearer <token>` (none if empty)."""
    def authorised(request: Request) -> None:
        if token and not hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {token}"):
            raise HTTPException(401, message, {"WWW-Authenticate": "Bearer"})

    return authorised


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
