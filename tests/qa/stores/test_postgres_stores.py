"""The stores in PostgreSQL (QA_DATABASE_URL), on the real test server (tests/postgres.py): every contract of
test_store_contract.py, two hosts sharing one user's state, the pseudonym key kept in the database, and a lost
server answered like SQLite's full disk."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from qa.service import Service
from qa.settings import Settings
from qa.stores.base import Conversations, Feedback, Nonces, Questions
from qa.stores.conversations import ConversationStore
from qa.stores.factory import open_conversations, open_feedback, open_nonces, open_questions
from qa.stores.postgres import (
    SCHEMA,
    PostgresConversations,
    PostgresFeedback,
    PostgresNonces,
    PostgresQuestions,
    StoreDatabase,
)
from qa.surfaces.errors import CallbackRejected
from qa.surfaces.wechat.replay import ReplayGuard
from tests.conftest import ROOT
from tests.postgres import HOW_TO_GET
from tests.qa.stores.test_store_contract import (
    ANSWER,
    OPENID,
    ConversationsContract,
    FeedbackContract,
    NoncesContract,
    QuestionsContract,
)

# Every test here talks to a PostgreSQL server the session starts as a child process (tests/postgres.py).
pytestmark = pytest.mark.subprocess

psycopg = pytest.importorskip("psycopg", reason=f"缺少 psycopg：{HOW_TO_GET}")


@pytest.fixture(scope="module")
def stores_url(postgres_url: str) -> str:
    """Return a database of its own on the test server: the outage test ends every connection to it."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS stores_test")
        conn.execute("CREATE DATABASE stores_test")
    return postgres_url.rsplit("/", 1)[0] + "/stores_test"


@pytest.fixture
def schema(stores_url: str) -> Iterator[str]:
    """Return a fresh schema name for one test, dropped after it."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(stores_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture
def db(stores_url: str, schema: str) -> Iterator[StoreDatabase]:
    opened = StoreDatabase(stores_url, schema, size=2)
    yield opened
    opened.close()


class TestPostgresConversations(ConversationsContract):
    @pytest.fixture
    def store(self, db: StoreDatabase) -> Conversations:
        return PostgresConversations(db, ttl=3600)


class TestPostgresFeedback(FeedbackContract):
    @pytest.fixture
    def store(self, db: StoreDatabase) -> Feedback:
        return PostgresFeedback(db)


class TestPostgresQuestions(QuestionsContract):
    @pytest.fixture
    def store(self, db: StoreDatabase) -> Questions:
        return PostgresQuestions(db, Settings(log_hash_users=True))


class TestPostgresNonces(NoncesContract):
    @pytest.fixture
    def store(self, db: StoreDatabase) -> Nonces:
        return PostgresNonces(db)


def test_two_hosts_serve_the_same_user(stores_url: str, schema: str) -> None:
    """Two app hosts (two pools, two sets of stores) on one database: what one keeps, the other reads."""
    first, second = StoreDatabase(stores_url, schema, size=1), StoreDatabase(stores_url, schema, size=1)
    try:
        a, b = PostgresConversations(first, ttl=3600), PostgresConversations(second, ttl=3600)
        assert a.key(OPENID) == b.key(OPENID)  # one pseudonym key, kept in the database
        a.add_question(OPENID, "江苏的基金？")
        a.set_pages(OPENID, ["第二页", "第三页"])
        a.save_reply("wechat", OPENID, "1001", "回复")
        assert b.history(OPENID) == ("江苏的基金？",)
        assert b.next_page(OPENID) == ("第二页", 1) and a.next_page(OPENID) == ("第三页", 0)
        assert b.reply_for("wechat", OPENID, "1001") == "回复"
        # A callback seen by one host is a replay on the other when its payload differs.
        assert PostgresNonces(first).first_digest("wechat", "1700000000", "n1", "a", keep=600) == "a"
        with pytest.raises(CallbackRejected):
            ReplayGuard(PostgresNonces(second), 300).check("wechat", "1700000000", "n1", "another payload")
        row = PostgresFeedback(first).record(ANSWER, "up")
        assert [r.id for r in PostgresFeedback(second).all()] == [row]
        PostgresQuestions(first, Settings()).record("wechat", OPENID, ANSWER, 0.5)
        assert [q.user for q in PostgresQuestions(second, Settings()).rows()] == [
            PostgresQuestions(first, Settings()).user_id(OPENID)]
    finally:
        first.close()
        second.close()


def test_the_pseudonym_key_is_in_the_database_not_a_file(db: StoreDatabase, schema: str, stores_url: str,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = PostgresConversations(db, ttl=3600)
    store.add_question(OPENID, "江苏的基金？")
    with psycopg.connect(stores_url) as conn:
        ((user,),) = conn.execute(f"SELECT user_id FROM {schema}.conversation_questions").fetchall()
        keys = dict(conn.execute(f"SELECT name, value FROM {schema}.keys").fetchall())
    assert OPENID not in user and len(keys["conversations"]) == 64
    assert list(tmp_path.iterdir()) == []  # no key file beside anything
    # QA_LOG_SALT, when set, is the key, as with SQLite.
    assert PostgresConversations(db, ttl=3600, salt=b"configured").key(OPENID) == ConversationStore.key(
        ConversationStore(tmp_path / "c.sqlite", ttl=3600, salt=b"configured"), OPENID)


def test_a_lost_server_is_an_outage_not_an_error(db: StoreDatabase, postgres_url: str, stores_url: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """The server ends every connection and takes no new ones (a restart, a failover): chat answers go on as for a
    new conversation, a callback is checked against this process's memory (not refused), each logged once; once
    the server is back, the pool reconnects."""
    conversations, nonces = PostgresConversations(db, ttl=3600), PostgresNonces(db)
    conversations.add_question(OPENID, "江苏的基金？")
    guard = ReplayGuard(nonces, 300)
    service = Service(Settings(database_url=stores_url), questions=PostgresQuestions(db, Settings()))  # type: ignore[arg-type]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("ALTER DATABASE stores_test ALLOW_CONNECTIONS false")
        try:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'stores_test'")
            with caplog.at_level(logging.WARNING, logger="qa.stores.outage"):
                assert conversations.history(OPENID) == ()
                guard.check("wechat", "1700000000", "n1", "payload")
                with pytest.raises(CallbackRejected):  # remembered in this process meanwhile
                    guard.check("wechat", "1700000000", "n1", "another payload")
                service._log("wechat", OPENID, ANSWER, 0.5)  # the answer is given; the log is out
        finally:
            admin.execute("ALTER DATABASE stores_test ALLOW_CONNECTIONS true")
    logged = [r.getMessage() for r in caplog.records if r.name == "qa.stores.outage"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback per question
    assert len(logged) == 3 and all("PostgreSQL" in m and "QA_DATABASE_URL" in m for m in logged)
    db.pool.wait(timeout=60)  # the pool retries on its own, backing off while the server was away
    assert conversations.history(OPENID) == ("江苏的基金？",)


def test_the_url_chooses_the_stores(stores_url: str, tmp_path: Path) -> None:
    local = Settings(conversations_db=tmp_path / "c.sqlite", feedback_db=tmp_path / "f.sqlite",
                     log_db=tmp_path / "q.sqlite")
    shared = local.model_copy(update={"database_url": SecretStr(stores_url)})
    assert isinstance(open_conversations(local), ConversationStore)
    assert not isinstance(open_feedback(local), PostgresFeedback)
    assert not isinstance(open_questions(local), PostgresQuestions)
    assert not isinstance(open_nonces(local), PostgresNonces)
    assert isinstance(open_conversations(shared), PostgresConversations)
    assert isinstance(open_feedback(shared), PostgresFeedback)
    assert isinstance(open_questions(shared), PostgresQuestions)
    assert isinstance(open_nonces(shared), PostgresNonces)
    assert {p.name for p in tmp_path.iterdir()} >= {"c.sqlite", "f.sqlite", "q.sqlite"}


def test_the_feedback_command_reads_the_database(stores_url: str, tmp_path: Path) -> None:
    """`policy-qa feedback` with QA_DATABASE_URL lists the rows every host wrote; --db still names a file."""
    shared = StoreDatabase(stores_url)
    try:
        PostgresFeedback(shared).record(ANSWER, "down", "数据库里的反馈")
        env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
        env.update(PYTHONIOENCODING="utf-8", QA_DATABASE_URL=stores_url)

        def cli(*args: object) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "qa", "feedback", *map(str, args)], cwd=ROOT, env=env,
                                  capture_output=True, text=True, encoding="utf-8", timeout=60, check=False)

        listing = cli("list")
        assert listing.returncode == 0, listing.stderr
        assert "数据库里的反馈" in listing.stdout
        missing = cli("list", "--db", tmp_path / "none.sqlite")
        assert missing.returncode == 2 and "找不到反馈数据库" in missing.stderr
    finally:
        with psycopg.connect(stores_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        shared.close()
