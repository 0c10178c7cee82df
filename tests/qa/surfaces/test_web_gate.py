"""The chat page (Gradio) obeys the API settings on a real server: the page is public, its programmatic routes
need QA_API_TOKEN, routes it does not use are closed, no CORS for foreign origins, security headers, no raw
errors, no telemetry, private temp files."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa.errors import ConfigError
from qa.settings import Settings, load_settings
from tests.conftest import serve_http
from tests.qa.surfaces.test_wechat import _settings

API_TOKEN = "api-token-0123456789"
PORTAL = "https://portal.example.gov.cn"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def _serve_page(settings: Settings) -> Iterator[str]:
    import app

    with serve_http(app.create_server(settings)) as url:
        deadline = time.monotonic() + 60
        while httpx.get(url + "/healthz").json()["status"] != "ok" and time.monotonic() < deadline:
            time.sleep(0.3)
        yield url


@pytest.fixture(scope="module")
def web(bundled_index: Path) -> Iterator[str]:
    """The page and API with an API token and one allowed origin (a portal)."""
    yield from _serve_page(_settings(index_dir=bundled_index, api_token=API_TOKEN, cors_origins=PORTAL))


@pytest.mark.server
@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/gradio_api/call/checklist"), ("POST", "/gradio_api/call/respond"), ("POST", "/gradio_api/run/search"),
    ("POST", "/gradio_api/api/checklist"), ("POST", "/gradio_api/call/v2/checklist"), ("GET", "/gradio_api/info"),
    ("GET", "/gradio_api/openapi.json"), ("GET", "/config"),
])
def test_gradio_programmatic_routes_need_the_token(web: str, method: str, path: str) -> None:
    """Without the token: 401 like /api; with it, Gradio answers."""
    kwargs = {"json": {"data": ["深圳动漫企业"]}} if method == "POST" else {}
    assert httpx.request(method, web + path, timeout=30, **kwargs).status_code == 401  # type: ignore[arg-type]
    assert httpx.request(method, web + path, headers=AUTH, timeout=30, **kwargs).status_code not in (401, 403, 404)  # type: ignore[arg-type]


@pytest.mark.server
@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/gradio_api/upload"), ("GET", "/gradio_api/file=/etc/hostname"), ("GET", "/file=/etc/hostname"),
    ("GET", "/gradio_api/proxy=https://example.com/x"), ("GET", "/monitoring"), ("GET", "/gradio_api/runs"),
    ("POST", "/gradio_api/vibe-edit"), ("GET", "/gradio_api/mcp/sse"), ("POST", "/login"),
])
def test_routes_the_page_does_not_use_are_closed(web: str, method: str, path: str) -> None:
    """Even with the token: an upload cannot store files in a shared folder, nothing reads a file."""
    kwargs = {"files": {"files": ("a.html", b"<script>1</script>")}} if path.endswith("upload") else {}
    response = httpx.request(method, web + path, headers=AUTH, timeout=30, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 404, response.text


@pytest.mark.server
def test_gradio_grants_no_cors_to_a_foreign_origin(web: str) -> None:
    """Host not localhost (Gradio's own CORS would then grant any origin, with credentials): no grant, and a
    foreign page cannot join the queue; the page's own origin and the configured portal can."""
    host = {"Host": "policy.example.gov.cn"}
    preflight = httpx.options(web + "/gradio_api/queue/join", headers={
        **host, "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.headers.get("access-control-allow-origin") is None
    join = {"data": [], "fn_index": 0, "session_hash": "abc", "event_data": None, "trigger_id": None}
    foreign = httpx.post(web + "/gradio_api/queue/join", headers={**host, "Origin": "https://evil.example"}, json=join)
    assert foreign.status_code == 403 and foreign.headers.get("access-control-allow-credentials") is None
    assert "QA_CORS_ORIGINS" in foreign.json()["detail"]
    for origin in ("https://policy.example.gov.cn", PORTAL):
        own = httpx.post(web + "/gradio_api/queue/join", headers={**host, "Origin": origin}, json=join)
        assert own.status_code != 403, (origin, own.text)


@pytest.mark.server
def test_page_is_public_with_security_headers(web: str) -> None:
    """The page needs no token; it and every API answer (errors too) carry the security headers."""
    page = httpx.get(web + "/", timeout=30)
    assert page.status_code == 200 and "政策问答助手" in page.text
    csp = page.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {PORTAL}" in csp and "default-src 'self'" in csp
    assert '"analytics_enabled":false' in page.text.replace(" ", "")
    for response in (page, httpx.get(web + "/healthz"), httpx.get(web + "/api/documents"),
                     httpx.get(web + "/gradio_api/upload"), httpx.get(web + "/docs")):
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] in ("DENY", "SAMEORIGIN")
    assert httpx.get(web + "/healthz").headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.server
def test_gradio_files_stay_in_a_private_folder(web: str) -> None:
    folder = Path(os.environ["GRADIO_TEMP_DIR"])
    assert folder.name.startswith("policy-qa-gradio-") and stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.server
def test_gradio_handler_errors_are_not_shown_raw(web: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception inside a page handler reaches the user as a fixed Chinese message, not its own text."""
    from qa.assistant import Assistant

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("/srv/secret/path exploded")

    monkeypatch.setattr(Assistant, "ask", explode)
    event = httpx.post(web + "/gradio_api/call/checklist", headers=AUTH, json={"data": ["深圳动漫企业"]}, timeout=30)
    stream = httpx.get(web + f"/gradio_api/call/checklist/{event.json()['event_id']}", headers=AUTH, timeout=30)
    assert stream.text.startswith("event: error")
    shown = json.loads(stream.text.split("data:", 1)[1])
    assert "查询时出现问题" in shown["error"]
    assert "/srv/secret/path" not in stream.text and "RuntimeError" not in stream.text


@pytest.mark.server
def test_closed_page_needs_the_token(bundled_index: Path) -> None:
    """QA_WEB_PUBLIC=false: the page and its routes need the API token (added e.g. by an authenticating proxy)."""
    for url in _serve_page(_settings(index_dir=bundled_index, api_token=API_TOKEN, web_public=False)):
        assert httpx.get(url + "/", timeout=30).status_code == 401
        assert httpx.get(url + "/", headers=AUTH, timeout=30).status_code == 200


def test_closed_page_without_a_token_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_WEB_PUBLIC", "false")
    with pytest.raises(ConfigError, match=r"QA_WEB_PUBLIC=false .*QA_API_TOKEN"):
        load_settings()
