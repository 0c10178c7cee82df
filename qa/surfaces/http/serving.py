"""uvicorn settings for a server that may face the internet (ideally behind a reverse proxy; see README)."""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from index.errors import ConfigError

# Seconds from a connection opening (or its last response) to a complete request head.
HEADER_TIMEOUT = 10.0


class HeadDeadline:
    """A deadline for the request line and headers, for uvicorn's HTTP protocols.

    uvicorn times out only idle keep-alive connections, and that timer stops at the first byte: a client sending
    one header byte every few seconds holds its connection for ever (slowloris). Bodies are bounded separately
    (qa.surfaces.http.middleware.LimitBody)."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _head_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(HEADER_TIMEOUT, self._head_expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _arm_if_idle(self) -> None:
        # A pipelined request already parsed has its head: only an idle connection waits for one.
        if self.cycle is None or self.cycle.response_complete:
            self._arm()


class H11HeadDeadline(HeadDeadline, H11Protocol):
    """uvicorn's pure-Python HTTP/1.1 protocol with the request-head deadline."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request's head arrived
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_if_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def protocol() -> type[asyncio.Protocol]:
    """Return the HTTP protocol with the head deadline: httptools' when installed (uvicorn's own choice), else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return H11HeadDeadline

    class HttpToolsHeadDeadline(HeadDeadline, HttpToolsProtocol):
        """uvicorn's httptools protocol with the request-head deadline."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_if_idle()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HttpToolsHeadDeadline


def uvicorn_options() -> dict[str, Any]:
    """Return the uvicorn.run keyword arguments that bound slow and idle connections."""
    return {
        "http": protocol(),
        "timeout_keep_alive": 5,  # idle keep-alive connections (uvicorn's default, stated on purpose)
        "h11_max_incomplete_event_size": 16_384,  # request head cap, bytes
        "timeout_graceful_shutdown": 30,
        "server_header": False,
        # X-Forwarded-For/-Proto are trusted only from FORWARDED_ALLOW_IPS (uvicorn's default: 127.0.0.1).
        "proxy_headers": True,
    }


def listen(host: str, port: int) -> socket.socket:
    """Return a socket bound to host:port for uvicorn; a port that is taken is a ConfigError saying how to pick
    another, raised before anything prints the page's address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restart need not wait for the old connections' TIME_WAIT to pass.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"端口 {port} 已被占用（可能另一个政策问答助手或其他程序正在使用它）。请关闭占用它的程序，"
                f"或换一个端口，例如：QA_PORT={port + 1} make run（或 python app.py --port {port + 1}）。") from None
        raise ConfigError(f"无法在 {host}:{port} 上启动服务（{exc.strerror}）：请检查 QA_HOST 和 QA_PORT 的设置。"
                          ) from None
    return sock
