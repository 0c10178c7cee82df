"""Issue 24: the server probed as an attacker, a hostile document and a full disk would, over real HTTP on a
lexical-only index (no embedder: cheap to build and open). Each test names the defect it guards."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import xmltodict
from fastapi import FastAPI
from pydantic import SecretStr

from qa.service import Service
from qa.settings import Settings
from qa.stores.conversations import ConversationStore
from qa.stores.nonces import NonceStore
from qa.surfaces.http.app import _wechat_routes, create_app
from qa.surfaces.wechat.bridge import ChatBridge
from qa.surfaces.wechat.protocol import OfficialAccount
from qa.surfaces.wechat.replay import ReplayGuard
from tests.conftest import CORPUS, ready_service, serve_http
from tests.qa.surfaces.test_wechat import (
    CORP_ID,
    JIANGSU_FUNDS,
    TOKEN,
    WECOM_AES_KEY,
    WECOM_TOKEN,
    _sha1_sorted,
    _signed,
    _text_xml,
    _user,
)

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def settings(lexical_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Return settings with both chat channels on (plaintext WeChat, WeCom) over the lexical index."""
    folder = tmp_path_factory.mktemp("probes")
    return Settings(corpus_dir=CORPUS, index_dir=lexical_index, embedding_backend="none", log_questions=False,
                    conversations_db=folder / "c.sqlite", feedback_db=folder / "f.sqlite",
                    wechat_token=SecretStr(TOKEN), wecom_token=SecretStr(WECOM_TOKEN),
                    wecom_aes_key=SecretStr(WECOM_AES_KEY), wecom_corp_id=CORP_ID)


@pytest.fixture(scope="module")
def service(settings: Settings) -> Service:
    """Return a service that has opened the lexical index."""
    return ready_service(settings)


@pytest.fixture(scope="module")
def url(settings: Settings, service: Service) -> Iterator[str]:
    """Serve the API and the chat callbacks (no page)."""
    with serve_http(create_app(settings, service)) as base:
        yield base


# --- 8: a timestamp too large for a float -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/wechat", "/wecom"])
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("timestamp", ["9" * 400, "-" + "9" * 400, "1" * 4000])
def test_huge_timestamp_is_403(url: str, path: str, method: str, timestamp: str) -> None:
    """A 400-digit timestamp was an unauthenticated 500 (OverflowError in time.time() - int(ts)) before any
    signature was checked; it is a bad timestamp like any other."""
    nonce = "n0nce"
    params = {"signature": _sha1_sorted(TOKEN, timestamp, nonce), "msg_signature": "0" * 40, "timestamp": timestamp,
              "nonce": nonce, "echostr": "x"}
    response = httpx.request(method, url + path, params=params, content=b"<xml/>", timeout=30)
    assert response.status_code == 403, response.text
    assert "时间戳" in response.json()["detail"]


# --- 11: the conversation store's disk is full ------------------------------------------------------------------


def _full(store: ConversationStore | NonceStore) -> None:
    """Make every later write of the store fail as on a full disk: SQLite's own SQLITE_FULL, not a stand-in.

    The file may not grow (max_page_count), and every table is filled to its last free byte, so no insert fits."""
    conn = store._conn
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")
    tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    filled = 0
    for table in tables:
        width = len(conn.execute(f"SELECT * FROM {table} LIMIT 0").description)
        for size in (1000, 100, 10, 1):
            while True:
                filled += 1
                # Text in every column, `at` included: text sorts after any number, so no expiry deletes it.
                row = tuple(f"{filled:x}{'x' * size}" for _ in range(width))
                try:
                    with store.write() as c:
                        c.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * width)})", row)
                except sqlite3.OperationalError as exc:
                    assert "full" in str(exc)
                    break


@pytest.fixture
def full_disk_wechat(settings: Settings, service: Service, tmp_path: Path) -> Iterator[str]:
    """Serve /wechat (plaintext mode, no push) over a conversation store and replay guard that cannot write."""
    db = tmp_path / "full.sqlite"
    store = ConversationStore(db, settings.conversation_ttl)
    nonces = NonceStore(db)
    replay = ReplayGuard(nonces, settings.signature_max_age)
    _full(store)
    _full(nonces)
    with pytest.raises(sqlite3.OperationalError, match="full"), store.write() as conn:
        conn.execute("INSERT INTO questions VALUES ('u', 1e12, '能写入吗？')")
    app = FastAPI()
    channel = OfficialAccount(settings, ChatBridge(service, store, settings, channel="wechat"), replay)
    _wechat_routes(app, "/wechat", channel)
    with serve_http(app) as base:
        yield base


def test_full_conversation_store_still_answers(full_disk_wechat: str, caplog: pytest.LogCaptureFixture) -> None:
    """Disk full: each message is still answered (without the stored context), and the operator is told once.
    Was a 500 for every WeChat message while the API and page kept working."""
    caplog.set_level(logging.WARNING)
    user = _user()
    for question in (JIANGSU_FUNDS, "广东的保障措施有哪些？", "更多", "新对话"):
        response = httpx.post(full_disk_wechat + "/wechat", params=_signed(),
                              content=_text_xml(user, question).encode(), timeout=60)
        assert response.status_code == 200, response.text
        reply = xmltodict.parse(response.text)["xml"]["Content"]
        assert reply and "抱歉" not in reply, reply
        if question == JIANGSU_FUNDS:
            assert "紫金文化产业基金" in reply
    warnings = [r for r in caplog.records if "会话数据库" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].exc_info is None, [r.getMessage() for r in caplog.records]


def test_full_replay_store_still_refuses_a_replay(full_disk_wechat: str) -> None:
    """While the replay guard cannot write its file, the pairs it has seen are kept in memory: a captured query
    string with another body is still refused."""
    params = _signed()
    first = httpx.post(full_disk_wechat + "/wechat", params=params, content=_text_xml(_user(), "新对话").encode())
    assert first.status_code == 200, first.text
    replay = httpx.post(full_disk_wechat + "/wechat", params=params, content=_text_xml(_user(), "新对话").encode())
    assert replay.status_code == 403 and "重放" in replay.json()["detail"]


# --- 9: the page's event stream, asked for a session that does not exist ------------------------------------------


class Collect(logging.Handler):
    """Keep every record logged while attached, formatted as the server's log would show it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter("%(levelname)s %(name)s %(message)s").format(record))


@pytest.fixture
def server_log() -> Iterator[Collect]:
    """Collect what the server logs at INFO and above (uvicorn's loggers do not propagate to the root)."""
    collect = Collect()
    collect.setLevel(logging.INFO)
    loggers = [logging.getLogger(), logging.getLogger("uvicorn"), logging.getLogger("uvicorn.error")]
    for logger in loggers:
        logger.addHandler(collect)
    yield collect
    for logger in loggers:
        logger.removeHandler(collect)


def _serve_page(settings: Settings) -> Iterator[str]:
    """Serve the page and the API; wait until the index has opened or failed to."""
    import app

    with serve_http(app.create_server(settings)) as base:
        for _ in range(600):
            if httpx.get(base + "/healthz").json()["status"] != "loading":
                break
            time.sleep(0.1)
        yield base


@pytest.fixture(scope="module")
def page(settings: Settings) -> Iterator[str]:
    """Serve the page and the API over the lexical index."""
    yield from _serve_page(settings)


def test_unknown_queue_session_logs_no_traceback(page: str, server_log: Collect) -> None:
    """GET /gradio_api/queue/data is public: each request for an unknown session logged an 8 KB "Exception in ASGI
    application" traceback and broke off the response. Now the stream says so and ends cleanly, logging nothing
    above DEBUG."""
    for _ in range(3):
        with httpx.stream("GET", page + "/gradio_api/queue/data", params={"session_hash": "unknown"},
                          timeout=30) as response:
            body = b"".join(response.iter_bytes())  # an unfinished chunked body raises RemoteProtocolError
        assert response.status_code == 200 and b"session_not_found" in body
    assert not server_log.lines, "\n".join(server_log.lines)[:3000]


# --- risk: server paths in public responses ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def broken(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Serve the page and the API over an index path that is a file, so the index cannot load."""
    folder = tmp_path_factory.mktemp("broken-index")
    (folder / "not-a-folder").write_text("x", encoding="utf-8")
    bad = settings.model_copy(update={"index_dir": folder / "not-a-folder"})
    for base in _serve_page(bad):
        yield base, folder


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_failed_index_shows_no_server_path(broken: tuple[str, Path]) -> None:
    """/healthz, the 503 of /api/ask and the page showed the exception text of a failed load, server paths
    included; they now say what failed, the log keeps the full text."""
    base, folder = broken
    health = httpx.get(base + "/healthz")
    ask = httpx.post(base + "/api/ask", json={"question": JIANGSU_FUNDS})
    assert health.json()["status"] == "error" and ask.status_code == 503
    for shown in (health.text, ask.text, httpx.get(base + "/").text):
        assert str(folder) not in shown and "/tmp" not in shown, shown[:500]
    assert "索引加载失败" in health.json()["detail"] and "服务器日志" in health.json()["detail"]


def test_page_embeds_no_server_path(page: str, settings: Settings) -> None:
    """The page embeds the configuration /config answers (gated by the API token), so it is public: no server path
    (index, corpus, stores, Gradio's temp folder, the working directory) may be in it."""
    html = httpx.get(page + "/").text
    assert "window.gradio_config" in html
    paths = [settings.index_dir, settings.corpus_dir.resolve(), settings.conversations_db.parent, Path.cwd()]
    paths.append(Path(os.environ["GRADIO_TEMP_DIR"]))
    for path in paths:
        assert str(path) not in html, path


# --- risks: a hostile document's markup and citation look-alikes ----------------------------------------------------

HOSTILE_QUESTION = "宁波设立了甬江数字文化基金吗？"
HOSTILE = ("宁波市数字文化产业扶持办法\n一、资金支持\n"
           "（一）设立甬江数字文化基金<img src=x onerror=alert(1)>，申请请见[点此申请](javascript:alert(1))"
           "和![图](https://evil.example/t.png)。\n"
           "（二）甬江数字文化基金申请截止后【2】依据国务院《关于停止甬江数字文化基金的决定》，该基金已停止受理申请。\n"
           "二、保障措施\n加强组织领导，完善工作机制。\n")
MARKUP = ("<img", "onerror=alert(1)>", "](javascript:", "![", "[点此申请]")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[tuple[str, Service]]:
    """Serve the API over a lexical index of one hostile document: markup and a forged citation in its text."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "corpus").mkdir()
    (folder / "corpus" / "ningbo.txt").write_text(HOSTILE, encoding="utf-8")
    own = settings.model_copy(update={"corpus_dir": folder / "corpus", "index_dir": folder / "index",
                                      "conversations_db": folder / "c.sqlite"})
    service: Service = ready_service(own)
    with serve_http(create_app(own, service)) as base:
        yield base, service


def test_openai_answer_carries_no_markup(hostile: tuple[str, Service]) -> None:
    """/v1 passed the document's <img onerror> and [x](javascript:…) verbatim to clients that render Markdown or
    HTML; content and the quoted citation fields now show them as full-width look-alikes (＜img…, ［点此申请］)."""
    base, _ = hostile
    request = {"model": "policy-qa", "messages": [{"role": "user", "content": HOSTILE_QUESTION}]}
    reply = httpx.post(base + "/v1/chat/completions", json=request, timeout=60).json()
    content = reply["choices"][0]["message"]["content"]
    assert "甬江数字文化基金＜img src=x onerror=alert(1)＞" in content, content
    shown = [content, *(v for c in reply["citations"] for v in c.values() if isinstance(v, str))]
    assert reply["citations"] and not [s for s in shown if any(m in s for m in MARKUP)], shown
    streamed = httpx.post(base + "/v1/chat/completions", json={**request, "stream": True}, timeout=60).text
    assert "＜img" in streamed and not any(m in streamed for m in MARKUP)


def test_document_cannot_forge_a_citation_in_plain_text(hostile: tuple[str, Service]) -> None:
    """A document's "【2】依据国务院《…》" read like one of our citations in WeChat's plain text; in the plain
    renderers 【n】 is now ours alone, the document's brackets shown as 〔2〕."""
    import re

    from qa.render.plain import chat_text, plain_text

    _, service = hostile
    answer = service.ask("test", "", "甬江数字文化基金申请截止后怎么办？")
    quoted = [c for c in answer.citations if "国务院" in c.text]
    assert quoted, plain_text(answer)
    for text in (chat_text(answer), plain_text(answer)):
        assert "〔2〕依据国务院《关于停止甬江数字文化基金的决定》" in text, text
        # Every 【n】 left is one of ours: a number of a citation this answer has.
        assert {int(n) for n in re.findall(r"【(\d+)】", text)} <= set(range(1, len(answer.citations) + 1))
        assert "【2】依据国务院" not in text
