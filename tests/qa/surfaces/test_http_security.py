"""The REST, OpenAI and admin routes probed with hostile and careless requests on a real server on 127.0.0.1:
bad Unicode and NaN, non-ASCII credentials, chunked and stalled bodies, uploads without the token."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.settings import Settings
from qa.surfaces.http import middleware
from qa.surfaces.http.app import create_app
from tests.conftest import ready_service, serve_http

pytestmark = pytest.mark.server

API_TOKEN = "api-token-0123456789"
ADMIN_TOKEN = "admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def api(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with an API token and an admin token."""
    settings = Settings(corpus_dir=tmp_path_factory.mktemp("corpus"), index_dir=bundled_index, api_token=API_TOKEN,
                        admin_token=ADMIN_TOKEN)
    with serve_http(create_app(settings, ready_service(settings))) as url:
        yield url


@pytest.mark.parametrize(("path", "body"), [
    ("/api/ask", b'{"question": "\\udc00\xe6\xb1\x9f\xe8\x8b\x8f"}'),
    ("/api/ask", b'{"question": "\xe6\xb1\x9f\xe8\x8b\x8f", "history": ["\\udc00"]}'),
    ("/api/ask", b'{"question": "\xe6\xb1\x9f\xe8\x8b\x8f", "filters": {"region": "\\ud800"}}'),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "\\udc00"}]}'),
    ("/api/ask", b'{"question": NaN}'),
    ("/api/ask", b'{"question": "x", "history": [Infinity]}'),
    ("/v1/chat/completions", b'{"messages": NaN}'),
], ids=["surrogate-question", "surrogate-history", "surrogate-filter", "surrogate-openai", "nan-ask",
        "infinity-history", "nan-openai"])
def test_bad_unicode_and_nan_are_422(api: str, path: str, body: bytes) -> None:
    """422 with a message saying what is wrong, never a 500; the bad input is not echoed."""
    response = httpx.post(api + path, headers=AUTH, content=body, timeout=30)
    assert response.status_code == 422, response.text
    assert response.json()["detail"] and "NaN" not in response.text and "Infinity" not in response.text


def test_surrogate_message_names_the_fix(api: str) -> None:
    response = httpx.post(api + "/api/ask", headers=AUTH, content=b'{"question": "\\udc00"}', timeout=30)
    assert "UTF-8" in response.text and "代理字符" in response.text


@pytest.mark.parametrize("path", ["/api/documents", "/v1/models", "/admin/documents"])
def test_non_ascii_authorization_is_401(api: str, path: str) -> None:
    response = httpx.get(api + path, headers={"Authorization": "Bearer 令牌".encode()}, timeout=30)
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("path", ["/api/ask", "/v1/chat/completions"])
def test_chunked_body_over_cap_is_413(api: str, path: str) -> None:
    """A chunked body (no Content-Length) growing past QA_MAX_REQUEST_BYTES: 413 naming the limit, not 400."""
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 8192

    response = httpx.post(api + path, headers=AUTH, content=chunks(), timeout=30)
    assert response.status_code == 413 and "65536" in response.json()["detail"]


def _raw(url: str, request: bytes, read_timeout: float = 5) -> tuple[bytes, float]:
    """Send raw bytes and return the first bytes of the answer and how long they took."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as s:
        s.sendall(request)
        started = time.monotonic()
        return s.recv(64), time.monotonic() - started


def test_unauthorised_upload_is_refused_before_its_body(api: str) -> None:
    """An upload announcing 19 MB with a wrong token gets 401 at once, without the server waiting for the body."""
    head, seconds = _raw(api, b"POST /admin/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
                              b"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 19000000\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401") and seconds < 2


def test_stalled_body_is_cut_off_with_408(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that sends part of its body and then nothing gets 408 after the body-read timeout."""
    monkeypatch.setattr(middleware, "BODY_READ_TIMEOUT", 1.0)
    head, seconds = _raw(api, b"POST /api/ask HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + API_TOKEN.encode()
                              + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"question\": ")
    assert head.startswith(b"HTTP/1.1 408") and seconds < 4


async def _slow_stream(scope: dict, receive: Any, send: Any) -> None:
    """Read the body, then stream for 0.6 s while waiting for a disconnect, as streamed answers do."""
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    disconnect = asyncio.ensure_future(receive())
    for _ in range(3):
        await asyncio.sleep(0.2)
        if disconnect.done():
            disconnect.result()  # the 408 a body deadline would raise here
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
    disconnect.cancel()
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def test_streamed_answer_outlives_the_body_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The body deadline ends with the body: a response still waiting for a disconnect is not cut off."""
    monkeypatch.setattr(middleware, "BODY_READ_TIMEOUT", 0.1)
    with serve_http(middleware.LimitBody(_slow_stream, limit=1000, admin_limit=1000)) as url:
        response = httpx.post(url + "/stream", content=b"{}", timeout=10)
    assert response.status_code == 200 and response.content == b"xxx"


def test_an_unhandled_error_is_a_plain_500_with_the_security_headers(bundled_index: Path, tmp_path: Path) -> None:
    """Starlette answers an unhandled error outside every middleware; the 500 still carries the headers and no
    traceback."""
    settings = Settings(corpus_dir=tmp_path, index_dir=bundled_index)
    app = create_app(settings, ready_service(settings))

    def broken() -> None:
        raise RuntimeError("internal detail /srv/secret/path")

    app.add_api_route("/api/broken", broken)
    with serve_http(app) as url:
        response = httpx.get(f"{url}/api/broken")
    assert response.status_code == 500 and "internal detail" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
