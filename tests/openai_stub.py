"""A local HTTP server that speaks OpenAI's chat-completions protocol (JSON and SSE) with scripted replies.

It stands in for an LLM endpoint, which we cannot run here; everything on our side of the wire is real."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Script:
    """What the server answers next: content, or a failure mode."""

    content: str | Callable[[list[dict]], str] = ""
    status: int = 200
    delay: float = 0.0
    garbage: bool = False


@dataclass
class Stub:
    """The running server: its base URL, the scripted replies and the requests it received."""

    base_url: str
    scripts: list[Script] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)

    def reply(self, *scripts: Script) -> None:
        """Queue replies; the last one repeats when the queue runs out."""
        self.scripts[:] = list(scripts)


def _chunks(text: str, size: int = 6) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            stub.requests.append({"path": self.path, "headers": headers, "body": body})
            script = stub.scripts.pop(0) if len(stub.scripts) > 1 else stub.scripts[0]
            if script.delay:
                time.sleep(script.delay)
            if script.status != 200:
                self._send(script.status, {"error": {"message": "scripted failure", "type": "server_error"}})
                return
            if script.garbage:
                raw = b"<html>502 Bad Gateway</html>"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                return
            content = script.content(body["messages"]) if callable(script.content) else script.content
            base = {"id": "chatcmpl-stub", "created": int(time.time()), "model": body.get("model", "stub")}
            if body.get("stream"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for piece in _chunks(content):
                    delta = {**base, "object": "chat.completion.chunk",
                             "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(delta, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                end = {**base, "object": "chat.completion.chunk",
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                return
            self._send(200, {**base, "object": "chat.completion",
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": content}}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

        def _send(self, status: int, payload: dict) -> None:
            raw = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


@contextmanager
def openai_stub() -> Iterator[Stub]:
    """Run the scripted server on 127.0.0.1 for the duration of the block."""
    stub = Stub(base_url="", scripts=[Script("")])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    stub.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
