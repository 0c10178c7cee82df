"""Slow and idle clients against the production uvicorn protocol (qa.surfaces.http.serving) on a real socket."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from qa.surfaces.http import serving
from tests.conftest import serve_http

pytestmark = pytest.mark.server

PROTOCOLS = {"httptools": serving.protocol(), "h11": serving.H11HeadDeadline}


async def _app(scope: dict, receive: Any, send: Any) -> None:
    """Answer after the delay in the path (/sleep/1.5), so a slow response can be told from a slow request."""
    if scope["type"] != "http":
        return
    await receive()
    if scope["path"].startswith("/sleep/"):
        await asyncio.sleep(float(scope["path"].rsplit("/", 1)[1]))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _closed_after(s: socket.socket) -> float:
    """Return the seconds until the server closes the connection (reading and dropping any bytes)."""
    started = time.monotonic()
    while s.recv(1024):
        pass
    return time.monotonic() - started


@pytest.fixture(params=list(PROTOCOLS))
def url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(serving, "HEADER_TIMEOUT", 1.0)
    with serve_http(_app, http=PROTOCOLS[request.param], timeout_keep_alive=30) as base:
        yield base


def test_incomplete_request_head_is_cut_off(url: str) -> None:
    """Part of a request head and then nothing: closed after the head deadline (was: held for ever)."""
    with _connect(url) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert _closed_after(s) < 3


def test_trickled_request_head_is_cut_off(url: str) -> None:
    """One header byte every 0.3 s (each byte used to restart uvicorn's idle timer): closed at the deadline."""
    with _connect(url) as s:
        started = time.monotonic()
        try:
            for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 100:
                s.sendall(bytes([byte]))
                time.sleep(0.3)
        except OSError:  # the server closed the connection while we were still sending
            pass
        assert time.monotonic() - started < 4


def test_slow_response_and_keep_alive_are_not_cut(url: str) -> None:
    """The deadline is for the request head only: a 1.5 s answer completes, and the next request on the same
    connection is answered."""
    with _connect(url) as s:
        for path in (b"/sleep/1.5", b"/"):
            s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            response = b""
            while not response.endswith(b"ok"):
                response += s.recv(1024)
            assert response.startswith(b"HTTP/1.1 200")
