"""Security headers on every HTTP response: pages, API answers and errors alike."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The chat page: Gradio 6 evaluates gr.HTML templates with new Function(), so without 'unsafe-eval' the clause
# panel stays empty; inline scripts and styles are its own. Nothing is loaded from another site.
PAGE_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; base-uri 'self'; "
            "form-action 'self'; object-src 'none'; frame-ancestors {ancestors}")
# JSON and XML answers: nothing to run, nothing to frame.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# FastAPI's Swagger UI and ReDoc load their scripts and styles from jsDelivr.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "img-src 'self' data: https://fastapi.tiangolo.com; worker-src 'self' blob:; frame-ancestors 'none'")
API_PREFIXES = ("/api/", "/v1/", "/admin/", "/wechat", "/wecom", "/healthz", "/openapi.json")


class SecurityHeaders:
    """nosniff, Referrer-Policy, a CSP with frame-ancestors and X-Frame-Options on every response.

    The page may be framed only by the origins in QA_CORS_ORIGINS (a portal embedding it); with none, by no one."""

    def __init__(self, app: ASGIApp, frame_origins: list[str]) -> None:
        self.app = app
        self.page_csp = PAGE_CSP.format(ancestors=" ".join(["'self'", *frame_origins]) if frame_origins else "'none'")
        # X-Frame-Options cannot list origins; browsers that know CSP ignore it when frame-ancestors is present.
        self.page_frames = "SAMEORIGIN" if frame_origins else "DENY"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(("/docs", "/redoc")):
            csp, frames = DOCS_CSP, "DENY"
        elif path.startswith(API_PREFIXES):
            csp, frames = API_CSP, "DENY"
        else:
            csp, frames = self.page_csp, self.page_frames

        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", frames)
                headers.setdefault("Content-Security-Policy", csp)
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            # Starlette answers an unhandled error outside every middleware: its 500 would carry none of the headers.
            if not started:
                await PlainTextResponse("服务器内部错误，请稍后再试。", 500)(scope, receive, with_headers)
            raise
