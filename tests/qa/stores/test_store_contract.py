"""What every store promises the service and the surfaces (qa/stores/base.py), checked on every implementation:
each implementation's test class inherits the contract and provides the `store` fixture."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from qa.render.plain import plain_text
from qa.settings import Settings
from qa.stores.base import COLUMNS, MAX_COMMENT_CHARS, Conversations, Feedback, Nonces, Questions
from qa.stores.conversations import ConversationStore
from qa.stores.errors import FeedbackError
from qa.stores.feedback import FeedbackStore
from qa.stores.nonces import NonceStore
from qa.stores.querylog import QuestionLog
from tests.qa.stores.test_feedback import PLAIN

OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
# The hand-built answer the feedback tests store.
ANSWER = PLAIN


class ConversationsContract:
    """A chat channel's per-user state."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Conversations:
        raise NotImplementedError

    def test_is_a_conversation_store(self, store: Conversations) -> None:
        assert isinstance(store, Conversations)

    def test_questions_come_back_oldest_first_per_user(self, store: Conversations) -> None:
        assert store.history(OPENID) == ()
        for question in ("江苏的基金？", "深圳呢？", "广东呢？"):
            store.add_question(OPENID, question)
        store.add_question("someone-else", "别人的问题")
        assert store.history(OPENID) == ("江苏的基金？", "深圳呢？", "广东呢？")
        assert store.history("someone-else") == ("别人的问题",)

    def test_pages_are_served_in_order_then_none(self, store: Conversations) -> None:
        store.set_pages(OPENID, ["第二页", "第三页"])
        store.push_front(OPENID, "迟到的第一页")
        assert [store.next_page(OPENID) for _ in range(4)] == [("迟到的第一页", 2), ("第二页", 1), ("第三页", 0),
                                                               (None, 0)]
        store.set_pages(OPENID, ["第二页"])
        store.set_pages(OPENID, [])  # a short reply after a long one: no "更多" left from the long one
        assert store.next_page(OPENID) == (None, 0)

    def test_reset_forgets_questions_and_pages(self, store: Conversations) -> None:
        store.add_question(OPENID, "江苏的基金？")
        store.set_pages(OPENID, ["第二页"])
        store.reset(OPENID)
        assert store.history(OPENID) == () and store.next_page(OPENID) == (None, 0)

    def test_replies_are_kept_by_channel_user_and_message(self, store: Conversations) -> None:
        assert store.reply_for("wechat", OPENID, "1001") is None
        store.save_reply("wechat", OPENID, "1001", "回复")
        assert store.reply_for("wechat", OPENID, "1001") == "回复"
        # MsgIds are not unique across accounts or channels: another's message id gets its own answer.
        assert store.reply_for("wecom", OPENID, "1001") is None
        assert store.reply_for("wechat", "someone-else", "1001") is None


class FeedbackContract:
    """Ratings of answers, one row per rated answer."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Feedback:
        raise NotImplementedError

    def test_is_a_feedback_store(self, store: Feedback) -> None:
        assert isinstance(store, Feedback)

    def test_rows_come_back_newest_first_with_the_answer(self, store: Feedback) -> None:
        first = store.record(ANSWER, "up", "很有用", session="s1")
        second = store.record(ANSWER, "down")
        assert first != second and store.count() == 2
        rows = store.all()
        assert [r.id for r in rows] == [second, first] and set(rows[0].to_json()) == set(COLUMNS)
        assert rows[1].rating == "up" and rows[1].comment == "很有用" and rows[1].session == "s1"
        assert rows[1].question == ANSWER.question and rows[1].answer == plain_text(ANSWER)
        assert rows[1].answerable is True and list(rows[1].citations) == [c.to_json() for c in ANSWER.citations]
        assert [r.id for r in store.all(limit=1)] == [second]

    def test_a_changed_rating_keeps_its_row(self, store: Feedback) -> None:
        row = store.record(ANSWER, "up")
        store.update(row, "down", "其实没说清楚")
        (only,) = store.all()
        assert (only.id, only.rating, only.comment) == (row, "down", "其实没说清楚")
        with pytest.raises(FeedbackError, match=str(row + 1)):
            store.update(row + 1, "up")

    @pytest.mark.parametrize("rating", ["", "UP", "meh"])
    def test_an_unknown_rating_is_refused(self, store: Feedback, rating: str) -> None:
        with pytest.raises(FeedbackError, match="up"):
            store.record(ANSWER, rating)
        assert store.count() == 0

    def test_a_long_comment_is_cut(self, store: Feedback) -> None:
        store.record(ANSWER, "up", "长" * (MAX_COMMENT_CHARS + 10))
        assert len(store.all()[0].comment) == MAX_COMMENT_CHARS

    def test_exports_are_the_rows(self, store: Feedback) -> None:
        store.record(ANSWER, "down", "=HYPERLINK(\"http://x\")")
        lines, table = io.StringIO(), io.StringIO()
        assert store.export("jsonl", lines) == 1 and store.export("csv", table) == 1
        assert [json.loads(line) for line in lines.getvalue().splitlines()] == [r.to_json() for r in store.all()]
        (row,) = csv.DictReader(io.StringIO(table.getvalue(), newline=""))
        assert row["comment"].startswith("'=")  # shown as text by a spreadsheet, never run


class QuestionsContract:
    """The question log for quality review."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Questions:
        raise NotImplementedError

    def test_is_a_question_log(self, store: Questions) -> None:
        assert isinstance(store, Questions)

    def test_questions_come_back_newest_first_without_the_openid(self, store: Questions) -> None:
        store.record("wechat", OPENID, ANSWER, 0.25)
        store.record("api", "", ANSWER, 1.0)
        rows = store.rows()
        assert [r.channel for r in rows] == ["api", "wechat"]
        wechat = rows[1]
        assert (wechat.question, wechat.query, wechat.ms) == (ANSWER.question, ANSWER.query, 250)
        assert wechat.answerable and json.loads(wechat.clauses) == ["SZ-1"]
        assert wechat.user and OPENID not in wechat.user  # keyed pseudonym (QA_LOG_HASH_USERS)


class NoncesContract:
    """The (timestamp, nonce) pairs of accepted signed callbacks."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Nonces:
        raise NotImplementedError

    def test_is_a_nonce_store(self, store: Nonces) -> None:
        assert isinstance(store, Nonces) and store.where

    def test_a_pair_keeps_its_first_payload(self, store: Nonces) -> None:
        assert store.first_digest("wechat", "1700000000", "n1", "a", keep=600) == "a"
        assert store.first_digest("wechat", "1700000000", "n1", "a", keep=600) == "a"
        assert store.first_digest("wechat", "1700000000", "n1", "b", keep=600) == "a"  # a replay
        assert store.first_digest("wecom", "1700000000", "n1", "b", keep=600) == "b"
        assert store.first_digest("wechat", "1700000000", "n2", "b", keep=600) == "b"


class TestSqliteConversations(ConversationsContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Conversations:
        return ConversationStore(tmp_path / "conversations.sqlite", ttl=3600)


class TestSqliteFeedback(FeedbackContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Feedback:
        return FeedbackStore(tmp_path / "feedback.sqlite")


class TestSqliteQuestions(QuestionsContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Questions:
        return QuestionLog(Settings(log_db=tmp_path / "questions.sqlite", log_hash_users=True))


class TestSqliteNonces(NoncesContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Nonces:
        return NonceStore(tmp_path / "conversations.sqlite")
