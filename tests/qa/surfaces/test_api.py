"""The HTTP API against a real server on 127.0.0.1: REST, OpenAI-compatible endpoint, schema, access."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa.settings import Settings
from qa.surfaces.http.app import create_app
from tests.conftest import CORPUS, ready_service, serve_http

pytestmark = pytest.mark.server

TOKEN = "test-api-token"


@pytest.fixture(scope="module")
def base_url(bundled_index: Path) -> Iterator[str]:
    """The API (no token) served by uvicorn."""
    settings = Settings(corpus_dir=CORPUS, index_dir=bundled_index)
    with serve_http(create_app(settings, ready_service(settings))) as url:
        yield url


@pytest.fixture(scope="module")
def guarded_url(bundled_index: Path) -> Iterator[str]:
    """The API with a bearer token, CORS for one origin and a small body cap."""
    settings = Settings(corpus_dir=CORPUS, index_dir=bundled_index, api_token=TOKEN,
                        cors_origins="https://gov.example.cn", max_request_bytes=2048)
    with serve_http(create_app(settings, ready_service(settings))) as url:
        yield url


def test_ask_returns_the_batch_record(base_url: str) -> None:
    """POST /api/ask answers with citations and the ranked retrieved clauses."""
    r = httpx.post(f"{base_url}/api/ask", json={"question": "江苏有哪些文化产业基金可以用？"}, timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert body["answerable"] is True
    assert any("紫金文化产业基金" in c["text"] for c in body["citations"])
    assert 0 < len(body["retrieved"]) <= 10
    scores = [x["score"] for x in body["retrieved"]]
    assert scores == sorted(scores, reverse=True)


def test_ask_with_history_and_filters(base_url: str) -> None:
    """History resolves a follow-up; a region filter keeps the answer in that region's documents."""
    follow_up = {"question": "那深圳呢？", "history": ["江苏有哪些文化产业基金可以用？"]}
    r = httpx.post(f"{base_url}/api/ask", json=follow_up, timeout=30).json()
    assert all(not c["doc_id"].startswith("jiangsu") for c in r["citations"])
    r = httpx.post(f"{base_url}/api/ask", json={"question": "有哪些金融支持？", "filters": {"region": "江苏省"}},
                   timeout=30).json()
    assert r["citations"] and all(c["doc_id"].startswith("jiangsu") for c in r["citations"])


def test_refusal_over_the_api(base_url: str) -> None:
    """An out-of-scope question is refused with suggestions and no citations."""
    r = httpx.post(f"{base_url}/api/ask", json={"question": "怎么办理护照？"}, timeout=30).json()
    assert r["answerable"] is False and r["citations"] == [] and r["suggestions"]


@pytest.mark.parametrize(
    "payload", [{}, {"question": 3}, {"question": "x" * 20_001}, {"question": "x", "history": "y"}]
)
def test_bad_requests_are_422_not_500(base_url: str, payload: dict) -> None:
    """Malformed bodies get a 422 with the reason."""
    assert httpx.post(f"{base_url}/api/ask", json=payload, timeout=30).status_code == 422


def test_documents_and_clauses(base_url: str) -> None:
    """GET /api/documents lists the corpus; GET /api/clauses/{id} returns a clause; unknown ids are 404."""
    docs = httpx.get(f"{base_url}/api/documents").json()
    assert {d["region"] for d in docs} == {"广东省", "江苏省", "深圳市"}
    js = next(d for d in docs if d["region"] == "江苏省")
    assert js["doc_number"] == "苏科高发〔2020〕120号" and js["issue_date"] == "2020-04-26"
    answer = httpx.post(f"{base_url}/api/ask", json={"question": "江苏有哪些文化产业基金可以用？"}, timeout=30).json()
    clause_id = answer["citations"][0]["clause_id"]
    clause = httpx.get(f"{base_url}/api/clauses/{clause_id}").json()
    assert clause["label"] == "附件 四、（二）" and clause["document"]["doc_id"] == js["doc_id"]
    assert httpx.get(f"{base_url}/api/clauses/nope").status_code == 404


def test_documents_in_pages(base_url: str) -> None:
    """GET /api/documents pages with offset and limit; X-Total-Count is the total whatever the page."""
    full = httpx.get(f"{base_url}/api/documents")
    assert full.headers["x-total-count"] == "3" and len(full.json()) == 3
    ids = [d["doc_id"] for d in full.json()]
    pages = [httpx.get(f"{base_url}/api/documents", params={"offset": o, "limit": 2}) for o in (0, 2, 4)]
    assert [[d["doc_id"] for d in p.json()] for p in pages] == [ids[:2], ids[2:], []]
    assert {p.headers["x-total-count"] for p in pages} == {"3"}
    gd = httpx.get(f"{base_url}/api/documents", params={"region": "广东省"})
    # A province lists its cities' documents too, as the /api/ask region filter does.
    assert {d["region"] for d in gd.json()} == {"广东省", "深圳市"} and gd.headers["x-total-count"] == "2"
    none = httpx.get(f"{base_url}/api/documents", params={"region": "上海市"})
    assert none.json() == [] and none.headers["x-total-count"] == "0"


@pytest.mark.parametrize("params", [{"limit": 1001}, {"limit": 0}, {"offset": -1}, {"limit": "many"}])
def test_documents_page_out_of_range_is_422(base_url: str, params: dict) -> None:
    """A page size over the cap, or a negative offset, is a 422 that says what is allowed."""
    r = httpx.get(f"{base_url}/api/documents", params=params)
    assert r.status_code == 422
    if params == {"limit": 1001}:
        assert r.json()["detail"].startswith("limit=1001 超过上限 1000；请分页读取")


def test_healthz(base_url: str) -> None:
    """GET /healthz says ready and what is served."""
    h = httpx.get(f"{base_url}/healthz").json()
    assert h["status"] == "ok" and h["documents"] == 3 and h["clauses"] > 50


def test_openapi_schema_is_valid(base_url: str) -> None:
    """/openapi.json is a valid OpenAPI document describing the API's paths."""
    from openapi_spec_validator import validate

    spec = httpx.get(f"{base_url}/openapi.json").json()
    validate(spec)
    assert {"/api/ask", "/api/documents", "/api/clauses/{clause_id}", "/healthz", "/v1/chat/completions"} <= set(
        spec["paths"])
    assert "AskResponse" in spec["components"]["schemas"]


def test_openai_client_chat(base_url: str) -> None:
    """The official openai client gets a cited answer; citations are also in an extra field."""
    from openai import OpenAI

    client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["policy-qa"]
    reply = client.chat.completions.create(
        model="policy-qa",
        messages=[{"role": "system", "content": "你是助手"},
                  {"role": "user", "content": "江苏有哪些文化产业基金可以用？"},
                  {"role": "assistant", "content": "……"}, {"role": "user", "content": "那深圳呢？"}],
    )
    text = reply.choices[0].message.content or ""
    assert "依据" in text and "江苏省《" not in text
    citations = (reply.model_extra or {})["citations"]
    assert citations and all(not c["doc_id"].startswith("jiangsu") for c in citations)


def test_openai_client_streaming(base_url: str) -> None:
    """Streaming over SSE assembles the same verified answer, with citations on the last chunk."""
    from openai import OpenAI

    client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="policy-qa", stream=True, messages=[{"role": "user", "content": "江苏有哪些文化产业基金可以用？"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert len(chunks) > 3 and "紫金文化产业基金" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["citations"][0]["clause"] == "附件 四、（二）"


def test_token_is_required_when_configured(guarded_url: str) -> None:
    """With QA_API_TOKEN set, /api and /v1 need the bearer token; /healthz does not."""
    question = {"question": "江苏有哪些文化产业基金可以用？"}
    assert httpx.post(f"{guarded_url}/api/ask", json=question, timeout=30).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.post(f"{guarded_url}/api/ask", json=question, headers=wrong, timeout=30).status_code == 401
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(f"{guarded_url}/api/ask", json=question, headers=good, timeout=30).status_code == 200
    assert httpx.get(f"{guarded_url}/v1/models").status_code == 401
    assert httpx.get(f"{guarded_url}/healthz").status_code == 200


def test_cors_allows_only_the_configured_origin(guarded_url: str) -> None:
    """A preflight from the configured origin is allowed; another origin gets no CORS grant."""
    pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    ok = httpx.options(f"{guarded_url}/api/ask", headers={"Origin": "https://gov.example.cn", **pre})
    assert ok.headers.get("access-control-allow-origin") == "https://gov.example.cn"
    bad = httpx.options(f"{guarded_url}/api/ask", headers={"Origin": "https://evil.example.com", **pre})
    assert "access-control-allow-origin" not in bad.headers


def test_body_over_the_cap_is_413(guarded_url: str) -> None:
    """A body larger than QA_MAX_REQUEST_BYTES is refused before it is read."""
    r = httpx.post(f"{guarded_url}/api/ask", json={"question": "江" * 3000},
                   headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert r.status_code == 413 and "超过上限" in r.json()["detail"]


def test_while_loading_the_api_says_so(bundled_index: Path) -> None:
    """Before the index is open, /healthz reports loading and questions get 503 with Retry-After."""
    from qa.service import Service

    settings = Settings(corpus_dir=CORPUS, index_dir=bundled_index)
    with serve_http(create_app(settings, Service(settings))) as url:
        assert httpx.get(f"{url}/healthz").json()["status"] == "loading"
        r = httpx.post(f"{url}/api/ask", json={"question": "江苏有哪些文化产业基金可以用？"})
        assert r.status_code == 503 and r.headers["retry-after"] == "5"


def _properties(spec: dict, schema: dict) -> set[str]:
    """Return the property names of a schema, following a $ref (or an array's items) into the components."""
    schema = schema.get("items", schema)
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return set(schema["properties"])


def test_schema_describes_exactly_the_records(base_url: str) -> None:
    """The OpenAPI document describes every key of the records the routes return and no other: the schemas are
    the records' own JSON forms, not a second declaration that can drift."""
    spec = httpx.get(f"{base_url}/openapi.json").json()
    body = httpx.post(f"{base_url}/api/ask", json={"question": "江苏有哪些文化产业基金可以用？"}, timeout=30).json()
    answer = spec["components"]["schemas"]["AskResponse"]
    assert set(answer["properties"]) == set(body)
    assert _properties(spec, answer["properties"]["citations"]) == set(body["citations"][0])
    assert _properties(spec, answer["properties"]["retrieved"]) == set(body["retrieved"][0])
    rows = spec["paths"]["/api/measures"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert _properties(spec, rows) == set(httpx.get(f"{base_url}/api/measures").json()[0])
