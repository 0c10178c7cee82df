"""Channels and stores around the assistant: the HTTP app (REST, OpenAI, WeChat, admin), the loader that opens
the index in the background, and the SQLite stores for conversations, feedback and the question log."""

from qa.server.app import create_app
from qa.server.loader import AssistantLoader

__all__ = ["AssistantLoader", "create_app"]
