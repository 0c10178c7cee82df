"""What the stores keep about users: no openid in clear, a keyed hash even without QA_LOG_SALT, and nothing
past its TTL, whether or not the user writes again."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import stat
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from qa.settings import Settings
from qa.stores.conversations import ConversationStore
from qa.stores.querylog import QuestionLog
from qa.surfaces.http.app import create_app
from tests.conftest import ready_service, serve_http
from tests.qa.surfaces.test_wechat import JIANGSU_FUNDS, TOKEN, _settings, _signed, _text_xml, _user, stored_questions

OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"


def _bytes_of(db: Path) -> bytes:
    """Return the SQLite file with its write-ahead log: rows may sit in either."""
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


@pytest.mark.server
def test_openids_are_not_stored_in_clear(bundled_index: Path, tmp_path: Path) -> None:
    """A WeChat conversation over HTTP: the question, its reply and its pages are kept, under a pseudonym."""
    conversations, questions = tmp_path / "conversations.sqlite", tmp_path / "questions.sqlite"
    settings = _settings(index_dir=bundled_index, conversations_db=conversations, log_db=questions,
                         wechat_token=TOKEN, wechat_max_bytes=300)
    user = _user()
    with serve_http(create_app(settings, ready_service(settings))) as url:
        reply = httpx.post(f"{url}/wechat", params=_signed(), content=_text_xml(user, JIANGSU_FUNDS), timeout=30)
    assert reply.status_code == 200 and "更多" in reply.text
    assert stored_questions(conversations, user) == [JIANGSU_FUNDS]
    for db in (conversations, questions):
        assert user.encode() not in _bytes_of(db), db


def test_question_log_hash_is_keyed_without_a_configured_salt(tmp_path: Path) -> None:
    """Without QA_LOG_SALT the key used to be empty (an unkeyed hash anyone can recompute from an openid): now a
    random key is made once, kept beside the log (mode 0600) and shared by every process using it."""
    settings = Settings(log_db=tmp_path / "q.sqlite", log_hash_users=True)
    first, second = QuestionLog(settings), QuestionLog(settings)
    assert first.user_id(OPENID) == second.user_id(OPENID)
    assert first.user_id(OPENID) != hmac.new(b"", OPENID.encode(), hashlib.sha256).hexdigest()[:24]
    salt = tmp_path / "q.sqlite.salt"
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600 and len(salt.read_text().strip()) == 64
    configured = QuestionLog(settings.model_copy(update={"log_salt": SecretStr("configured-salt-value")}))
    assert configured.user_id(OPENID) != first.user_id(OPENID)


def test_conversations_of_silent_users_expire(tmp_path: Path) -> None:
    """Another user's write (or the next start) drops a silent user's expired questions, pages and replies."""
    db = tmp_path / "c.sqlite"
    store = ConversationStore(db, ttl=0.2)
    store.add_question("silent-user", "江苏的基金？")
    store.set_pages("silent-user", ["第二页"])
    store.save_reply("wechat", "silent-user", "1001", "回复")
    time.sleep(0.3)
    store.add_question("someone-else", "深圳呢？")

    def left() -> list[int]:
        with closing(sqlite3.connect(db)) as conn:
            return [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                    for t in ("questions", "pages", "message_replies")]

    assert left() == [1, 0, 0]
    time.sleep(0.3)
    ConversationStore(db, ttl=0.2)  # a server starting after a quiet night
    assert left() == [0, 0, 0]
