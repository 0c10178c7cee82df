"""What the mounted chat page (Gradio) may answer, and to whom. The decision, also in the README:

- The page is public: GET /, its static files, and the three routes the page itself calls
  (POST /gradio_api/queue/join, GET /gradio_api/queue/data, GET /gradio_api/heartbeat/{session}). With
  QA_API_TOKEN set, queue/join must come from the page's own origin or one in QA_CORS_ORIGINS: that stops
  other web sites driving the page's backend from their visitors' browsers. It is not authentication; a public
  page's transport is public. QA_WEB_PUBLIC=false puts the page behind QA_API_TOKEN too.
- Gradio's programmatic routes (/gradio_api/call, /run, /api, /info, /openapi.json, /config) obey
  QA_API_TOKEN exactly like /api and /v1.
- Everything else Gradio mounts (upload, file=, proxy=, monitoring, run history, vibe editing, MCP, login, ...)
  is unused by this app and answers 404 before Gradio sees it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match, Mount, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.surfaces.http.middleware import bearer_matches

log = logging.getLogger(__name__)

QUEUE_DATA = "/gradio_api/queue/data"
PAGE = (("GET", "/"), ("HEAD", "/"), ("GET", "/theme.css"), ("GET", "/favicon.ico"), ("GET", "/robots.txt"),
        ("GET", "/manifest.json"), ("GET", QUEUE_DATA))
PAGE_PREFIXES = (("GET", "/assets/"), ("GET", "/static/"), ("GET", "/svelte/"), ("GET", "/gradio_api/heartbeat/"))
QUEUE_JOIN = "/gradio_api/queue/join"
PROGRAMMATIC = ("/gradio_api/call/", "/gradio_api/run/", "/gradio_api/api/", "/gradio_api/info",
                "/gradio_api/openapi.json", "/config")
TOKEN_NEEDED = "需要有效的访问令牌（Authorization: Bearer …，即 QA_API_TOKEN）"
FOREIGN_PAGE = "只接受本站页面发起的请求；如需从其他网站调用，请把该网站加入 QA_CORS_ORIGINS"


def _host(value: str) -> str:
    """Return the host[:port] of an origin or a Host header, lower-cased."""
    return (urlsplit(value if "//" in value else f"//{value}").netloc or "").lower()


@dataclass(frozen=True)
class WebPolicy:
    """Who may use the page: the API token (empty: none), the allowed foreign origins, whether it is public."""

    token: str
    origins: frozenset[str]
    public: bool = True

    @classmethod
    def of(cls, token: str, origins: list[str], public: bool) -> WebPolicy:
        """Return the policy for the configured token, CORS origins and QA_WEB_PUBLIC."""
        return cls(token, frozenset(_host(o) for o in origins), public)

    def status(self, method: str, path: str, headers: Headers) -> int:
        """Return 0 to let a request to the page through, else the status to refuse it with."""
        authed = not self.token or bearer_matches(headers, self.token)
        page = (method, path) in PAGE or any(method == m and path.startswith(p) for m, p in PAGE_PREFIXES)
        if page or (method == "POST" and path == QUEUE_JOIN):
            if not self.public and not authed:
                return 401
            if method == "POST" and not authed and not self._own_page(headers):
                return 403
            return 0
        if path.startswith(PROGRAMMATIC):
            return 0 if authed else 401
        return 404

    def _own_page(self, headers: Headers) -> bool:
        """Return True when a browser request comes from this site's page or an allowed origin."""
        origin = headers.get("origin")
        # Browsers send Origin with every POST; a client without one is not a browser page and needs the token.
        return origin is not None and _host(origin) in {_host(headers.get("host", "")), *self.origins}


class WebGate:
    """Pure ASGI middleware in front of the mounted page: the app's own routes pass to their own guards, the
    page's routes follow the WebPolicy, and every other path answers 404 before Gradio sees a byte of it."""

    def __init__(self, app: ASGIApp, router: Router, policy: WebPolicy) -> None:
        self.app = app
        self.router = router
        self.policy = policy

    def _own_route(self, scope: Scope) -> bool:
        """Return True when one of the app's own routes (not the mounted page) handles this path."""
        # Matched against the live router, so a route added later (a new channel) needs no entry here.
        return any(not isinstance(route, Mount) and route.matches(scope)[0] is not Match.NONE
                   for route in self.router.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # CORS preflights are answered by the app's CORSMiddleware (outside this gate), never by Gradio.
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or self._own_route(scope):
            await self.app(scope, receive, send)
            return
        status = self.policy.status(scope["method"], scope["path"], Headers(scope=scope))
        if status == 0 and scope["path"] == QUEUE_DATA:
            await _event_stream(self.app, scope, receive, send)
            return
        if status == 0:
            await self.app(scope, receive, send)
            return
        detail = {401: TOKEN_NEEDED, 403: FOREIGN_PAGE, 404: "Not Found"}[status]
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        await JSONResponse({"detail": detail}, status_code=status, headers=headers)(scope, receive, send)


def _not_found(exc: BaseException | None) -> bool:
    """Return True when an exception is, or was raised from, an HTTP 404."""
    while exc is not None:
        if isinstance(exc, HTTPException) and exc.status_code == 404:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


async def _event_stream(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Pass the page's event stream through, ending it cleanly for a session Gradio does not know.

    Gradio (routes.py queue_data_helper) sends "session_not_found" and then raises HTTPException(404) inside the
    already started stream: uvicorn logged an 8 KB traceback per request, a public one, and cut the connection."""
    started = finished = False

    async def tracked(message: Message) -> None:
        nonlocal started, finished
        started = started or message["type"] == "http.response.start"
        finished = finished or (message["type"] == "http.response.body" and not message.get("more_body", False))
        await send(message)

    try:
        await app(scope, receive, tracked)
    except Exception as exc:
        if not (started and _not_found(exc)):
            raise
        log.debug("页面事件流：会话不存在（服务器重启过，或请求不是来自页面）")
        if not finished:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

