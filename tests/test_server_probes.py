"""Issue 24: the server probed as an attacker, a hostile document and a full disk would, over real HTTP on a
lexical-only index (no embedder: cheap to build and open). Each test names the defect it guards."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import xmltodict
from fastapi import FastAPI
from pydantic import SecretStr

from qa.server.app import _wechat_routes, create_app
from qa.server.chat_bridge import ChatBridge
from qa.server.conversations import ConversationStore
from qa.server.loader import AssistantLoader
from qa.server.replay import ReplayGuard
from qa.server.wechat import OfficialAccount
from qa.settings import Settings
from tests.conftest import CORPUS, ready_loader, serve_http
from tests.test_wechat import (
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


@pytest.fixture(scope="module")
def lexical_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return an index of the bundled corpus built lexical-only."""
    from index.build import build_index
    from index.embedding import load_embeddings

    folder = tmp_path_factory.mktemp("lexical-index")
    settings = Settings(corpus_dir=CORPUS, index_dir=folder, embedding_backend="none")
    build_index(settings.build_config, load_embeddings(settings.embedder_config), progress=False)
    return folder


@pytest.fixture(scope="module")
def settings(lexical_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Return settings with both chat channels on (plaintext WeChat, WeCom) over the lexical index."""
    folder = tmp_path_factory.mktemp("probes")
    return Settings(corpus_dir=CORPUS, index_dir=lexical_index, embedding_backend="none", log_questions=False,
                    conversations_db=folder / "c.sqlite", feedback_db=folder / "f.sqlite",
                    wechat_token=SecretStr(TOKEN), wecom_token=SecretStr(WECOM_TOKEN),
                    wecom_aes_key=SecretStr(WECOM_AES_KEY), wecom_corp_id=CORP_ID)


@pytest.fixture(scope="module")
def loader(settings: Settings) -> AssistantLoader:
    """Return a loader that has opened the lexical index."""
    return ready_loader(settings)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def url(settings: Settings, loader: AssistantLoader) -> Iterator[str]:
    """Serve the API and the chat callbacks (no page)."""
    with serve_http(create_app(settings, loader)) as base:
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


def _full(store: ConversationStore | ReplayGuard) -> None:
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
def full_disk_wechat(settings: Settings, loader: AssistantLoader, tmp_path: Path) -> Iterator[str]:
    """Serve /wechat (plaintext mode, no push) over a conversation store and replay guard that cannot write."""
    db = tmp_path / "full.sqlite"
    store = ConversationStore(db, settings.conversation_ttl)
    replay = ReplayGuard(db, settings.signature_max_age)
    _full(store)
    _full(replay)
    with pytest.raises(sqlite3.OperationalError, match="full"), store.write() as conn:
        conn.execute("INSERT INTO questions VALUES ('u', 1e12, '能写入吗？')")
    app = FastAPI()
    channel = OfficialAccount(settings, ChatBridge(loader, store, settings, channel="wechat"), replay)
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
