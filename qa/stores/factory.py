"""Which database keeps the stores: PostgreSQL when QA_DATABASE_URL is set (every host shares them), else the
SQLite files of QA_CONVERSATIONS_DB, QA_FEEDBACK_DB and QA_LOG_DB (one box). The one place the choice is made."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from qa.settings import Settings
from qa.stores.base import Conversations, Feedback, Nonces, Questions
from qa.stores.pseudonyms import salt_for

if TYPE_CHECKING:
    from qa.stores.postgres import StoreDatabase


@functools.cache
def _database(url: str) -> StoreDatabase:
    """Return the stores' database at `url`: one pool per process, shared by its four stores."""
    from qa.stores.postgres import SCHEMA, StoreDatabase

    return StoreDatabase(url, SCHEMA)


def where(settings: Settings, path: Path) -> str:
    """Return where a store's rows are kept, for the operator's messages: the database (never its URL, which holds
    a password) or the SQLite file."""
    if not settings.database_url.get_secret_value():
        return str(path)
    from qa.stores.postgres import SCHEMA

    return f"PostgreSQL（{SCHEMA}）"


def open_conversations(settings: Settings) -> Conversations:
    """Return the chat channels' conversation store."""
    url = settings.database_url.get_secret_value()
    if url:
        from qa.stores.postgres import PostgresConversations

        configured = settings.log_salt.get_secret_value().encode()
        return PostgresConversations(_database(url), settings.conversation_ttl, configured or None)
    from qa.stores.conversations import ConversationStore

    return ConversationStore(settings.conversations_db, settings.conversation_ttl,
                             salt_for(settings.log_salt, settings.conversations_db))


def open_nonces(settings: Settings) -> Nonces:
    """Return the seen (timestamp, nonce) pairs of signed callbacks (the conversations' database)."""
    url = settings.database_url.get_secret_value()
    if url:
        from qa.stores.postgres import PostgresNonces

        return PostgresNonces(_database(url))
    from qa.stores.nonces import NonceStore

    return NonceStore(settings.conversations_db)


def open_feedback(settings: Settings) -> Feedback:
    """Return the feedback store."""
    url = settings.database_url.get_secret_value()
    if url:
        from qa.stores.postgres import PostgresFeedback

        return PostgresFeedback(_database(url))
    from qa.stores.feedback import FeedbackStore

    return FeedbackStore(settings.feedback_db)


def open_questions(settings: Settings) -> Questions:
    """Return the question log."""
    url = settings.database_url.get_secret_value()
    if url:
        from qa.stores.postgres import PostgresQuestions

        return PostgresQuestions(_database(url), settings)
    from qa.stores.querylog import QuestionLog

    return QuestionLog(settings)
