"""A local HTTP server that speaks the WeChat Official Account API (access token, customer-service messages).

It stands in for api.weixin.qq.com, which we cannot reach here; everything on our side of the wire is real.
It also answers proxy CONNECT requests with 403 and records them, so a test that points HTTPS_PROXY at it sees
(and stops) any attempt to reach the real WeChat servers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 1_000_000


@dataclass
class WeChatAPI:
    """The running server: base URL, the credentials it accepts and everything it received."""

    appid: str
    secret: str
    access_token: str = "ACCESS_TOKEN_stub_0123456789"
    base_url: str = ""
    requests: list[dict] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)
    connects: list[str] = field(default_factory=list)

    def paths(self) -> list[str]:
        """Return "METHOD path" of every request received, for assertion messages."""
        return [f"{r['method']} {r['path']}" for r in self.requests] + [f"CONNECT {c}" for c in self.connects]


def _handler(api: WeChatAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 10

        def log_message(self, *args: object) -> None:
            pass

        def do_CONNECT(self) -> None:
            api.connects.append(self.path)
            self.send_error(403, "the WeChat API stub is not a proxy")

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            api.requests.append({"method": "GET", "path": url.path, "query": query, "body": None})
            if url.path != "/cgi-bin/token":
                self._send(404, {"errcode": 404, "errmsg": f"no such API {url.path}"})
            elif query.get("grant_type") != "client_credential":
                self._send(200, {"errcode": 40002, "errmsg": "invalid grant_type"})
            elif query.get("appid") != api.appid:
                self._send(200, {"errcode": 40013, "errmsg": "invalid appid"})
            elif query.get("secret") != api.secret:
                self._send(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
            else:
                self._send(200, {"access_token": api.access_token, "expires_in": 7200})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = min(int(self.headers.get("Content-Length", 0)), MAX_BODY)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                body = None
            api.requests.append({"method": "POST", "path": url.path, "query": query, "body": body})
            if url.path != "/cgi-bin/message/custom/send":
                self._send(404, {"errcode": 404, "errmsg": f"no such API {url.path}"})
            elif query.get("access_token") != api.access_token:
                self._send(200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
            elif not (isinstance(body, dict) and isinstance(body.get("touser"), str) and body.get("msgtype") == "text"
                      and isinstance(body.get("text"), dict) and isinstance(body["text"].get("content"), str)):
                self._send(200, {"errcode": 44002, "errmsg": "invalid message body"})
            else:
                api.sent.append(body)
                self._send(200, {"errcode": 0, "errmsg": "ok"})

        def _send(self, status: int, payload: dict) -> None:
            raw = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


@contextmanager
def wechat_api(appid: str, secret: str) -> Iterator[WeChatAPI]:
    """Run the fake WeChat API on 127.0.0.1 for the duration of the block."""
    api = WeChatAPI(appid=appid, secret=secret)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
